// One target's run of the upstream scenario: users that each send to and watch their room; a
// warm-up; on a cluster, Redis commands and NATS messages per SEND over a fixed-rate window
// (while it is fresh); steps of offered SENDs/s up to the first that fails (the ceiling is the
// highest that passed); an overload at a multiple of the ceiling, then a drop below it (goodput, ACK p99,
// seconds to recover); a drain until the target is quiet; then loss by seq of everything
// acknowledged, and whether the processes and their connections to NATS and Redis lived
// through it.

import { Fleet } from './fleet.js';
import { healthBetween, readHealth, type ProcessHealth } from './health.js';
import { callsBetween, natsStats, redisCommandCalls, totalCalls, type NatsStats } from './infra-stats.js';
import type { AckedLoss } from './loss.js';
import { ceilingOf, RateDriver, recoverySeconds, stepFailures, type Second, type Window } from './rate-phases.js';
import { bucketsBetween, bucketsOf, histogramQuantile, metricOf, scrape } from './prom.js';
import { progress } from './run.js';
import { connsFor, roomNames, roomOf, tokens } from './scenario.js';
import type { Target, TargetProcess } from './target.js';
import type { UpstreamOptions } from './upstream-options.js';

export interface StepResult extends Window {
  readonly pass: boolean;
  readonly failures: string[];
  /**
   * p99 of danmaku_logic_request_seconds over the step, from the logic processes' /metrics
   * (histogram_quantile of the buckets' increase, as prometheus-adapter's rule computes it for
   * the logic HPA), in ms; null when unreadable or nothing was handled (absent before issue 14)
   */
  readonly logicP99?: number | null;
}

export interface UpstreamCost {
  /** the fixed-rate window */
  readonly rate: number;
  readonly seconds: number;
  /** SENDs the logic processes accepted in it (their /metrics, read with Redis), else ACKs received */
  readonly accepted: number;
  readonly acceptedFrom: 'logic metrics' | 'ACKs';
  /** how the window went: per second offered and ACKed, and ACK p99 (ms) */
  readonly window: { offered: number; acked: number; p99: number };
  /** Redis: all commands (Lua-inner calls included) per accepted SEND, and by command */
  readonly calls: number;
  readonly perSend: number;
  readonly byCommand: Record<string, number>;
  /** calls per second without traffic (presence, registry, ...), and per SEND with those taken out */
  readonly idleSeconds: number;
  readonly idlePerSecond: number;
  readonly netPerSend: number;
  /** NATS messages per accepted SEND, per client connection: published by it, delivered to it */
  readonly nats: Record<string, { published: number; delivered: number }> | null;
}

export interface UpstreamRun {
  readonly target: string;
  readonly run: string;
  readonly connections: { wanted: number; connected: number; failed: number; closed: number; closeCodes: Record<string, number> };
  readonly steps: StepResult[];
  /** the highest step that passed (SENDs/s offered), null if the first failed */
  readonly ceiling: number | null;
  /** what the overload and recovery rates are multiples of: the ceiling, else the first step */
  readonly reference: number;
  readonly cost: UpstreamCost | null;
  readonly overload: Window;
  readonly recover: Window & { readonly recoverySeconds: number | null };
  /** loss by seq of the messages acknowledged by the end of the drain, checked ITEM_GRACE_S later */
  readonly loss: AckedLoss;
  /** how long the drain took, and whether the target had gone quiet (no reply, no delivery for a second) */
  readonly drain: { seconds: number; quiet: boolean };
  readonly duplicates: number;
  readonly processes: ProcessHealth[];
  /** clients nats-server cut off as slow consumers during the run (cluster) */
  readonly natsSlowConsumers: number | null;
  readonly timeline: Second[];
  readonly marks: { t: number; phase: string; rate: number }[];
}

export interface UpstreamRunOptions {
  readonly users: number;
  readonly rooms: number;
  readonly tokenSecret: string;
  readonly workers: number;
  readonly addresses: string[];
  readonly rampS: number;
  /** seconds at half the first step before anything is measured */
  readonly warmupS: number;
  readonly quiet: boolean;
}

const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

/** Seconds between taking the acknowledged messages and checking them against deliveries. */
const ITEM_GRACE_S = 3;

