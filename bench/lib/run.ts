// One measured run of a scenario against one target: connect (ramped), idle, send for a
// warm-up and the measured window, drain, then loss. Every second it prints a progress line
// and keeps a point of the timeline that the chart draws. With faults (faults.ts), they are
// injected at their second of the window; with resume (resume.ts), closed connections come
// back, and the report says how, and what the viewers that came back missed apart from those
// that stayed.

import { drainFigures, drainLog, type DrainFigures } from './drain-report.js';
import { applies, inject, type FaultName, type FaultRecord } from './faults.js';
import { Fleet, accumulate, emptyTotals, type Totals } from './fleet.js';
import type { Histogram } from './histogram.js';
import type { Delivery, Loss } from './loss.js';
import { CLOSE_NAMES } from './protocol.js';
import type { Target } from './target.js';
import { metricOf, parseSamples, scrape } from './prom.js';
import { procUsage } from './usage.js';
import type { ConnSpec, SendPlan } from './worker-messages.js';

export interface Plan {
  readonly conns: ConnSpec[];
  /** per-sender rates; none: nobody sends */
  readonly send?: SendPlan;
  readonly switches?: { perSecond: number; rooms: string[] };
  /** whether each viewer should have seen everything of its room (not when viewers switch) */
  readonly checkLoss: boolean;
}

export interface RunOptions {
  /** the run's prefix (run-id.ts), as given to the scenario's plan */
  readonly run: string;
  readonly durationS: number;
  readonly warmupS: number;
  readonly rampS: number;
  readonly workers: number;
  readonly addresses: string[];
  readonly quiet: boolean;
  /** closed connections come back with since/epoch */
  readonly resume?: boolean;
  /** coming back without since (a client of before room recovery) */
  readonly plainRejoin?: boolean;
  /** injected `faultAtS` s into the window, on a target they apply to (a cluster) */
  readonly faults?: readonly FaultName[];
  readonly faultAtS?: number;
  /** connections offer permessage-deflate (--deflate) */
  readonly deflate?: boolean;
  /** viewers start on the first URL, senders on the last (--drain) */
  readonly pinViewers?: boolean;
  /** read the servers' degradation level every second (--overload): the timeline's `level` */
  readonly levels?: boolean;
}

export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** Viewers that lost their connection and came back (resume.ts), over the whole run. */
export interface ResumeFigures {
  /** viewers back (a viewer closed twice counts twice), and viewers closed and not back by the end */
  readonly back: number;
  readonly notBack: number;
  /** JOINED outcomes: recovered, kept, lost, epoch_changed, unsupported (no `recovered` in it) */
  readonly outcomes: Record<string, number>;
  /** from the loss of the connection to the JOINED on the new one; of which from the JOIN to the JOINED */
  readonly time: LatencySummary;
  readonly join: LatencySummary;
  /** replay items the viewers lacked, and replay items they already held (de-duplicated) */
  readonly recoveredItems: number;
  readonly replayDuplicates: number;
  /** attempts that got no JOINED (a dead gateway's URL, a refusal); senders that came back */
  readonly dialFailures: number;
  readonly senderResumes: number;
  /** unsolicited JOINED (rid 0): a room's numbering restarted under connected viewers */
  readonly epochResets: number;
}

export interface Point {
  readonly t: number;
  readonly items: number;
  readonly frames: number;
  readonly p50: number;
  readonly p99: number;
  /** connections closed so far (after joining) */
  readonly closed: number;
  /** the highest degradation level of the target's gateways at that second (with --overload; absent when unread) */
  readonly level?: number;
}

