// The SVG chart of a report, because people would rather look than read: delivery delay
// percentiles and delivered room items per second, one point per second of the measured
// window, for every run of the invocation. Each line has a colour of its own in the whole
// chart (no colour means two things), axes carry ticks with values, and the legend wraps so
// that it stays inside the image.

import type { BenchReport } from './report.js';
import type { Point, RunResult } from './run.js';

const WIDTH = 800;
const LEFT = 72; // room for tick values such as "800K"
const RIGHT = 24;
const PLOT_H = 170;
const LEGEND_ROW = 16;
/** Tableau 10: distinct for the usual colour-vision deficiencies. */
const PALETTE = ['#d62728', '#1f77b4', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

interface Series {
  readonly label: string;
  readonly get: (p: Point) => number;
  readonly dash?: boolean;
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

/** One panel at `y0`; returns its SVG and its height. */
function panel(runs: readonly RunResult[], y0: number, title: string, series: readonly Series[], unit: string, colorOf: (line: string) => string): { svg: string; height: number } {
  const w = WIDTH - LEFT - RIGHT;
  const top = y0 + 30;
  const tMax = Math.max(1, ...runs.map((r) => r.timeline.length));
  const vMax = Math.max(0, ...runs.flatMap((r) => series.map((s) => Math.max(0, ...r.timeline.map(s.get)))));
  const yTicks = ticks(vMax);
  const xTicks = ticks(tMax, Math.min(10, tMax));
  const yTop = yTicks[yTicks.length - 1]!;
  const xTop = xTicks[xTicks.length - 1]!;
  const x = (t: number) => LEFT + (t / xTop) * w;
  const y = (v: number) => top + PLOT_H - (v / yTop) * PLOT_H;
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
  parts.push(`<text x="${LEFT + w}" y="${top + PLOT_H + 28}" font-size="10" text-anchor="end">seconds into the measured window</text>`);
  parts.push(`<text x="14" y="${top + PLOT_H / 2}" font-size="10" text-anchor="middle" transform="rotate(-90 14 ${top + PLOT_H / 2})">${esc(unit)}</text>`);

  const lines = runs.flatMap((r) => series.map((s) => ({ r, s })));
  const legend = legendRows(lines.map(({ r, s }) => `${r.target} ${s.label}`), w);
  lines.forEach(({ r, s }, i) => {
    const color = colorOf(legend[i]!.label);
    const dash = s.dash ? ' stroke-dasharray="5 3"' : '';
    const pts = r.timeline.map((p) => `${x(p.t).toFixed(1)},${y(s.get(p)).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.8"${dash} points="${pts}"/>`);
    const { label, x: lx, row } = legend[i]!;
    const ly = top + PLOT_H + 46 + row * LEGEND_ROW;
    parts.push(`<line x1="${LEFT + lx}" y1="${ly - 4}" x2="${LEFT + lx + 24}" y2="${ly - 4}" stroke="${color}" stroke-width="2.5"${dash}/>`);
    parts.push(`<text x="${LEFT + lx + 30}" y="${ly}" font-size="11">${esc(label)}</text>`);
  });
  const rows = legend.length > 0 ? legend[legend.length - 1]!.row + 1 : 0;
  return { svg: parts.join('\n'), height: 30 + PLOT_H + 36 + rows * LEGEND_ROW + 20 };
}

export function svg(r: BenchReport): string {
  const closed = r.runs.filter((x) => x.connections.closed > 0).map((x) => `${x.target}: ${x.connections.closed} connections closed during the run`);
  const colors = new Map<string, string>();
  const colorOf = (line: string) => {
    if (!colors.has(line)) colors.set(line, PALETTE[colors.size % PALETTE.length]!);
    return colors.get(line)!;
  };
  let y = 0;
  const body: string[] = [];
  const add = (p: { svg: string; height: number }) => {
    body.push(p.svg);
    y += p.height;
  };
  add(panel(r.runs, y, `${r.scenario}: delivery delay per second`, [
    { label: 'p50', get: (p) => p.p50, dash: true },
    { label: 'p99', get: (p) => p.p99 },
  ], 'ms', colorOf));
  add(panel(r.runs, y, 'delivered room items per second', [{ label: 'items/s', get: (p) => p.items }], 'items/s', colorOf));
  for (const line of closed) {
    body.push(`<text x="${LEFT}" y="${y + 14}" font-size="12" fill="#d62728">${esc(line)}</text>`);
    y += 20;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>\n${body.join('\n')}\n</svg>\n`;
}
