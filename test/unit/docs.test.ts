// Keeps docs/protocol.md and docs/metrics.md in step with the code: every op, error code,
// close code and metric must be documented, and the hex frame examples must decode to the
// values printed beside them.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { LABEL_VALUES } from '../../src/metric-labels.js';
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

t.test('docs - every label value the code emits is documented, and only those', async (t) => {
  const blocks = new Map<string, string[]>();
  for (const m of metricsDoc.matchAll(/^#### `(danmaku_\w+\{\w+\})`\n([\s\S]*?)(?=^#{2,4} )/gm)) {
    blocks.set(m[1]!, [...m[2]!.matchAll(/^\|\s*`([^`]+)`\s*\|/gm)].map((r) => r[1]!));
  }
  const declared = new Set<string>();
  for (const [metric, labels] of Object.entries(LABEL_VALUES)) {
    for (const [label, values] of Object.entries(labels)) {
      const key = `${metric}{${label}}`;
      declared.add(key);
      t.same([...(blocks.get(key) ?? [])].sort(), values.map(String).sort(), `${key}: docs/metrics.md lists exactly the values of src/metric-labels.ts`);
    }
  }
  for (const key of blocks.keys()) t.ok(declared.has(key), `${key} is documented and declared in src/metric-labels.ts`);
  const registered = await new Metrics({ defaultMetrics: false }).registry.getMetricsAsJSON();
  for (const { name, help } of registered as { name: string; help: string }[]) {
    const labelled = Object.keys(LABEL_VALUES[name] ?? {});
    const table = metricsDoc.match(new RegExp(`^\\| \`${name}\` \\|[^|]*\\|([^|]*)\\|`, 'm'))?.[1] ?? '';
    const hasLabels = table.trim() !== '—' && table.trim() !== '';
    t.equal(hasLabels, labelled.length > 0, `${name}: labels in the table match src/metric-labels.ts (${help.slice(0, 30)})`);
  }
});

t.test('docs - every op is documented', async (t) => {
  for (const [name, code] of Object.entries(Op)) {
    const row = new RegExp(`^\\|\\s*${code}\\s*\\|\\s*\`?${name.toUpperCase()}\`?\\s*\\|`, 'm');
    t.ok(row.test(protocol), `Op.${name}: row "| ${code} | ${name.toUpperCase()} |" in docs/protocol.md`);
  }
});

t.test('docs - every metric is documented, and every documented metric exists', async (t) => {
  const registered = await new Metrics({ defaultMetrics: false }).registry.getMetricsAsJSON();
  t.ok(registered.length > 0, 'the registry has metrics');
  const names = new Set(registered.map((m) => m.name));
  for (const name of names) t.ok(metricsDoc.includes(`\`${name}\``), `${name} in docs/metrics.md`);
  const rows = [...metricsDoc.matchAll(/^\| `(danmaku_\w+)` \|/gm)].map((m) => m[1]!);
  t.ok(rows.length > 0, 'the metric tables were found');
  for (const name of rows) t.ok(names.has(name), `documented ${name} is registered`);
});

t.test('docs - every documented op exists', async (t) => {
  const section = protocol.split(/^## /m).find((s) => s.startsWith('Ops\n')) ?? '';
  const rows = [...section.matchAll(/^\|\s*(\d+)\s*\|\s*`?([A-Z]+)`?\s*\|/gm)];
  t.ok(rows.length > 0, 'the ops table was found');
  const ops = Object.entries(Op).map(([name, code]) => `${code} ${name.toUpperCase()}`);
  for (const [, code, name] of rows) t.ok(ops.includes(`${code} ${name}`), `op ${code} ${name} is in Op`);
});

t.test('docs - hex examples decode to the values shown', async (t) => {
  const examples = [...protocol.matchAll(/^hex:\n((?:[ \t]+[0-9a-f]{2}(?: [0-9a-f]{2})*\n)+)value: (.+)$/gm)];
  t.ok(examples.length >= 9, `at least 9 examples (found ${examples.length})`);
  for (const [, hex, value] of examples) {
    const bytes = Buffer.from(hex!.replace(/\s+/g, ''), 'hex');
    t.equal(JSON.stringify(decode(bytes)), value, `example ${value!.slice(0, 40)}`);
  }
});
