// The reconnect rate of a drain (`cluster --drain`): a gateway holding every viewer gets
// SIGTERM mid-run, and each viewer's reconnect to the other gateway is timed when its WebSocket
// opens (worker.ts). Counted in 100 ms and 1 s buckets aligned on the instant the gateway began
// moving clients (its log line), the peak against the average over its drain window: the issue's
// target is a peak (1 s buckets) within 2x the average with 10,000 viewers. Pure, for tests.

/** What the drained gateway said in its log (gateway.ts, drainChanged). */
export interface DrainLog {
  /** ms since the epoch: the `draining: moving connections` line; null if it never logged one */
  readonly movingAt: number | null;
  /** ms since the epoch: the `drained` line (the last client was told to go) */
  readonly drainedAt: number | null;
  readonly notReadyMs: number;
  readonly windowMs: number;
  /** connections when the drain began */
  readonly connections: number;
}

export interface RateBucket {
  /** seconds since the signal, at the bucket's start (buckets are aligned on the window's start: the first may begin before the signal) */
  readonly t: number;
  /** reconnects in the bucket */
  readonly n: number;
}

export interface DrainFigures {
  readonly gateway: string;
  /** the signal: ms since the epoch, and seconds into the measured window */
  readonly signalAt: number;
  readonly atS: number;
  readonly log: DrainLog;
  /** the process's exit code (null: still running at the end of the run) */
  readonly exitCode: number | null;
  /** reconnects after the signal, and of them within the window [moving, moving + windowMs + 1 s) */
  readonly reconnects: number;
  readonly inWindow: number;
  /** from the signal to the first and the last reconnect (ms) */
  readonly firstMs: number | null;
  readonly lastMs: number | null;
  /** rates per second over the window: the average, the peak 1 s bucket, the peak 100 ms bucket (x10) */
  readonly average: number;
  readonly peak1s: number;
  readonly peak100ms: number;
  /** the peaks over the average (the target: peak1s / average <= 2) */
  readonly ratio1s: number;
  readonly ratio100ms: number;
  readonly perSecond: RateBucket[];
  readonly per100ms: RateBucket[];
}

/** Counts of `times` in buckets of `sizeMs` from `from` (inclusive) to `to` (exclusive), `t` in seconds since `origin`. */
export function buckets(times: readonly number[], from: number, to: number, sizeMs: number, origin: number): RateBucket[] {
  const n = Math.max(0, Math.ceil((to - from) / sizeMs));
  const counts = new Array<number>(n).fill(0);
  for (const at of times) {
    if (at < from || at >= to) continue;
    counts[Math.floor((at - from) / sizeMs)]!++;
  }
  return counts.map((c, i) => ({ t: Math.round((from + i * sizeMs - origin) / 10) / 100, n: c }));
}

const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

/**
 * The figures of a drain. The window is [moving, moving + windowMs) as the gateway logged it
 * (without its log: the signal plus the not-ready time); the average is the reconnects in it
 * over its length (at least 1 s), the peaks are the fullest bucket of each size within it.
 */
export function drainFigures(o: { gateway: string; signalAt: number; atS: number; log: DrainLog; exitCode: number | null; reconnects: readonly number[]; endAt: number }): DrainFigures {
  const after = o.reconnects.filter((at) => at >= o.signalAt).sort((a, b) => a - b);
  const start = o.log.movingAt ?? o.signalAt + o.log.notReadyMs;
  const windowMs = Math.max(1000, o.log.windowMs);
  const inside = after.filter((at) => at >= start && at < start + windowMs);
  const per1 = buckets(after, start, start + windowMs, 1000, o.signalAt);
  const per01 = buckets(after, start, start + windowMs, 100, o.signalAt);
  const average = inside.length / (windowMs / 1000);
  const peak1s = Math.max(0, ...per1.map((b) => b.n));
  const peak100ms = Math.max(0, ...per01.map((b) => b.n)) * 10;
  // For the chart: from the signal (rounded down to a bucket boundary of the window's) to the end of the run.
  const end = Math.max(o.endAt, start + windowMs);
  const from = (size: number) => start - Math.ceil((start - o.signalAt) / size) * size;
  return {
    gateway: o.gateway,
    signalAt: o.signalAt,
    atS: o.atS,
    log: o.log,
    exitCode: o.exitCode,
    reconnects: after.length,
    inWindow: after.filter((at) => at >= start && at < start + windowMs + 1000).length,
    firstMs: after.length > 0 ? after[0]! - o.signalAt : null,
    lastMs: after.length > 0 ? after.at(-1)! - o.signalAt : null,
    average: round(average),
    peak1s,
    peak100ms,
    ratio1s: average > 0 ? round(peak1s / average) : 0,
    ratio100ms: average > 0 ? round(peak100ms / average) : 0,
    perSecond: buckets(after, from(1000), end, 1000, o.signalAt),
    per100ms: buckets(after, from(100), end, 100, o.signalAt),
  };
}

/** The drain's numbers from the gateway's JSON log lines (gateway.ts, drainChanged). */
export function drainLog(lines: readonly Record<string, unknown>[]): DrainLog {
  const moving = lines.find((l) => l.msg === 'draining: moving connections');
  const drained = lines.find((l) => l.msg === 'drained: refusing new connections');
  const plan = ((moving ?? drained)?.plan ?? {}) as Record<string, unknown>;
  return {
    movingAt: typeof moving?.time === 'number' ? moving.time : null,
    drainedAt: typeof drained?.time === 'number' ? drained.time : null,
    notReadyMs: Number(plan.notReadyMs) || 0,
    windowMs: Number(plan.windowMs) || 0,
    connections: Number(plan.connections) || 0,
  };
}
