// The SVG chart of a report, because people would rather look than read: delivery delay
// percentiles and delivered room items per second, one point per second of the measured
// window, for every run of the invocation. Each line has a colour of its own in the whole
// chart (no colour means two things), axes carry ticks with values, and the legend wraps so
// that it stays inside the image.

import type { BenchReport } from './report.js';
import type { DrainFigures } from './drain-report.js';
import type { Point, RunResult } from './run.js';

const WIDTH = 800;
const LEFT = 72; // room for tick values such as "800K"
const RIGHT = 24;
const PLOT_H = 170;
const LEGEND_ROW = 16;
/** Tableau 10: distinct for the usual colour-vision deficiencies. */
export const PALETTE = ['#d62728', '#1f77b4', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

interface Series {
  readonly label: string;
  readonly get: (p: Point) => number;
  readonly dash?: boolean;
}

/** One line of a panel: its legend label, and its points (seconds, value; a value that is not finite leaves a gap). */
export interface Line {
  readonly label: string;
  readonly points: readonly (readonly [number, number])[];
  readonly dash?: boolean;
}

export interface PanelOptions {
  readonly xLabel?: string;
  /** a log10 value axis (1, 10, 100, ...): for latencies that span orders of magnitude */
  readonly log?: boolean;
  /** a dotted horizontal line, e.g. a latency bound */
  readonly reference?: { readonly value: number; readonly label: string };
  /** thin vertical marks in the colour of `line`, labelled inside the plot's top (row 0, 1, ...), e.g. where a phase begins */
  readonly marks?: readonly { readonly t: number; readonly label: string; readonly line: string; readonly row?: number }[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const compact = (v: number) => v.toLocaleString('en', { notation: 'compact', maximumFractionDigits: 1 });

/** Round tick steps (1, 2, 2.5, 5 x 10^k) giving about `n` intervals up to at least `max`. */
export function ticks(max: number, n = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => raw <= m * mag) ?? 10) * mag;
  const out: number[] = [];
  for (let v = 0; v < max + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  if (out[out.length - 1]! < max) out.push(Number((out.length * step).toPrecision(12)));
  return out;
}

/** Legend entries laid out in rows that fit `width`; about 6.5 px per character at 11 px. */
function legendRows(labels: string[], width: number): { label: string; index: number; x: number; row: number }[] {
  const out: { label: string; index: number; x: number; row: number }[] = [];
  let x = 0;
  let row = 0;
  labels.forEach((label, index) => {
    const w = 30 + label.length * 6.5 + 18;
    if (x > 0 && x + w > width) {
      x = 0;
      row++;
    }
    out.push({ label, index, x, row });
    x += w;
  });
  return out;
}

/** One panel at `y0`; returns its SVG and its height. Colours come from the legend labels. */
export function panel(lines: readonly Line[], y0: number, title: string, unit: string, colorOf: (line: string) => string, opts: PanelOptions = {}): { svg: string; height: number } {
  const w = WIDTH - LEFT - RIGHT;
  const top = y0 + 30;
  const tMax = Math.max(1, ...lines.flatMap((l) => l.points.map(([t]) => t)));
  const vMax = Math.max(0, ...lines.flatMap((l) => l.points.map(([, v]) => (Number.isFinite(v) ? v : 0))), opts.reference?.value ?? 0);
  const yTicks = opts.log ? logTicks(vMax) : ticks(vMax);
  const xTicks = ticks(tMax, Math.min(10, tMax));
  const yTop = yTicks[yTicks.length - 1]!;
  const xTop = xTicks[xTicks.length - 1]!;
  const x = (t: number) => LEFT + (t / xTop) * w;
  const y = opts.log ? (v: number) => top + PLOT_H - (Math.log10(Math.max(1, v)) / Math.log10(yTop)) * PLOT_H : (v: number) => top + PLOT_H - (v / yTop) * PLOT_H;
  const parts = [`<text x="${LEFT}" y="${y0 + 18}" font-size="14" font-weight="bold">${esc(title)}</text>`];
  for (const v of yTicks) {
    parts.push(`<line x1="${LEFT}" y1="${y(v)}" x2="${LEFT + w}" y2="${y(v)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${LEFT - 6}" y="${y(v) + 4}" font-size="10" text-anchor="end">${compact(v)}</text>`);
  }
  for (const t of xTicks) {
    parts.push(`<line x1="${x(t)}" y1="${top + PLOT_H}" x2="${x(t)}" y2="${top + PLOT_H + 4}" stroke="#888"/>`);
    parts.push(`<text x="${x(t)}" y="${top + PLOT_H + 15}" font-size="10" text-anchor="middle">${compact(t)}</text>`);
  }
  parts.push(`<line x1="${LEFT}" y1="${top + PLOT_H}" x2="${LEFT + w}" y2="${top + PLOT_H}" stroke="#888"/><line x1="${LEFT}" y1="${top}" x2="${LEFT}" y2="${top + PLOT_H}" stroke="#888"/>`);
  parts.push(`<text x="${LEFT + w}" y="${top + PLOT_H + 28}" font-size="10" text-anchor="end">${esc(opts.xLabel ?? 'seconds into the measured window')}</text>`);
  parts.push(`<text x="14" y="${top + PLOT_H / 2}" font-size="10" text-anchor="middle" transform="rotate(-90 14 ${top + PLOT_H / 2})">${esc(unit)}</text>`);
  if (opts.reference) {
    const ry = y(opts.reference.value);
    parts.push(`<line x1="${LEFT}" y1="${ry}" x2="${LEFT + w}" y2="${ry}" stroke="#555" stroke-dasharray="2 3"/>`);
    parts.push(`<text x="${LEFT + w - 4}" y="${ry - 3}" font-size="10" text-anchor="end" fill="#555">${esc(opts.reference.label)}</text>`);
  }
  for (const m of opts.marks ?? []) {
    parts.push(`<line x1="${x(m.t)}" y1="${top}" x2="${x(m.t)}" y2="${top + PLOT_H}" stroke="${colorOf(m.line)}" stroke-width="0.8" stroke-dasharray="1 3"/>`);
    const right = x(m.t) + 3 + m.label.length * 6 > LEFT + w; // near the right edge: label to the left of the mark
    parts.push(`<text x="${right ? x(m.t) - 3 : x(m.t) + 3}" y="${top + 10 + (m.row ?? 0) * 11}" font-size="9"${right ? ' text-anchor="end"' : ''} fill="${colorOf(m.line)}">${esc(m.label)}</text>`);
  }

  const legend = legendRows(lines.map((l) => l.label), w);
  lines.forEach((l, i) => {
    const color = colorOf(l.label);
    const dash = l.dash ? ' stroke-dasharray="5 3"' : '';
    for (const segment of segments(l.points)) {
      const pts = segment.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
      parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.8"${dash} points="${pts}"/>`);
    }
    const { label, x: lx, row } = legend[i]!;
    const ly = top + PLOT_H + 46 + row * LEGEND_ROW;
    parts.push(`<line x1="${LEFT + lx}" y1="${ly - 4}" x2="${LEFT + lx + 24}" y2="${ly - 4}" stroke="${color}" stroke-width="2.5"${dash}/>`);
    parts.push(`<text x="${LEFT + lx + 30}" y="${ly}" font-size="11">${esc(label)}</text>`);
  });
  const rows = legend.length > 0 ? legend[legend.length - 1]!.row + 1 : 0;
  return { svg: parts.join('\n'), height: 30 + PLOT_H + 36 + rows * LEGEND_ROW + 20 };
}

/**
 * A drain's reconnect rate: per 1 s and per 100 ms buckets (as a rate per second, so both read
 * on one axis), from the SIGTERM; the window's average as a reference line, and marks where
 * the gateway turned not ready, began moving clients and was drained.
 */
export function drainPanel(target: string, d: DrainFigures, y0: number, colorOf: (line: string) => string): { svg: string; height: number } {
  const fine = `${target} reconnects/s, 100 ms buckets`;
  const coarse = `${target} reconnects/s, 1 s buckets`;
  // Steps: each bucket's rate held over the bucket.
  const steps = (bs: DrainFigures['perSecond'], size: number, scale: number) => bs.flatMap((b): [number, number][] => [[Math.max(0, b.t), b.n * scale], [b.t + size, b.n * scale]]);
  const lines: Line[] = [
    { label: fine, points: steps(d.per100ms, 0.1, 10) },
    { label: coarse, points: steps(d.perSecond, 1, 1) },
  ];
  const at = (ms: number | null) => (ms === null ? null : (ms - d.signalAt) / 1000);
  const marks = [
    { t: 0, label: 'SIGTERM: not ready', line: coarse, row: 0 },
    ...(at(d.log.movingAt) !== null ? [{ t: at(d.log.movingAt)!, label: 'moving clients', line: coarse, row: 1 }] : []),
    ...(at(d.log.drainedAt) !== null ? [{ t: at(d.log.drainedAt)!, label: 'drained', line: coarse, row: 0 }] : []),
  ];
  const title = `drain of ${d.gateway} (${d.log.connections.toLocaleString('en')} connections, window ${d.log.windowMs / 1000} s): reconnects, peak 1 s ${d.ratio1s.toFixed(2)}x the average`;
  return panel(lines, y0, title, 'reconnects per second', colorOf, { xLabel: 'seconds since SIGTERM', marks, reference: { value: d.average, label: `average over the window ${d.average.toLocaleString('en', { maximumFractionDigits: 0 })}/s` } });
}

/** The runs of finite values between gaps. */
function segments(points: Line['points']): (readonly [number, number])[][] {
  const out: (readonly [number, number])[][] = [[]];
  for (const p of points) {
    if (Number.isFinite(p[1])) out[out.length - 1]!.push(p);
    else if (out[out.length - 1]!.length > 0) out.push([]);
  }
  return out.filter((s) => s.length > 0);
}

/** Powers of ten from 1 up to at least `max`. */
function logTicks(max: number): number[] {
  const out = [1];
  while (out[out.length - 1]! < max) out.push(out[out.length - 1]! * 10);
  if (out.length === 1) out.push(10);
  return out;
}

/** The lines of a run report: each series of each run. */
function runLines(runs: readonly RunResult[], series: readonly Series[]): Line[] {
  return runs.flatMap((r) => series.map((s) => ({ label: `${r.target} ${s.label}`, dash: s.dash, points: r.timeline.map((p): [number, number] => [p.t, s.get(p)]) })));
}

/** A palette handed out in order of first use: one colour per line across the whole chart. */
export function colours(): (line: string) => string {
  const colors = new Map<string, string>();
  return (line) => {
    if (!colors.has(line)) colors.set(line, PALETTE[colors.size % PALETTE.length]!);
    return colors.get(line)!;
  };
}

/** The SVG document around panels stacked from the top. */
export function document(parts: readonly string[], height: number): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>\n${parts.join('\n')}\n</svg>\n`;
}

export function svg(r: BenchReport): string {
  const closed = r.runs.filter((x) => x.connections.closed > 0).map((x) => `${x.target}: ${x.connections.closed} connections closed during the run`);
  const colorOf = colours();
  let y = 0;
  const body: string[] = [];
  const add = (p: { svg: string; height: number }) => {
    body.push(p.svg);
    y += p.height;
  };
  // Faults (faults.ts) as marks in the colour of their run's p99 line, at their second.
  const marks = r.runs.flatMap((x) => (x.faults ?? []).map((f, row) => ({ t: f.atS, label: `${f.fault} ${f.process}`, line: `${x.target} p99`, row })));
  add(panel(runLines(r.runs, [
    { label: 'p50', get: (p) => p.p50, dash: true },
    { label: 'p99', get: (p) => p.p99 },
  ]), y, `${r.scenario}: delivery delay per second`, 'ms', colorOf, { marks }));
  add(panel(runLines(r.runs, [{ label: 'items/s', get: (p) => p.items }]), y, 'delivered room items per second', 'items/s', colorOf, { marks }));
  for (const x of r.runs) if (x.drain) add(drainPanel(x.target, x.drain, y, colorOf));
  for (const line of closed) {
    body.push(`<text x="${LEFT}" y="${y + 14}" font-size="12" fill="#d62728">${esc(line)}</text>`);
    y += 20;
  }
  return document(body, y);
}
