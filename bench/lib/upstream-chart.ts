// The upstream scenario's chart: SENDs per second offered and accepted, ERRORs and timeouts per
// second, and ACK p99 per second on a log axis against the 50 ms bound, for every target of
// the run on one time axis (each from the start of its own phases), with the start of each
// target's overload and recovery marked.

import { document, PALETTE, panel, type Line } from './chart.js';
import type { UpstreamReport } from './upstream-report.js';
import type { UpstreamRun } from './upstream-run.js';

const name = (r: UpstreamRun) => (r.target === 'server' ? 'standalone' : r.target);
const refusedPerSecond = (p: UpstreamRun['timeline'][number]) => Object.values(p.refused).reduce((a, b) => a + b, 0) + p.timeouts;

export function upstreamSvg(r: UpstreamReport): string {
  // One colour per target in every panel; offered dashed, accepted solid.
  const names = r.runs.map(name);
  const colorOf = (label: string) => PALETTE[(1 + 2 * Math.max(0, names.findIndex((n) => label.startsWith(`${n} `)))) % PALETTE.length]!;
  const rates: Line[] = r.runs.flatMap((run) => [
    { label: `${name(run)} offered/s`, dash: true, points: run.timeline.map((p): [number, number] => [p.t, p.offered]) },
    { label: `${name(run)} accepted/s`, points: run.timeline.map((p): [number, number] => [p.t, p.accepted]) },
  ]);
  const errors: Line[] = r.runs.map((run) => ({ label: `${name(run)} ERRORs + timeouts /s`, points: run.timeline.map((p): [number, number] => [p.t, refusedPerSecond(p)]) }));
  // No ACK in a second: no p99 (a gap), rather than a 0 that reads as fast.
  const p99: Line[] = r.runs.map((run) => ({ label: `${name(run)} ACK p99`, points: run.timeline.map((p): [number, number] => [p.t, p.accepted > 0 ? p.p99 : NaN]) }));
  const marks = r.runs.flatMap((run, row) =>
    run.marks
      .filter((m) => m.phase === 'overload' || m.phase === 'recover')
      .map((m) => ({ t: m.t, row, line: `${name(run)} accepted/s`, label: `${name(run)} ${m.phase} ${m.rate.toLocaleString('en')}/s` })),
  );
  const xLabel = "seconds since the start of each target's phases (one point per second)";
  const parts: string[] = [];
  let y = 0;
  for (const p of [
    panel(rates, 0, 'upstream: SENDs per second, offered and accepted (ACK within the reply timeout)', 'SENDs/s', colorOf, { xLabel, marks }),
    panel(errors, 0, 'SENDs refused per second: ERROR replies (any code) and timeouts', 'per second', colorOf, { xLabel, marks }),
    panel(p99, 0, 'ACK p99 per second (log scale)', 'ms', colorOf, { xLabel, marks, log: true, reference: { value: 50, label: '50 ms' } }),
  ]) {
    parts.push(`<g transform="translate(0 ${y})">${p.svg}</g>`);
    y += p.height;
  }
  return document(parts, y);
}