export async function measureUpstream(target: Target, run: string, u: UpstreamOptions, o: UpstreamRunOptions): Promise<UpstreamRun> {
  const say = (line: string) => progress(o.quiet, `[${target.name}] ${line}`);
  const rooms = roomNames(o.rooms);
  // Every user is a sender (with a token) and a receiver of its room.
  const conns = connsFor(run, [], Array.from({ length: o.users }, (_, i) => roomOf(i, o.users, rooms, 'uniform')), tokens(o.tokenSecret));
  say(`connecting ${conns.length} users over ${o.rampS} s...`);
  const fleet = await Fleet.open({ run, urls: target.urls, conns, workers: o.workers, addresses: o.addresses, rampMs: o.rampS * 1000, replyTimeoutMs: u.replyTimeoutS * 1000 });
  try {
    const driver = new RateDriver(fleet, o.users, target.processes, say);
    const healthBefore = await readHealth(target.processes);
    const nats0 = target.infra?.natsMonitorUrl ? await natsStats(target.infra.natsMonitorUrl) : null;
    const idle = target.infra ? await idleCalls(target.infra.redisPort, driver, u.redisIdleSeconds) : null;
    // A fresh process answers its first seconds of SENDs slowly (compilation, first use of
    // every path and script): warm it up at half the first step before measuring anything.
    const gentle = u.redisRate ?? Math.round(u.start / 2);
    if (o.warmupS > 0) await driver.run('warm-up', gentle, o.warmupS);
    const cost = target.infra && idle ? await upstreamCost(target, target.infra, driver, gentle, u.redisSeconds, idle) : null;

    const steps = await stepUp(driver, u, target.processes);
    const ceiling = ceilingOf(steps);
    const reference = ceiling ?? u.start;

    const overload = await driver.run('overload', Math.round(u.overloadFactor * reference), u.overloadSeconds);
    const recover = await driver.run('recover', Math.round(u.recoverFactor * reference), u.recoverSeconds);
    const recovery = recoverySeconds(driver.timeline.slice(-recover.seconds));
    const drain = await drainUntilQuiet(driver, u.drainSeconds);
    // The acknowledged messages as of now, checked after a few more seconds: the items of the
    // last ACKs may still be on their way, above all from a target not quiet yet.
    const acked = await fleet.acked();
    await driver.run('drain', 0, ITEM_GRACE_S);
    say('checking every acknowledged message against every connection of its room...');
    const loss = await fleet.ackedLoss(acked);
    const nats1 = target.infra?.natsMonitorUrl ? await natsStats(target.infra.natsMonitorUrl) : null;
    const last = driver.last;
    return {
      target: target.name,
      run,
      connections: { wanted: conns.length, connected: last.connected, failed: last.failed, closed: last.closed, closeCodes: last.closeCodes },
      steps,
      ceiling,
      reference,
      cost,
      overload,
      recover: { ...recover, recoverySeconds: recovery },
      loss,
      drain,
      duplicates: driver.all.duplicates,
      processes: healthBetween(target.processes, healthBefore, await readHealth(target.processes)),
      natsSlowConsumers: nats0 && nats1 ? nats1.slowConsumers - nats0.slowConsumers : null,
      timeline: driver.timeline,
      marks: driver.marks,
    };
  } finally {
    if (!o.quiet && process.stderr.isTTY) process.stderr.write('\n');
    await fleet.close();
  }
}

/**
 * Steps of offered SENDs/s up to the first that fails (or the last, `max`). If the very first
 * fails (a slow or busy machine), down by halves, at most 3 times, until one passes, each
 * after the target has gone quiet (a backlog left by the failed step would fail the next):
 * the overload and recovery are then relative to something the target did sustain.
 */
async function stepUp(driver: RateDriver, u: UpstreamOptions, processes: readonly TargetProcess[]): Promise<StepResult[]> {
  const steps: StepResult[] = [];
  const step = async (rate: number) => {
    if (u.settleSeconds > 0) await driver.run('settle', rate, u.settleSeconds);
    const before = await logicBuckets(processes);
    const w = await driver.run('step', rate, u.stepSeconds);
    const after = await logicBuckets(processes);
    const failures = stepFailures(w);
    const p99 = before && after ? histogramQuantile(0.99, bucketsBetween(before, after)) : NaN;
    steps.push({ ...w, pass: failures.length === 0, failures, logicP99: Number.isFinite(p99) ? Math.round(p99 * 10_000) / 10 : null });
    return failures.length === 0;
  };
  for (let rate = u.start; rate <= u.max; rate += u.step) if (!(await step(rate))) break;
  if (steps.length === 1 && !steps[0]!.pass) {
    for (let rate = Math.round(u.start / 2), n = 0; n < 3 && rate >= 1; rate = Math.round(rate / 2), n++) {
      await drainUntilQuiet(driver, Math.min(u.drainSeconds, 2 * u.replyTimeoutS), 'rest');
      if (await step(rate)) break;
    }
  }
  return steps;
}

