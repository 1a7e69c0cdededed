// Keeps docs/protocol.md and docs/metrics.md in step with the code: every op, error code,
// close code and metric must be documented, and the hex frame examples must decode to the
// values printed beside them.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { ABORTED } from '../../src/gateway/close.js';
import { Metrics } from '../../src/metrics.js';
import { decode } from '../../src/protocol/codec.js';
import { CloseCodes, Errors, type ErrorEntry } from '../../src/protocol/errors.js';
import { Op } from '../../src/protocol/ops.js';

// Compiled to dist/test/unit/, so the repository root is three levels up.
const protocol = readFileSync(fileURLToPath(new URL('../../../docs/protocol.md', import.meta.url)), 'utf8');
const metricsDoc = readFileSync(fileURLToPath(new URL('../../../docs/metrics.md', import.meta.url)), 'utf8');

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A table row that starts `| <code> | \`<reason>\` |`. */
function documentedRow(doc: string, entry: ErrorEntry): boolean {
  return new RegExp(`^\\|\\s*${entry.code}\\s*\\|\\s*\`${escape(entry.reason)}\`\\s*\\|`, 'm').test(doc);
}

t.test('docs - every error code is documented', async (t) => {
  for (const [name, entry] of Object.entries(Errors)) {
    t.ok(documentedRow(protocol, entry), `Errors.${name}: row "| ${entry.code} | \`${entry.reason}\` |" in docs/protocol.md`);
  }
});

t.test('docs - every close code is documented', async (t) => {
  for (const [name, entry] of Object.entries(CloseCodes)) {
    t.ok(documentedRow(protocol, entry), `CloseCodes.${name}: row "| ${entry.code} | \`${entry.reason}\` |" in docs/protocol.md`);
  }
});

/** The `| n | \`reason\` |` rows of the table under `## <heading>` in docs/protocol.md. */
function codeRows(heading: string): { code: number; reason: string }[] {
  const section = protocol.split(/^## /m).find((s) => s.startsWith(`${heading}\n`)) ?? '';
  return [...section.matchAll(/^\|\s*(\d+)\s*\|\s*`([a-z_]+)`\s*\|/gm)].map((m) => ({ code: Number(m[1]), reason: m[2]! }));
}

t.test('docs - every documented error and close code exists in the catalogue', async (t) => {
  const known = (entries: readonly ErrorEntry[]) => new Set(entries.map((e) => `${e.code} ${e.reason}`));
  const errors = known(Object.values(Errors));
  const closes = known(Object.values(CloseCodes));
  const errorRows = codeRows('Error codes');
  const closeRows = codeRows('Close codes');
  t.ok(errorRows.length > 0 && closeRows.length > 0, 'both tables found');
  for (const r of errorRows) t.ok(errors.has(`${r.code} ${r.reason}`), `error ${r.code} ${r.reason} is in Errors`);
  for (const r of closeRows) t.ok(closes.has(`${r.code} ${r.reason}`), `close ${r.code} ${r.reason} is in CloseCodes`);
});

t.test('docs - the closed-connection reasons are documented, and only those', async (t) => {
  const reasons = new Set(['client', 'abnormal', ABORTED, ...Object.values(CloseCodes).filter((c) => c !== CloseCodes.Normal).map((c) => c.reason)]);
  const section = metricsDoc.slice(metricsDoc.indexOf('`danmaku_connections_closed_total{reason}`:'));
  const table = section.slice(0, section.indexOf('\n\n', section.indexOf('|')));
  const rows = new Set([...table.matchAll(/^\|\s*`([a-z_]+)`\s*\|/gm)].map((m) => m[1]!));
  t.same([...rows].sort(), [...reasons].sort());
});

t.test('docs - every op is documented', async (t) => {
  for (const [name, code] of Object.entries(Op)) {
    const row = new RegExp(`^\\|\\s*${code}\\s*\\|\\s*\`?${name.toUpperCase()}\`?\\s*\\|`, 'm');
    t.ok(row.test(protocol), `Op.${name}: row "| ${code} | ${name.toUpperCase()} |" in docs/protocol.md`);
  }
});

t.test('docs - every metric is documented', async (t) => {
  const registered = await new Metrics({ defaultMetrics: false }).registry.getMetricsAsJSON();
  t.ok(registered.length > 0, 'the registry has metrics');
  for (const { name } of registered) {
    t.ok(metricsDoc.includes(`\`${name}\``), `${name} in docs/metrics.md`);
  }
});

t.test('docs - hex examples decode to the values shown', async (t) => {
  const examples = [...protocol.matchAll(/^hex:\n((?:[ \t]+[0-9a-f]{2}(?: [0-9a-f]{2})*\n)+)value: (.+)$/gm)];
  t.ok(examples.length >= 9, `at least 9 examples (found ${examples.length})`);
  for (const [, hex, value] of examples) {
    const bytes = Buffer.from(hex!.replace(/\s+/g, ''), 'hex');
    t.equal(JSON.stringify(decode(bytes)), value, `example ${value!.slice(0, 40)}`);
  }
});
