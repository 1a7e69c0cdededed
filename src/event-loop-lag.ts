// Event-loop lag, measured by Node's native monitor (perf_hooks.monitorEventLoopDelay) and
// moved once a second into a cumulative histogram (danmaku_event_loop_lag_seconds), plus the
// worst lag of the last second, which admission reads (gateway/admission.ts).
//
// Why not prom-client's nodejs_eventloop_lag_*: its monitor samples every 10 ms and records the
// whole time between two samples, so an idle loop reads 10 ms (a floor), and its percentiles are
// reset at every scrape (a p99 per scrape interval, which cannot be aggregated over time or
// over processes). Here:
// - the monitor ticks every RESOLUTION_MS (5 ms: an idle process pays under 1% of a core for
//   the wakeups, against 1.5% at 2 ms), and a tick's lag is its delay past the due time (the
//   recorded interval minus the resolution), so an idle loop reads about 0. A stall of S ms
//   reads between S - 5 and S ms (it may start just after a tick).
// - each observation stands for one RESOLUTION_MS slot of wall time, not one tick: a stall
//   of L ms delays a single tick, and also the ticks that would have been due during it, so
//   it is recorded as L, L - 5, L - 10, ... ms (HdrHistogram's correction for coordinated
//   omission). Without it a 500 ms stall in an otherwise idle second would be 1 sample in 100,
//   and the p99 would hide it; with it the histogram says what a message arriving at a random
//   moment waits. The count grows by about 200 per second whatever the load.
// - the native monitor keeps its samples in an HDR histogram that Node exposes only as
//   (percentile, value) points: the samples are rebuilt from them (lagSamples), exactly for
//   the maximum and to within one percentile step elsewhere.

import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** The monitor's sampling period (ms). */
export const RESOLUTION_MS = 5;

/** How often the monitor's samples move into the histogram (ms). */
export const FLUSH_INTERVAL_MS = 1_000;

/** Where the lag samples go: one call per sample value, with how many samples had it. */
export interface LagObserver {
  eventLoopLag(seconds: number, samples: number): void;
  /** the worst lag of the last flushed interval (seconds) */
  eventLoopLagMax(seconds: number): void;
}

/** What admission reads: cheap, no allocation. */
export interface LagSource {
  /** the event-loop lag (ms) that admission compares with its threshold */
  recentMs(): number;
}

/**
 * The lag samples (ms, time-weighted as above) of one interval, from the monitor's
 * (percentile, interval ns) points: [lag ms, samples] pairs.
 *
 * Node reports, for each target percentile (0, 50, 75, 87.5, ... halving towards 100), the
 * lowest recorded value that reaches it. So the share of samples at or below a value v lies
 * between the last target reported at v and the first target reported at a larger value:
 * each value is given the middle of that range (the maximum: everything up to 100, and at
 * least one sample). The body of the distribution is right to one halving step; the tail,
 * where the steps are fine, closely.
 */
export function lagSamples(points: Iterable<[number, number]>, count: number, resolutionMs = RESOLUTION_MS): [number, number][] {
  const out: [number, number][] = [];
  if (count <= 0) return out;
  // distinct values, each with the last and the next target percentile
  const values: { ns: number; last: number; next: number }[] = [];
  for (const [p, ns] of points) {
    const top = values.at(-1);
    if (top && top.ns === ns) top.last = p;
    else {
      if (top) top.next = p;
      values.push({ ns, last: p, next: 100 });
    }
  }
  let below = 0; // samples given out so far, in the exact (fractional) count
  let given = 0; // and rounded
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    const share = i === values.length - 1 ? 100 : (v.last + v.next) / 2;
    below = Math.max(below, (share / 100) * count);
    let n = Math.round(below) - given;
    if (i === values.length - 1 && n <= 0) n = 1; // the maximum is always kept
    if (n <= 0) continue;
    given += n;
    // one sample per slot of the stall: L, L - r, L - 2r, ... (see above)
    let lag = v.ns / 1e6 - resolutionMs;
    do {
      out.push([Math.max(0, lag), n]);
      lag -= resolutionMs;
    } while (lag > 0);
  }
  return out;
}

export class EventLoopLag implements LagSource {
  private readonly monitor: IntervalHistogram;
  private timer: NodeJS.Timeout | null = null;
  /** the worst lag (ms) of the last two flushed intervals, the latest last */
  private maxMs: [number, number] = [0, 0];

  constructor(private readonly observer: LagObserver) {
    this.monitor = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  }

  start(): void {
    if (this.timer) return;
    this.monitor.enable();
    this.timer = setInterval(() => this.flush(), FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
    this.flush();
    this.monitor.disable();
  }

  /** Moves the monitor's samples into the observer and starts a new interval. */
  flush(): void {
    const count = this.monitor.count;
    for (const [ms, n] of lagSamples(this.monitor.percentiles, count)) this.observer.eventLoopLag(ms / 1000, n);
    const max = count > 0 ? Math.max(0, this.monitor.max / 1e6 - RESOLUTION_MS) : 0;
    this.maxMs = [this.maxMs[1], max];
    this.observer.eventLoopLagMax(max / 1000);
    this.monitor.reset();
  }

  /**
   * The lower of the last two seconds' worst lags: a lag that lasts, not one stall (a major
   * GC, or a CPU the process shares being taken for a moment), which would turn viewers away
   * for no gain. A loop that is overloaded stalls every second.
   */
  recentMs(): number {
    return Math.min(this.maxMs[0], this.maxMs[1]);
  }
}
