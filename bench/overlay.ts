// The overlay bench: headless Chromium at 1280x720 plays a generated <video> under an overlay
// and feeds it 60 danmaku a second (2-30 characters, random colours, ~10% top/bottom) and a
// gift every 2 s; the page measures frame times (requestAnimationFrame deltas), long tasks and
// the overlay's shed count. The same load runs on weizhenye's `danmaku` library (its DOM and
// canvas engines) in the same run, for comparison. Targets (issue 12): frame time p95 <= 16.7
// ms, no long task over 50 ms.
//
//   npm run build && node dist/bench/overlay.js [--seconds 20] [--rate 60] [--engines ours,danmaku-dom,danmaku-canvas] [--out FILE]

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { launchChromium } from './lib/chromium.js';
import type { PageResult } from './overlay/result.js';
import { mainThreadFigures, type MainThreadFigures, type TraceEvent } from './overlay/trace.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** `none` (the video alone, the floor) runs when asked for: --engines none,ours,... */
const ENGINES = ['ours', 'danmaku-dom', 'danmaku-canvas', 'none'] as const;
const DEFAULT_ENGINES = ['ours', 'danmaku-dom', 'danmaku-canvas'];
export const TARGET_P95_MS = 16.7;
export const TARGET_LONG_TASK_MS = 50;

export interface OverlayBenchOptions {
  seconds: number;
  rate: number;
  engines: string[];
  out: string | undefined;
  /** a directory: one screenshot per engine halfway through (it costs a few frames) */
  screenshots: string | undefined;
}

export const OVERLAY_HELP = `usage: node dist/bench/overlay.js [--seconds 20] [--rate 60] [--engines ${ENGINES.join(',')}] [--out FILE] [--screenshots DIR]`;

export function parseOverlayOptions(argv: string[]): OverlayBenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: { seconds: { type: 'string', default: '20' }, rate: { type: 'string', default: '60' }, engines: { type: 'string', default: DEFAULT_ENGINES.join(',') }, out: { type: 'string' }, screenshots: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    console.log(OVERLAY_HELP);
    process.exit(0);
  }
  const seconds = Number(values.seconds);
  const rate = Number(values.rate);
  if (!(seconds > 0) || !(rate > 0)) throw new Error(`--seconds and --rate must be positive numbers\n${OVERLAY_HELP}`);
  const engines = values.engines.split(',').filter(Boolean);
  const unknown = engines.filter((e) => !(ENGINES as readonly string[]).includes(e));
  if (unknown.length) throw new Error(`unknown engine ${unknown.join(', ')}: one of ${ENGINES.join(', ')}`);
  return { seconds, rate, engines, out: values.out, screenshots: values.screenshots };
}

/** The page and its script, bundled in memory and served on a free loopback port. */
async function servePage(): Promise<{ url: string; server: Server }> {
  const bundle = await build({ entryPoints: [join(ROOT, 'bench', 'overlay', 'page.ts')], bundle: true, format: 'esm', target: 'es2022', minify: true, write: false, logLevel: 'warning' });
  const js = bundle.outputFiles[0]!.contents;
  const html = '<!doctype html><html><head><meta charset="utf-8"><title>overlay bench</title><style>html,body{margin:0;background:#000;overflow:hidden}#stage{position:relative;width:1280px;height:720px;overflow:hidden}</style></head><body><div id="stage"></div><script type="module" src="/page.js"></script></body></html>';
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/page.js')) res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    else if (req.url === '/favicon.ico') res.writeHead(204).end();
    else res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

export type EngineResult = PageResult & { mainThread: MainThreadFigures };

export async function runOverlayBench(o: OverlayBenchOptions): Promise<EngineResult[]> {
  const { url, server } = await servePage();
  const browser = await launchChromium();
  const results: EngineResult[] = [];
  const traces = mkdtempSync(join(tmpdir(), 'overlay-bench-'));
  try {
    for (const engine of o.engines) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
      const page = await context.newPage();
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') console.error(`  [${engine}] console ${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => console.error(`  [${engine}] page error: ${e.message}`));
      const tracePath = join(traces, `${engine}.json`);
      await browser.startTracing(page, { path: tracePath, categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'toplevel'] });
      await page.goto(`${url}?engine=${engine}&seconds=${o.seconds}&rate=${o.rate}`);
      if (o.screenshots) {
        mkdirSync(o.screenshots, { recursive: true });
        await page.waitForTimeout(1000 + (o.seconds * 1000) / 2);
        await page.screenshot({ path: join(o.screenshots, `overlay-${engine}.png`) });
      }
      const r = await page.evaluate(() => (window as unknown as { benchResult: Promise<PageResult> }).benchResult, undefined);
      await browser.stopTracing();
      const events = (JSON.parse(readFileSync(tracePath, 'utf8')) as { traceEvents: TraceEvent[] }).traceEvents;
      results.push({ ...r, mainThread: mainThreadFigures(events) });
      console.error(`  ${engine}: done`);
      await context.close();
    }
  } finally {
    await browser.close();
    server.close();
    rmSync(traces, { recursive: true, force: true });
  }
  return results;
}

