// The upstream scenario's results as data and as a markdown summary: the targets of issue 9
// (met or missed), standalone and cluster side by side, then each target's steps and, for the
// cluster, what one SEND costs in Redis commands and NATS messages. The chart is chart.ts.

import { ERROR_NAMES } from './protocol.js';
import type { Window } from './rate-phases.js';
import { closedSummary } from './run.js';
import type { UpstreamRun } from './upstream-run.js';

export interface UpstreamReport {
  readonly scenario: 'upstream';
  readonly options: Record<string, unknown>;
  readonly at: string;
  /** load averages (1, 5, 15 min) when the run began and ended: others may share the machine */
  readonly machine: { cpus: number; node: string; loadBefore: number[]; loadAfter: number[] };
  readonly runs: UpstreamRun[];
  readonly checks: Check[];
}

export interface Check {
  readonly target: string;
  readonly criterion: string;
  /** null: could not be measured (counts as missed) */
  readonly value: number | null;
  readonly shown: string;
  readonly ok: boolean;
}

const fmt = (n: number | null | undefined, d = 1) => (n === null || n === undefined || Number.isNaN(n) ? '–' : n.toLocaleString('en', { maximumFractionDigits: d }));
const ratio = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : a / b);
const x = (r: number | null) => (r === null ? '–' : `${r.toFixed(2)}x`);

/** ERRORs by code, timeouts and late replies, e.g. "ERROR 30 unavailable x 1,234, 20 timed out" (– for none). */
export function refusals(w: Pick<Window, 'refused' | 'timeouts' | 'late'>): string {
  const parts = Object.entries(w.refused).map(([code, n]) => `ERROR ${code}${ERROR_NAMES[Number(code)] ? ` ${ERROR_NAMES[Number(code)]}` : ''} x ${fmt(n)}`);
  if (w.timeouts > 0) parts.push(`${fmt(w.timeouts)} timed out`);
  if (w.late > 0) parts.push(`${fmt(w.late)} late replies`);
  return parts.length > 0 ? parts.join(', ') : '–';
}

/** Issue 9's targets against the runs. */
export function checksOf(runs: readonly UpstreamRun[]): Check[] {
  const out: Check[] = [];
  const standalone = runs.find((r) => r.target === 'server');
  const cluster = runs.find((r) => r.target === 'cluster');
  if (standalone && cluster) {
    const v = ratio(cluster.ceiling, standalone.ceiling);
    out.push({ target: 'cluster', criterion: 'ceiling ≥ 0.7x the standalone ceiling', value: v, shown: `${x(v)} (${fmt(cluster.ceiling)} vs ${fmt(standalone.ceiling)}/s)`, ok: v !== null && v >= 0.7 });
  }
  for (const r of runs) {
    const g = ratio(r.overload.accepted, r.ceiling);
    out.push({ target: r.target, criterion: 'goodput under overload ≥ 0.8x the ceiling', value: g, shown: `${x(g)} (${fmt(r.overload.accepted)}/s at ${fmt(r.overload.rate)}/s offered)`, ok: g !== null && g >= 0.8 });
    const s = r.recover.recoverySeconds;
    out.push({ target: r.target, criterion: 'recovery within 5 s', value: s, shown: s === null ? `never (within ${r.recover.seconds} s)` : `${s} s`, ok: s !== null && s <= 5 });
    const pending = r.drain.quiet ? '' : `; the target was still replying after ${r.drain.seconds} s of drain, so some may have come later`;
    out.push({ target: r.target, criterion: 'zero acknowledged messages lost', value: r.loss.lost, shown: `${fmt(r.loss.lost)} of ${fmt(r.loss.acknowledged)}${pending}`, ok: r.loss.lost === 0 && r.loss.conns > 0 });
  }
  return out;
}

const name = (r: UpstreamRun) => (r.target === 'server' ? 'standalone' : r.target);