export interface RunResult {
  readonly target: string;
  /** the prefix of this run's user ids and client message ids */
  readonly run: string;
  readonly connections: {
    wanted: number;
    connected: number;
    failed: number;
    /** connections that joined and were closed before the end of the run, and how many per close code */
    closed: number;
    closeCodes: Record<string, number>;
    seconds: number;
    perSecond: number;
    joinP50: number;
    joinP99: number;
  };
  readonly delay: { p50: number; p90: number; p99: number; max: number };
  readonly itemsPerSec: number;
  readonly framesPerSec: number;
  readonly sentPerSec: number;
  readonly ack: { p50: number; p99: number };
  /** over the viewers that stayed open (closed ones are in `connections.closed`) */
  readonly loss: Loss | null;
  readonly duplicates: number;
  readonly isolationErrors: number;
  readonly switches: number;
  readonly errors: Record<string, number>;
  /** what the connections read over the window: socket bytes (compressed where negotiated) and message bytes (absent in results of before issue 13) */
  readonly wire?: { deflate: boolean; bytesPerItem: number; bytesPerFrame: number; payloadBytesPerItem: number };
  readonly server: { cpuSeconds: number; cpuPerFrameUs: number; cpuPerItemUs: number; rssBytes: number; rssPerConnBytes: number } | null;
  readonly loadgen: { cpuSeconds: number; cores: number };
  readonly timeline: Point[];
  /** gifts over the window: from `t` to their first sight by each viewer (live, or recovered on coming back) */
  readonly gifts: { delay: LatencySummary } | null;
  /** delivery by kind and by seq, viewers that stayed apart from those that came back (loss.ts) */
  readonly delivery: Delivery | null;
  readonly resume: ResumeFigures | null;
  readonly faults: FaultRecord[];
  /** a drained gateway's viewers coming back: their reconnect rate (drain-report.ts); absent in results of before issue 13 */
  readonly drain?: DrainFigures | null;
  /**
   * with --overload: each server's or gateway's danmaku_degrade_steps_total at the end of the
   * run, by `direction:signal` (`up:cpu`, `down:none`...): which signal raised the level
   */
  readonly degradeSteps?: DegradeSteps[];
}

