// Results as data (JSON), as a markdown summary with our figures next to the same-run
// baseline's and their ratio, and as an SVG chart (delivery delay percentiles and delivered
// items per second over time), because people would rather look than read.

import { closedSummary, type RunResult } from './run.js';

export interface BenchReport {
  readonly scenario: string;
  readonly options: Record<string, unknown>;
  readonly at: string;
  readonly machine: { cpus: number; node: string };
  readonly runs: RunResult[];
  readonly slo: { rule: string; value: number; ok: boolean }[];
}

const fmt = (n: number | undefined | null, d = 1) => (n === undefined || n === null || Number.isNaN(n) ? '–' : n.toLocaleString('en', { maximumFractionDigits: d }));

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || b === 0) return '–';
  return `${(a / b).toFixed(2)}x`;
}

/** The figures of a run, in the order the summaries show them. */
export const FIGURES: [string, (x: RunResult) => number | undefined][] = [
    ['connected', (x) => x.connections.connected],
    ['connect failures', (x) => x.connections.failed],
    ['closed during the run (not in loss)', (x) => x.connections.closed],
    ['connect + join rate (/s)', (x) => x.connections.perSecond],
    ['join latency p99 (ms)', (x) => x.connections.joinP99],
    ['delivery delay p50 (ms)', (x) => x.delay.p50],
    ['delivery delay p90 (ms)', (x) => x.delay.p90],
    ['delivery delay p99 (ms)', (x) => x.delay.p99],
    ['delivery delay max (ms)', (x) => x.delay.max],
    ['delivered items/s', (x) => x.itemsPerSec],
    ['delivered frames/s', (x) => x.framesPerSec],
    ['sent (acknowledged) /s', (x) => x.sentPerSec],
    ['sender ack p99 (ms)', (x) => x.ack.p99],
    ['server CPU per frame (us)', (x) => x.server?.cpuPerFrameUs],
    ['server CPU per item (us)', (x) => x.server?.cpuPerItemUs],
    ['server CPU (s in window)', (x) => x.server?.cpuSeconds],
    ['server RSS per connection (bytes)', (x) => x.server?.rssPerConnBytes],
    ['server RSS (MB)', (x) => (x.server ? x.server.rssBytes / 1048576 : undefined)],
    ['load generator CPU (cores)', (x) => x.loadgen.cores],
    ['lost gifts', (x) => x.loss?.gifts],
    ['lost danmaku (not shown, not shed)', (x) => x.loss?.danmaku],
    ['lost likes', (x) => x.loss?.likes],
    ['duplicates', (x) => x.duplicates],
    ['isolation errors', (x) => x.isolationErrors],
    ['room switches', (x) => x.switches],
];

export function markdown(r: BenchReport): string {
  const rows = FIGURES;
  // One column per run, then the first run as a ratio to each of the others (the baseline last).
  const [first, ...others] = r.runs;
  const cols = [...r.runs.map((x) => x.target), ...others.map((x) => `${first!.target} / ${x.target}`)];
  const head = `| | ${cols.join(' | ')} |\n|---|${cols.map(() => '---:').join('|')}|`;
  const body = rows.map(([name, get]) => `| ${name} | ${[...r.runs.map((x) => fmt(get(x))), ...others.map((x) => ratio(get(first!), get(x)))].join(' | ')} |`).join('\n');
  const errors = r.runs.filter((x) => Object.keys(x.errors).length > 0).map((x) => `- ${x.target} error frames: ${JSON.stringify(x.errors)}`);
  const closed = r.runs
    .filter((x) => x.connections.closed > 0)
    .map((x) => `- ${x.target}: **${closedSummary(x.connections)}** during the run${x.loss && x.loss.closedViewers > 0 ? `; loss counts only the ${fmt(x.loss.viewers)} viewers that stayed open, not these ${fmt(x.loss.closedViewers)}` : ''}`);
  const slo = r.slo.map((s) => `- SLO ${s.rule}: ${fmt(s.value, 2)} ${s.ok ? 'ok' : '**BREACHED**'}`);
  return [`## ${r.scenario} (${r.at})`, '', `Options: \`${JSON.stringify(r.options)}\`; ${r.machine.cpus} CPUs, Node ${r.machine.node}.`, '', head, body, '', ...closed, ...errors, ...slo, ''].join('\n');
}

const COLORS: Record<string, string> = { server: '#d62728', remote: '#d62728', baseline: '#1f77b4' };

function panel(runs: RunResult[], y0: number, title: string, series: { label: string; get: (p: RunResult['timeline'][number]) => number; dash?: boolean }[], unit: string): string {
  const W = 760;
  const H = 220;
  const left = 60;
  const top = y0 + 30;
  const w = W - left - 20;
  const h = H - 60;
  const tMax = Math.max(1, ...runs.map((r) => r.timeline.length));
  const vMax = Math.max(1e-9, ...runs.flatMap((r) => series.map((s) => Math.max(0, ...r.timeline.map(s.get)))));
  const x = (t: number) => left + (t / tMax) * w;
  const y = (v: number) => top + h - (v / vMax) * h;
  const parts = [`<text x="${left}" y="${y0 + 18}" font-size="14" font-weight="bold">${title}</text>`];
  parts.push(`<line x1="${left}" y1="${top + h}" x2="${left + w}" y2="${top + h}" stroke="#888"/><line x1="${left}" y1="${top}" x2="${left}" y2="${top + h}" stroke="#888"/>`);
  for (let i = 0; i <= 4; i++) {
    const v = (vMax * i) / 4;
    parts.push(`<text x="${left - 6}" y="${y(v) + 4}" font-size="10" text-anchor="end">${fmt(v, v < 10 ? 1 : 0)}</text>`);
  }
  parts.push(`<text x="${left + w}" y="${top + h + 16}" font-size="10" text-anchor="end">${tMax} s</text><text x="12" y="${top + h / 2}" font-size="10" transform="rotate(-90 12 ${top + h / 2})">${unit}</text>`);
  let legend = 0;
  for (const r of runs) {
    for (const s of series) {
      const pts = r.timeline.map((p) => `${x(p.t).toFixed(1)},${y(s.get(p)).toFixed(1)}`).join(' ');
      const color = COLORS[r.target] ?? '#2ca02c';
      parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5"${s.dash ? ' stroke-dasharray="4 3"' : ''} points="${pts}"/>`);
      parts.push(`<text x="${left + 10 + legend * 150}" y="${top + h + 32}" font-size="11" fill="${color}">${s.dash ? '- - ' : '— '}${r.target} ${s.label}</text>`);
      legend++;
    }
  }
  return parts.join('\n');
}

export function svg(r: BenchReport): string {
  const body = [
    panel(r.runs, 0, `${r.scenario}: delivery delay per second`, [
      { label: 'p50', get: (p) => p.p50, dash: true },
      { label: 'p99', get: (p) => p.p99 },
    ], 'ms'),
    panel(r.runs, 240, 'delivered room items per second', [{ label: 'items/s', get: (p) => p.items }], 'items/s'),
  ];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="760" height="480" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>\n${body.join('\n')}\n</svg>\n`;
}