/** Rows of the side-by-side table: label, and the figure of a run. */
const ROWS: [string, (r: UpstreamRun) => number | string | null, boolean?][] = [
  ['users connected (failed)', (r) => `${fmt(r.connections.connected)} (${fmt(r.connections.failed)})`],
  ['**ceiling**: SENDs/s offered, accepted ≥ 0.98x and ACK p99 < 50 ms', (r) => r.ceiling, true],
  ['accepted/s at the ceiling', (r) => r.steps.find((s) => s.rate === r.ceiling)?.accepted ?? null, true],
  ['ACK p99 at the ceiling (ms)', (r) => r.steps.find((s) => s.rate === r.ceiling)?.p99 ?? null, true],
  ['first failing step (SENDs/s)', (r) => r.steps.find((s) => !s.pass)?.rate ?? null, true],
  ['overload: offered/s (planned)', (r) => `${fmt(r.overload.offered)} (${fmt(r.overload.rate)})`],
  ['overload: **goodput** (accepted/s)', (r) => r.overload.accepted, true],
  ['overload: goodput / ceiling', (r) => x(ratio(r.overload.accepted, r.ceiling))],
  ['overload: ACK p50 / p99 of what was accepted (ms)', (r) => `${fmt(r.overload.p50)} / ${fmt(r.overload.p99)}`],
  ['overload: refused', (r) => refusals(r.overload)],
  ['recovery: offered/s (planned)', (r) => `${fmt(r.recover.offered)} (${fmt(r.recover.rate)})`],
  ['recovery: accepted/s, ACK p99 (ms)', (r) => `${fmt(r.recover.accepted)}, ${fmt(r.recover.p99)}`],
  ['recovery: refused', (r) => refusals(r.recover)],
  ['**seconds to recover**', (r) => (r.recover.recoverySeconds === null ? 'never' : r.recover.recoverySeconds)],
  ['drain: seconds until quiet (no reply, no delivery for a second)', (r) => (r.drain.quiet ? r.drain.seconds : `**not quiet** after ${r.drain.seconds} (still working through a backlog)`)],
  ['acknowledged messages', (r) => r.loss.acknowledged],
  ['**acknowledged messages lost** (connections checked)', (r) => `${fmt(r.loss.lost)} (${fmt(r.loss.conns)})`],
  ['missing deliveries (connection × message)', (r) => r.loss.missingDeliveries],
  ['delivered without an ACK (refused or unanswered, yet published)', (r) => r.loss.deliveredUnacknowledged],
  ['duplicates', (r) => r.duplicates],
  ['connections closed during the run', (r) => closedSummary(r.connections) || 0],
  ['processes running at the end', (r) => r.processes.map((p) => `${p.name} ${p.alive ? 'yes' : '**no**'}${p.alive && p.unreadable ? ' (its /metrics did not answer)' : ''}`).join(', ')],
  ['NATS events (all processes)', (r) => events(r, (p) => p.busEvents)],
  ['Redis disconnects, store fallbacks', (r) => `${sum(r, (p) => p.redisDisconnects)}, ${sum(r, (p) => p.storeFallbacks)}`],
  ['connected to NATS / Redis at the end', (r) => r.processes.filter((p) => p.role === 'gateway' || p.role === 'logic').map((p) => `${p.name} ${p.busConnected ?? '–'}/${p.redisConnected ?? '–'}`).join(', ') || '–'],
  ['nats-server slow consumers', (r) => r.natsSlowConsumers],
  ['ERRORs sent by the server, by reason', (r) => events(r, (p) => p.errors)],
  ['dropped by the server (frames for slow clients, items), by reason', (r) => events(r, (p) => p.dropped)],
];

function sum(r: UpstreamRun, get: (p: UpstreamRun['processes'][number]) => number | null): string {
  const vals = r.processes.map(get).filter((v): v is number => v !== null);
  return vals.length === 0 ? '–' : fmt(vals.reduce((a, b) => a + b, 0));
}

function events(r: UpstreamRun, get: (p: UpstreamRun['processes'][number]) => Record<string, number> | null): string {
  const parts = r.processes.flatMap((p) => Object.entries(get(p) ?? {}).map(([k, n]) => `${p.name} ${k} x ${fmt(n)}`));
  return parts.length > 0 ? parts.join(', ') : 'none';
}

function stepsTable(r: UpstreamRun): string[] {
  const head = '| offered/s planned | offered/s | accepted/s | ACK p50 / p99 / max (ms) | logic request p99 (ms) | refused | CPU cores (load gen; target) | |\n|---:|---:|---:|---:|---:|---|---|---|';
  const rows = r.steps.map((s) => {
    const cores = Object.entries(s.cores).map(([n, c]) => `${n} ${fmt(c, 2)}`).join(', ');
    return `| ${fmt(s.rate)} | ${fmt(s.offered)} | ${fmt(s.accepted)} | ${fmt(s.p50)} / ${fmt(s.p99)} / ${fmt(s.max)} | ${s.logicP99 == null ? '–' : fmt(s.logicP99)} | ${refusals(s)} | ${fmt(s.genCores, 2)}; ${cores} | ${s.pass ? 'pass' : `**fail**: ${s.failures.join('; ')}`} |`;
  });
  return [`### ${name(r)}: steps`, '', head, ...rows, ''];
}