export interface DegradeSteps {
  readonly process: string;
  /** null when its /metrics could not be read */
  readonly steps: Record<string, number> | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
const latency = (h: Histogram): LatencySummary => ({ count: h.count, p50: round(h.quantile(0.5)), p99: round(h.quantile(0.99)), max: round(h.max) });

/** "12 closed: 4001 idle_timeout x10, 1006 x2" (empty when none were closed) */
export function closedSummary(t: Pick<Totals, 'closed' | 'closeCodes'>): string {
  if (t.closed === 0) return '';
  const codes = Object.entries(t.closeCodes)
    .sort((a, b) => b[1] - a[1])
    .map(([code, n]) => `${code}${CLOSE_NAMES[Number(code)] ? ` ${CLOSE_NAMES[Number(code)]}` : ''} x${n}`);
  return `${t.closed} closed: ${codes.join(', ')}`;
}

/** A progress line on stderr: rewritten in place on a terminal, one line each otherwise. */
export function progress(quiet: boolean, line: string): void {
  if (quiet) return;
  process.stderr.write(process.stderr.isTTY ? `\r\x1b[K${line}` : `${line}\n`);
}

/** The reconnect figures of a drain-gateway fault (drain-report.ts), from the drained gateway's log. */
function drainOf(target: Target, injected: readonly FaultRecord[], reconnects: readonly number[]): DrainFigures | null {
  const f = injected.find((x) => x.fault === 'drain-gateway');
  if (!f) return null;
  const p = target.processes.find((x) => x.name === f.process);
  return drainFigures({ gateway: f.process, signalAt: f.at, atS: f.atS, log: drainLog(p?.logs?.() ?? []), exitCode: p?.exitCode?.() ?? null, reconnects, endAt: Date.now() });
}

/**
 * How long a level read may take: it runs beside the once-a-second measuring loop (a loaded
 * server answers /metrics late) and a second's reading that comes later than this is left out.
 */
export const LEVEL_READ_TIMEOUT_MS = 800;

/** The target's server and gateway processes that serve /metrics. */
function degradable(target: Target) {
  return target.processes.filter((p) => (p.role === 'server' || p.role === 'gateway') && p.metricsUrl && p.alive());
}

/** The highest danmaku_degrade_level of the target's server or gateway processes; null when none could be read. */
async function degradeLevel(target: Target, timeoutMs: number): Promise<number | null> {
  const urls = degradable(target).map((p) => p.metricsUrl!);
  const levels = await Promise.all(urls.map((u) => scrape(u, timeoutMs).then((text) => metricOf(text, 'danmaku_degrade_level'), () => null)));
  const read = levels.filter((l): l is number => l !== null);
  return read.length > 0 ? Math.max(...read) : null;
}

/** Each server's or gateway's danmaku_degrade_steps_total by `direction:signal`. */
async function degradeSteps(target: Target): Promise<DegradeSteps[]> {
  return Promise.all(
    degradable(target).map(async (p) => {
      try {
        const steps: Record<string, number> = {};
        for (const x of parseSamples(await scrape(p.metricsUrl!))) {
          if (x.name === 'danmaku_degrade_steps_total') steps[`${x.labels.direction}:${x.labels.signal}`] = x.value;
        }
        return { process: p.name, steps };
      } catch {
        return { process: p.name, steps: null };
      }
    }),
  );
}

export async function measure(target: Target, plan: Plan, opts: RunOptions): Promise<RunResult> {
  const before = await target.usage();
  const connectStarted = Date.now();
  progress(opts.quiet, `[${target.name}] connecting ${plan.conns.length} over ${opts.rampS} s...`);
  const fleet = await Fleet.open({ run: opts.run, urls: target.urls, conns: plan.conns, workers: opts.workers, addresses: opts.addresses, rampMs: opts.rampS * 1000, resume: opts.resume, plainRejoin: opts.plainRejoin, inbox: plan.send?.group === true, deflate: opts.deflate, pinViewers: opts.pinViewers });
  const faults = (opts.faults ?? []).filter((f) => applies(target, f));
  const injected: FaultRecord[] = [];
  const connectSeconds = (Date.now() - connectStarted) / 1000;
  try {
    const all = emptyTotals();
    const joined = await fleet.report();
    accumulate(all, joined);
    await sleep(1000); // let the server settle before reading its memory
    const idle = await target.usage();

    if (plan.send) fleet.send(plan.send);
    if (plan.switches) fleet.switchRooms(plan.switches.perSecond, plan.switches.rooms);
    await sleep(opts.warmupS * 1000);
    accumulate(all, await fleet.report());

    const window = emptyTotals();
    const timeline: Point[] = [];
    // Level reads run beside the loop, one a second at most, each filling in its second's point when it answers.
    const levelReads: Promise<void>[] = [];
    let lastLevel: number | null = null;
    let reading = false;
    const start = await target.usage();
    const genStart = procUsage(process.pid);
    const started = Date.now();
    for (let s = 1; s <= opts.durationS; s++) {
      await sleep(started + s * 1000 - Date.now());
      const r = await fleet.report();
      accumulate(all, r);
      accumulate(window, r);
      const point: { -readonly [K in keyof Point]: Point[K] } = { t: s, items: r.items, frames: r.frames, p50: round(r.delay.quantile(0.5)), p99: round(r.delay.quantile(0.99)), closed: r.closed };
      timeline.push(point);
      if (opts.levels && !reading) {
        reading = true;
        levelReads.push(
          degradeLevel(target, LEVEL_READ_TIMEOUT_MS).then((level) => {
            reading = false;
            if (level === null) return;
            point.level = level;
            lastLevel = level;
          }),
        );
      }
      const level = lastLevel;
      const closed = closedSummary(r);
      const back = all.resumed + all.senderResumes;
      progress(opts.quiet, `[${target.name}] ${s}/${opts.durationS} s${level === null ? '' : ` | level ${level}`} | conns ${r.connected - r.closed + back}/${plan.conns.length} open${closed ? ` (${closed}${back > 0 ? `, ${back} back` : ''})` : ''} | ${r.items.toLocaleString('en')} items/s, ${r.frames.toLocaleString('en')} frames/s | p99 ${round(window.delay.quantile(0.99))} ms so far`);
      if (s === opts.faultAtS) {
        for (const f of faults) {
          const rec = await inject(target, f, s);
          injected.push(rec);
          progress(opts.quiet, `[${target.name}] fault: ${f} ${rec.process} (pid ${rec.pid}) at ${s} s`);
        }
      }
    }
    const elapsed = (Date.now() - started) / 1000;
    const end = await target.usage();
    const genEnd = procUsage(process.pid);
    // after the window's CPU reading: the last level reads (at most LEVEL_READ_TIMEOUT_MS) and the steps
    await Promise.all(levelReads);
    const steps = opts.levels ? await degradeSteps(target) : undefined;
    fleet.stop();
    await sleep(1500); // drain: late items still count for loss
    const last = await fleet.report();
    accumulate(all, last);
    const loss = plan.checkLoss && plan.send ? await fleet.loss(all.sent) : null;
    const delivery = plan.checkLoss && plan.send ? await fleet.delivery(await fleet.acked(), all.sent) : null;
    if (!opts.quiet && process.stderr.isTTY) process.stderr.write('\n');

    const sent = Object.values(window.sent).reduce((n, v) => n + v.danmaku + v.likes + v.gifts, 0);
    const cpu = start && end ? end.cpu - start.cpu : null;
    return {
      target: target.name,
      run: opts.run,
      connections: {
        wanted: plan.conns.length,
        connected: last.connected,
        failed: last.failed,
        closed: last.closed,
        closeCodes: last.closeCodes,
        seconds: round(connectSeconds, 2),
        perSecond: round(joined.connected / connectSeconds),
        joinP50: round(all.join.quantile(0.5)),
        joinP99: round(all.join.quantile(0.99)),
      },
      delay: { p50: round(window.delay.quantile(0.5)), p90: round(window.delay.quantile(0.9)), p99: round(window.delay.quantile(0.99)), max: round(window.delay.max) },
      itemsPerSec: round(window.items / elapsed),
      framesPerSec: round(window.frames / elapsed),
      sentPerSec: round(sent / elapsed),
      ack: { p50: round(window.ack.quantile(0.5)), p99: round(window.ack.quantile(0.99)) },
      loss,
      duplicates: all.duplicates,
      isolationErrors: all.isolation,
      switches: all.switches,
      errors: all.errors,
      wire: {
        deflate: opts.deflate === true,
        bytesPerItem: window.items > 0 ? round(window.wireBytes / window.items) : 0,
        bytesPerFrame: window.frames > 0 ? round(window.wireBytes / window.frames) : 0,
        payloadBytesPerItem: window.items > 0 ? round(window.payloadBytes / window.items) : 0,
      },
      server:
        cpu === null || !end || !before || !idle
          ? null
          : {
              cpuSeconds: round(cpu, 3),
              cpuPerFrameUs: window.frames > 0 ? round((cpu * 1e6) / window.frames, 3) : 0,
              cpuPerItemUs: window.items > 0 ? round((cpu * 1e6) / window.items, 3) : 0,
              rssBytes: end.rss,
              rssPerConnBytes: joined.connected > 0 ? Math.round((idle.rss - before.rss) / joined.connected) : 0,
            },
      loadgen: { cpuSeconds: genStart && genEnd ? round(genEnd.cpu - genStart.cpu, 3) : 0, cores: genStart && genEnd ? round((genEnd.cpu - genStart.cpu) / elapsed, 2) : 0 },
      timeline,
      gifts: plan.send && plan.send.gifts > 0 ? { delay: latency(window.giftDelay) } : null,
      delivery,
      resume: opts.resume
        ? {
            back: all.resumed,
            notBack: delivery?.notBack ?? 0,
            outcomes: all.outcomes,
            time: latency(all.resumeTime),
            join: latency(all.resumeJoin),
            recoveredItems: all.recoveredItems,
            replayDuplicates: all.replayDuplicates,
            dialFailures: all.dialFailures,
            senderResumes: all.senderResumes,
            epochResets: all.epochResets,
          }
        : null,
      faults: injected,
      drain: drainOf(target, injected, all.reconnects),
      ...(steps ? { degradeSteps: steps } : {}),
    };
  } finally {
    await fleet.close();
  }
}