/**
 * Stops sending and waits (at most `maxSeconds`) for a whole second without a reply (on time
 * or late) or a delivery: an overloaded target may still be working through a backlog of
 * SENDs, whose ACKs and items come long after the reply timeout.
 */
async function drainUntilQuiet(driver: RateDriver, maxSeconds: number, phase = 'drain'): Promise<{ seconds: number; quiet: boolean }> {
  for (let waited = 1; waited <= maxSeconds; waited++) {
    await driver.run(phase, 0, 1);
    const l = driver.last;
    if (l.pendingAcks === 0 && l.items === 0 && l.ack.count === 0 && l.late === 0 && Object.keys(l.refused).length === 0) return { seconds: waited, quiet: true };
  }
  return { seconds: maxSeconds, quiet: false };
}

/** Redis calls per second with no traffic at all (background work of the cluster). */
async function idleCalls(port: number, driver: RateDriver, seconds: number): Promise<{ seconds: number; perSecond: number } | null> {
  const before = await redisCommandCalls(port);
  if (seconds > 0) await driver.run('idle', 0, seconds);
  const after = await redisCommandCalls(port);
  if (!before || !after) return null;
  return { seconds, perSecond: seconds > 0 ? round(totalCalls(callsBetween(before, after)) / seconds) : 0 };
}

/** danmaku_logic_request_seconds' buckets summed over the target's logic processes (all ops); null if one is unreadable. */
async function logicBuckets(processes: readonly TargetProcess[]): Promise<Map<number, number> | null> {
  const sum = new Map<number, number>();
  for (const p of processes) {
    if (!p.metricsUrl || (p.role !== 'logic' && p.role !== 'server')) continue;
    try {
      for (const [le, n] of bucketsOf(await scrape(p.metricsUrl, 2000), 'danmaku_logic_request_seconds')) sum.set(le, (sum.get(le) ?? 0) + n);
    } catch {
      return null;
    }
  }
  return sum;
}

/** SENDs accepted so far by the target's logic processes (danmaku_upstream_messages_total), null if unreadable. */
async function acceptedSoFar(processes: readonly TargetProcess[]): Promise<number | null> {
  let sum = 0;
  for (const p of processes) {
    if (!p.metricsUrl || (p.role !== 'logic' && p.role !== 'server')) continue;
    try {
      sum += metricOf(await scrape(p.metricsUrl, 2000), 'danmaku_upstream_messages_total', { result: 'accepted' }) ?? 0;
    } catch {
      return null;
    }
  }
  return sum;
}

async function upstreamCost(target: Target, infra: NonNullable<Target['infra']>, driver: RateDriver, rate: number, seconds: number, idle: { seconds: number; perSecond: number }): Promise<UpstreamCost | null> {
  // Server-side counters read together, so that commands and SENDs cover the same interval.
  const read = () => Promise.all([redisCommandCalls(infra.redisPort), infra.natsMonitorUrl ? natsStats(infra.natsMonitorUrl) : null, acceptedSoFar(target.processes)]);
  const [redis0, nats0, accepted0] = await read();
  const w = await driver.run('cost', rate, seconds);
  const [redis1, nats1, accepted1] = await read();
  if (!redis0 || !redis1) return null;
  const calls = callsBetween(redis0, redis1);
  const total = totalCalls(calls);
  const fromLogic = accepted0 !== null && accepted1 !== null && accepted1 > accepted0;
  const accepted = fromLogic ? accepted1 - accepted0 : w.acceptedCount;
  const per = (n: number) => (accepted > 0 ? round(n / accepted, 3) : 0);
  return {
    rate,
    seconds,
    accepted,
    acceptedFrom: fromLogic ? 'logic metrics' : 'ACKs',
    window: { offered: w.offered, acked: w.accepted, p99: w.p99 },
    calls: total,
    perSend: per(total),
    byCommand: Object.fromEntries(Object.entries(calls).map(([cmd, n]) => [cmd, per(n)])),
    idleSeconds: idle.seconds,
    idlePerSecond: idle.perSecond,
    netPerSend: per(Math.max(0, total - idle.perSecond * w.seconds)),
    nats: nats0 && nats1 ? natsPerSend(nats0, nats1, per) : null,
  };
}

function natsPerSend(a: NatsStats, b: NatsStats, per: (n: number) => number): Record<string, { published: number; delivered: number }> {
  return Object.fromEntries(
    Object.entries(b.conns).map(([name, c]) => {
      const before = a.conns[name] ?? { published: 0, delivered: 0 };
      return [name, { published: per(c.published - before.published), delivered: per(c.delivered - before.delivered) }];
    }),
  );
}