const f = (n: number) => n.toFixed(1);

/**
 * Chromium coarsens the timestamps a page sees to 0.1 ms, so the deltas of a 60 Hz display's
 * frames (16.67 ms) read 16.6 or 16.8: a p95 of 16.8 is every frame on time. Met when the p95 is
 * within that rounding of the target (a dropped frame reads 33.3).
 */
export const TIMER_ROUNDING_MS = 0.2;
export function meetsP95(r: PageResult): boolean {
  return r.frameMs.p95 <= TARGET_P95_MS + TIMER_ROUNDING_MS;
}

export function overlayTable(results: EngineResult[]): string {
  const head = ['engine', 'fps', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'long tasks', 'longest ms', 'shed', 'max on screen', 'p95 target', 'long-task target', 'main CPU ms/s', 'tasks >50 ms CPU', 'layouts/s', 'style ms/s', 'commit ms/s'];
  const rows = results.map((r) => [
    r.engine,
    f(r.fps),
    f(r.frameMs.p50),
    f(r.frameMs.p95),
    f(r.frameMs.p99),
    f(r.frameMs.max),
    r.longTasks ? String(r.longTasks.count) : 'n/a',
    r.longTasks ? f(r.longTasks.maxMs) : 'n/a',
    String(r.shed),
    String(r.maxOnScreen),
    meetsP95(r) ? 'ok' : 'MISSED',
    r.longTasks && r.longTasks.maxMs <= TARGET_LONG_TASK_MS ? 'ok' : r.longTasks ? 'MISSED' : 'n/a',
    f(r.mainThread.cpuMsPerS),
    String(r.mainThread.longCpu),
    f(r.mainThread.layoutsPerS),
    f(r.mainThread.styleMsPerS),
    f(r.mainThread.commitMsPerS),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** `npm run bench -- overlay [options]` and `node dist/bench/overlay.js [options]`. */
export async function overlayMain(argv: string[]): Promise<void> {
  const o = parseOverlayOptions(argv);
  console.error(`overlay bench: ${o.seconds} s of ${o.rate} danmaku/s + 1 gift / 2 s at 1280x720, engines ${o.engines.join(', ')}`);
  const results = await runOverlayBench(o);
  const at = new Date().toISOString();
  const out = o.out ?? join(ROOT, 'bench', 'results', `overlay-${at.replace(/[:.]/g, '-')}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ scenario: 'overlay', at, options: { seconds: o.seconds, rate: o.rate, viewport: '1280x720' }, targets: { p95Ms: TARGET_P95_MS, longTaskMs: TARGET_LONG_TASK_MS }, results }, null, 2));
  const video = results.map((r) => `${r.engine}: ${r.video.playing ? 'playing' : 'NOT playing'} (${r.video.currentTime.toFixed(1)} s, ${r.video.canvasFrames} canvas frames)`).join('; ');
  console.log(`${overlayTable(results)}\n\nvideo: ${video}\nresults: ${out}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  overlayMain(process.argv.slice(2)).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