function costLines(r: UpstreamRun): string[] {
  const c = r.cost;
  if (!c) return [];
  const shown = Object.entries(c.byCommand).filter(([, n]) => n >= 0.001);
  const rare = Object.keys(c.byCommand).length - shown.length;
  const cmds = shown.map(([cmd, n]) => `${cmd} ${fmt(n, 3)}`).join(', ') + (rare > 0 ? ` (and ${rare} commands under 0.001, background work)` : '');
  const nats = Object.entries(c.nats ?? {}).map(([conn, n]) => `${conn}: ${fmt(n.published, 3)} published, ${fmt(n.delivered, 3)} delivered`);
  return [
    `### ${name(r)}: what one SEND costs upstream`,
    '',
    `At ${fmt(c.rate)} SENDs/s for ${c.seconds} s, before the steps (offered ${fmt(c.window.offered)}/s, ACKed ${fmt(c.window.acked)}/s, ACK p99 ${fmt(c.window.p99)} ms; ${fmt(c.accepted)} accepted, counted from the ${c.acceptedFrom}): **${fmt(c.perSend, 2)} Redis commands per SEND** (${fmt(c.calls)} calls, Lua-inner calls included; ${fmt(c.netPerSend, 2)} without the ${fmt(c.idlePerSecond)} calls/s measured over ${c.idleSeconds} s without traffic).`,
    '',
    `- by command, per SEND: ${cmds || '–'}`,
    ...(nats.length > 0 ? [`- NATS messages per SEND, by client connection: ${nats.join('; ')}`] : []),
    '',
  ];
}

export function upstreamMarkdown(r: UpstreamReport): string {
  const cols = r.runs.map(name);
  const both = r.runs.length === 2;
  const head = `| | ${cols.join(' | ')}${both ? ` | ${cols[1]} / ${cols[0]}` : ''} |\n|---|${cols.map(() => '---:').join('|')}${both ? '|---:' : ''}|`;
  const body = ROWS.map(([label, get, numeric]) => {
    const vals = r.runs.map(get);
    const cells = vals.map((v) => (typeof v === 'number' ? fmt(v) : v === null ? '–' : v));
    const rel = both ? (numeric && typeof vals[0] === 'number' && typeof vals[1] === 'number' ? x(ratio(vals[1], vals[0])) : '') : null;
    return `| ${label} | ${cells.join(' | ')}${rel === null ? '' : ` | ${rel}`} |`;
  });
  const checks = r.checks.map((c) => `| ${c.target === 'server' ? 'standalone' : c.target} | ${c.criterion} | ${c.shown} | ${c.ok ? 'met' : '**missed**'} |`);
  const load = (l: number[]) => l.map((v) => v.toFixed(2)).join(' ');
  return [
    `## upstream (${r.at})`,
    '',
    `Options: \`${JSON.stringify(r.options)}\`; ${r.machine.cpus} CPUs, Node ${r.machine.node}; load average ${load(r.machine.loadBefore)} at the start, ${load(r.machine.loadAfter)} at the end.`,
    '',
    '| target | criterion (issue 9) | measured | |',
    '|---|---|---|---|',
    ...checks,
    '',
    head,
    ...body,
    '',
    ...r.runs.flatMap((run) => [...stepsTable(run), ...costLines(run)]),
  ].join('\n');
}

/** What a summary of repeated runs (bench/summary.ts) takes the median of, per target. */
export const UPSTREAM_FIGURES: [string, (r: UpstreamRun) => number | null][] = [
  ['ceiling (SENDs/s)', (r) => r.ceiling],
  ['accepted/s at the ceiling', (r) => r.steps.find((s) => s.rate === r.ceiling)?.accepted ?? null],
  ['ACK p99 at the ceiling (ms)', (r) => r.steps.find((s) => s.rate === r.ceiling)?.p99 ?? null],
  ['overload goodput (accepted/s)', (r) => r.overload.accepted],
  ['overload goodput / ceiling', (r) => ratio(r.overload.accepted, r.ceiling)],
  ['overload ACK p99 (ms)', (r) => r.overload.p99],
  ['overload refused (ERRORs and timeouts)', (r) => Object.values(r.overload.refused).reduce((a, b) => a + b, 0) + r.overload.timeouts],
  ['seconds to recover (runs that did)', (r) => r.recover.recoverySeconds],
  ['acknowledged messages lost', (r) => r.loss.lost],
  ['Redis commands per SEND', (r) => r.cost?.perSend ?? null],
];
