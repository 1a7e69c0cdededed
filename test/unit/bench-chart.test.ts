import t from 'tap';
import { svg, ticks } from '../../bench/lib/chart.js';
import type { BenchReport } from '../../bench/lib/report.js';
import type { RunResult } from '../../bench/lib/run.js';

t.test('bench chart - axis ticks are round numbers that cover the data', async (t) => {
  t.same(ticks(87), [0, 20, 40, 60, 80, 100]);
  t.same(ticks(125), [0, 25, 50, 75, 100, 125]);
  t.same(ticks(120, 10), [0, 20, 40, 60, 80, 100, 120]);
  t.same(ticks(0.3), [0, 0.1, 0.2, 0.3]);
  t.same(ticks(812_513), [0, 200_000, 400_000, 600_000, 800_000, 1_000_000]);
  t.same(ticks(0), [0, 1], 'no data still gives an axis');
});

t.test('bench chart - every line has its own colour, and the legend stays inside the image', async (t) => {
  const run = (target: string, f: number) =>
    ({ target, connections: { closed: target === 'a-long-target-name-number-3' ? 5 : 0 }, timeline: Array.from({ length: 120 }, (_, i) => ({ t: i + 1, items: 80_000 * f, frames: 1, p50: 50 * f, p99: 170 * f, closed: 0 })) }) as unknown as RunResult;
  const report = { scenario: 'cluster/hot-room', runs: [run('a-long-target-name-number-1', 1), run('a-long-target-name-number-2', 1.1), run('a-long-target-name-number-3', 0.9)] } as unknown as BenchReport;
  const out = svg(report);
  const width = Number(/<svg[^>]* width="(\d+)"/.exec(out)![1]);
  const height = Number(/<svg[^>]* height="(\d+)"/.exec(out)![1]);
  const strokes = [...out.matchAll(/<polyline [^>]*stroke="(#[0-9a-f]{6})"/g)].map((m) => m[1]);
  t.equal(strokes.length, 9, 'p50 and p99 and items/s of three runs');
  t.equal(new Set(strokes).size, 9, 'nine colours');
  for (const m of out.matchAll(/<text x="([\d.]+)" y="([\d.]+)"(?![^>]*text-anchor)[^>]*>([^<]*)</g)) {
    const [x, y, text] = [Number(m[1]), Number(m[2]), m[3]!];
    t.ok(x + text.length * 6.5 <= width && y <= height, `"${text}" fits (x ${x}, y ${y})`);
  }
  t.match(out, /a-long-target-name-number-3: 5 connections closed during the run/);
});
