// The autoscaling rehearsal's run: a flash crowd replayed against a loopback cluster, and
// every sync period (15 s, as the HPA and KEDA poll) the real metrics of every process read
// from its /metrics and handed to the two HPAs of deploy/kubernetes (hpa.ts). The crowd
// arrives in cohorts (one Fleet each, so that a cohort can leave by closing it), most of it
// early (an ease-out: a stream start brings its viewers in its first seconds), holds, then
// leaves cohort by cohort (each closed right after its last report), while senders post danmaku, likes and gifts throughout.
//
// The replicas are computed, not started: each autoscaler (the HPAs of overlays/hpa, and the
// ScaledObjects of overlays/keda beside them) follows its own asks over the real processes and
// the pods it asked for beyond them, which are missing for --pod-start seconds and then count
// as pods holding nothing (connections and requests stay on the real processes, so averages
// over the pods are what they would be) and, for a latency, the real pods' mean (an upper
// bound: more pods would lower it). Chatters can add SENDs in rooms of their own (--sends),
// following the crowd, so that the logic side is exercised too.

import { Autoscaler, type MetricInput, type SyncResult } from './hpa.js';
import type { AdapterRule, AutoscalingManifests } from './hpa-manifests.js';
import { Fleet, accumulate, emptyTotals } from './fleet.js';
import { Histogram } from './histogram.js';
import { bucketsBetween, bucketsOf, histogramQuantile, metricOf, scrape } from './prom.js';
import { progress } from './run.js';
import { connsFor, roomNames, roomOf, tokens } from './scenario.js';
import type { Target, TargetProcess } from './target.js';

export interface Crowd {
  /** viewers at the peak, and senders throughout */
  readonly peak: number;
  readonly senders: number;
  /** per second, in total */
  readonly rate: number;
  readonly likes: number;
  readonly gifts: number;
  /** seconds: arriving, at the peak, leaving, then with the senders only */
  readonly arriveS: number;
  readonly holdS: number;
  readonly leaveS: number;
  readonly tailS: number;
  /** arrival and departure steps */
  readonly cohorts: number;
  /** seconds between metric reads and HPA syncs */
  readonly syncS: number;
  /** SENDs/s at the peak from `chatters` users in rooms of their own (0: none), following the crowd's size */
  readonly sends: number;
  readonly chatters: number;
  /** seconds from a pod asked for to its first value in the HPA (start, ready, scraped) */
  readonly podStartS: number;
}

export interface RehearsalRunOptions {
  readonly run: string;
  readonly tokenSecret: string;
  readonly addresses: string[];
  readonly quiet: boolean;
}

/** One second as the viewers saw it. */
export interface CrowdSecond {
  readonly t: number;
  /** viewers joined and open, by the load generator's count (a cohort counts once all of it has joined) */
  readonly viewers: number;
  readonly items: number;
  /** null: nothing delivered that second */
  readonly p50: number | null;
  readonly p99: number | null;
}

export interface ProcessReading {
  readonly name: string;
  readonly role: 'gateway' | 'logic';
  /** CPU cores over the period (process_cpu_seconds_total) */
  readonly cores: number | null;
  /**
   * Each adapter rule's value for this pod, by the HPA metric's name (danmaku_connections, the
   * logic's requests per second and gated p99 in s), computed from its /metrics as the rule's
   * PromQL does; null when the scrape failed or the rule has no value yet (a rate needs two
   * readings): the HPA then leaves the pod out.
   */
  readonly values: Readonly<Record<string, number | null>>;
}

/** The seconds between scrapes the rehearsal assumes (the ServiceMonitor's interval). */
export const SCRAPE_S = 15;

/** The pods one controller counts at a sync beyond the real processes: those it asked for that are not running here. */
export interface PodCount {
  /** past --pod-start: counted with a value */
  readonly started: number;
  /** Pending (the first --pod-start minus SCRAPE_S seconds): left out, 0 on a scale-up */
  readonly pending: number;
  /** running, not scraped yet (the last SCRAPE_S seconds of --pod-start): missing */
  readonly starting: number;
}

/** One sync: what every process showed, and what each autoscaler made of it. */
export interface SyncPoint {
  readonly t: number;
  readonly processes: ProcessReading[];
  readonly connections: number;
  /** SENDs/s the chatters were offering at the sync */
  readonly sends: number;
  /** the HPAs of overlays/hpa (prometheus-adapter): the replicas the run follows */
  readonly gateway: SyncResult;
  readonly logic: SyncResult;
  /** the ScaledObjects of overlays/keda, each following its own asks */
  readonly keda: { readonly gateway: SyncResult; readonly logic: SyncResult };
  readonly pods: { readonly gateway: PodCount; readonly logic: PodCount };
  /** delivery delay over the period (null: nothing delivered) */
  readonly p50: number | null;
  readonly p99: number | null;
}

export interface RehearsalRun {
  readonly seconds: CrowdSecond[];
  readonly syncs: SyncPoint[];
  /** when each cohort began arriving and left (s since the start), and its size */
  readonly cohorts: { size: number; arrivedAt: number; leftAt: number | null }[];
  readonly delay: { p50: number; p99: number; max: number };
  /** the chatters' SENDs: acknowledged, and ACK p99 over the run (ms; null: none) */
  readonly sends: { readonly acked: number; readonly ackP99: number | null };
  readonly closed: number;
  readonly closeCodes: Record<string, number>;
  readonly failed: number;
  /** processes that were not running at the end */
  readonly died: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

/** Cohort sizes of an ease-out arrival (cumulative 1 - (1 - x)^2): the first cohorts largest. */
export function cohortSizes(peak: number, cohorts: number): number[] {
  const cum = (i: number) => Math.round(peak * (1 - (1 - i / cohorts) ** 2));
  return Array.from({ length: cohorts }, (_, i) => cum(i + 1) - cum(i));
}

interface Snapshot {
  readonly at: number;
  /** counters and gauges by series, histograms' buckets by series (without _bucket) */
  readonly sums: Map<string, number | null>;
  readonly buckets: Map<string, Map<number, number>>;
}

/**
 * Each process's adapter values, as the rules compute them: a gauge from the last scrape, a rate
 * and a quantile over the snapshots of the rule's window (shorter at the start of the run: the
 * history there is; Prometheus' rate needs two samples, so does this).
 */
export class PodReader {
  private readonly cpu = new Map<string, { at: number; cpu: number }>();
  private readonly history = new Map<string, Snapshot[]>();
  private readonly keep: number;

  constructor(private readonly rules: Readonly<Record<string, AdapterRule>>) {
    this.keep = Math.max(0, ...Object.values(rules).map((r) => (r.kind === 'gauge' ? 0 : r.windowSeconds)));
  }

  async read(p: TargetProcess, at: number): Promise<ProcessReading> {
    const role = p.role as 'gateway' | 'logic';
    const none = Object.fromEntries(Object.keys(this.rules).map((k) => [k, null]));
    let text: string;
    try {
      text = await scrape(p.metricsUrl!, 5000);
    } catch {
      return { name: p.name, role, cores: null, values: none };
    }
    return this.add(p.name, role, at, text);
  }

  /** One scrape of process `name` at `at` s (read() without the HTTP: for the tests). */
  add(name: string, role: 'gateway' | 'logic', at: number, text: string): ProcessReading {
    const cpu = metricOf(text, 'process_cpu_seconds_total');
    const last = this.cpu.get(name);
    if (cpu !== null) this.cpu.set(name, { at, cpu });
    const cores = cpu !== null && last ? round((cpu - last.cpu) / (at - last.at), 3) : null;
    const sums = new Map<string, number | null>();
    const buckets = new Map<string, Map<number, number>>();
    for (const r of Object.values(this.rules)) {
      if (r.kind === 'quantile') buckets.set(r.series, bucketsOf(text, r.series.replace(/_bucket$/, '')));
      else sums.set(r.series, metricOf(text, r.series));
    }
    const history = this.history.get(name) ?? [];
    const now: Snapshot = { at, sums, buckets };
    history.push(now);
    while (history.length > 1 && history[0]!.at < at - this.keep) history.shift();
    this.history.set(name, history);
    const values: Record<string, number | null> = {};
    // The window is closed, [at - window, at], as in Prometheus 2 (promtool here); Prometheus 3's
    // is left-open and extrapolates: for a steady rate the same, across a step a little different.
    // A counter reset between the window's ends is not corrected (these processes do not restart).
    for (const [metric, r] of Object.entries(this.rules)) {
      if (r.kind === 'gauge') {
        values[metric] = sums.get(r.series) ?? null;
        continue;
      }
      const first = history.find((h) => h.at >= at - r.windowSeconds);
      if (!first || first === now || !(at > first.at)) {
        values[metric] = null;
        continue;
      }
      if (r.kind === 'rate') {
        const a = first.sums.get(r.series);
        const b = sums.get(r.series);
        // A pod that has not counted anything yet has no series: 0 once it exists.
        values[metric] = b === null || b === undefined ? 0 : Math.max(0, (b - (a ?? 0)) / (at - first.at));
        continue;
      }
      // histogram_quantile over rate(...[window]) of this pod, 0 when it handled no more than the rule's minimum request rate.
      const d = bucketsBetween(first.buckets.get(r.series)!, buckets.get(r.series)!);
      const rate = (d.get(Infinity) ?? 0) / (at - first.at);
      const q = rate > r.minRate ? histogramQuantile(r.quantile, d) * r.scale : NaN;
      values[metric] = Number.isFinite(q) ? q : 0;
    }
    return { name, role, cores, values };
  }
}

/**
 * One autoscaler following its own asks, over the real processes of its role and the pods it
 * asked for beyond them (not started here). A pod asked for is missing (no value) for
 * `podStartS`, the time a pod takes to start, be ready and be scraped; then it reads 0 for
 * a gauge or a rate (the real processes hold the whole load, so the average over the pods is
 * what it would be: connections and requests are summed, not spread, here) and the real
 * processes' mean for a quantile (an upper bound: more pods would lower it).
 */
export class Follower {
  private readonly extra: number[] = [];
  current: number;

  /**
   * `keys`: the HPA metric (adapter rule) behind each of the scaler's metrics, in order: the
   * metrics' own names for an HPA, the HPA's at the same place for KEDA (compare() checks that
   * each trigger is that rule summed over the pods).
   */
  constructor(readonly scaler: Autoscaler, private readonly keys: readonly string[], private readonly rules: Readonly<Record<string, AdapterRule>>, private readonly real: number, private readonly podStartS: number) {
    this.current = Math.max(real, scaler.spec.minReplicas);
    for (let i = real; i < this.current; i++) this.extra.push(-Infinity);
  }

  pods(at: number): PodCount {
    const started = this.extra.filter((since) => at - since >= this.podStartS).length;
    const pending = this.extra.filter((since) => at - since < Math.max(0, this.podStartS - SCRAPE_S)).length;
    return { started, pending, starting: this.extra.length - started - pending };
  }

  /**
   * The metrics' inputs at `at` from the real processes' readings: per pod for the adapter
   * (Pods; a pod asked for is Pending until its last SCRAPE_S seconds of --pod-start, then
   * running without a value until it is scraped), summed over the scraped pods for KEDA
   * (External).
   */
  inputs(at: number, readings: readonly ProcessReading[]): MetricInput[] {
    const { started, starting, pending } = this.pods(at);
    return this.scaler.spec.metrics.map((m, i): MetricInput => {
      const key = this.keys[i]!;
      const real = readings.map((r) => r.values[key] ?? null);
      const values = real.filter((v): v is number => v !== null);
      const virtual = this.rules[key]?.kind === 'quantile' ? (values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : 0) : 0;
      const pods = [...real, ...Array<number>(started).fill(virtual), ...Array<null>(starting).fill(null)];
      if (m.source === 'Pods') return pending > 0 ? { pods, unready: pending } : { pods };
      // Prometheus sums the series there are: a pod not scraped yet has none (an empty sum is 0 to KEDA).
      return { external: pods.reduce<number>((a, v) => a + (v ?? 0), 0) };
    });
  }

  sync(at: number, readings: readonly ProcessReading[]): SyncResult {
    const r = this.scaler.sync(at, this.current, this.inputs(at, readings));
    const want = Math.max(0, r.desired - this.real);
    while (this.extra.length < want) this.extra.push(at);
    while (this.extra.length > want) this.extra.pop();
    this.current = r.desired;
    return r;
  }
}

export async function rehearse(target: Target, m: AutoscalingManifests, crowd: Crowd, o: RehearsalRunOptions): Promise<RehearsalRun> {
  const say = (line: string) => progress(o.quiet, `[rehearsal] ${line}`);
  const token = tokens(o.tokenSecret);
  const gateways = target.processes.filter((p) => p.role === 'gateway' && p.metricsUrl);
  const logics = target.processes.filter((p) => p.role === 'logic' && p.metricsUrl);
  const keys = (h: AutoscalingManifests['gateway']) => h.metrics.map((x) => x.name);
  const follow = (h: AutoscalingManifests['gateway'], keyed: AutoscalingManifests['gateway'], real: number) => new Follower(new Autoscaler(h), keys(keyed), m.rules, real, crowd.podStartS);
  const adapter = { gateway: follow(m.gateway, m.gateway, gateways.length), logic: follow(m.logic, m.logic, logics.length) };
  const keda = { gateway: follow(m.keda.gateway, m.gateway, gateways.length), logic: follow(m.keda.logic, m.logic, logics.length) };
  const reader = new PodReader(m.rules);

  say(`connecting ${crowd.senders} senders${crowd.sends > 0 ? ` and ${crowd.chatters} chatters` : ''}...`);
  const senders = await Fleet.open({ run: o.run, urls: target.urls, conns: connsFor(o.run, [], Array.from({ length: crowd.senders }, () => 'stage'), token), workers: 1, addresses: o.addresses, rampMs: 500 });
  // The chatters: SENDs each in a room of its own, the logic's load without a fan-out (each item goes back to its sender only).
  const chatRooms = roomNames(crowd.chatters);
  const chatters = crowd.sends > 0 ? await Fleet.open({ run: `${o.run}x`, urls: target.urls, conns: connsFor(`${o.run}x`, [], Array.from({ length: crowd.chatters }, (_, i) => roomOf(i, crowd.chatters, chatRooms, 'uniform')), token), workers: 1, addresses: o.addresses, rampMs: 1000 }) : null;
  const sizes = cohortSizes(crowd.peak, crowd.cohorts);
  const cohorts: { fleet: Fleet | null; size: number; arrivedAt: number; leftAt: number | null }[] = [];
  const seconds: CrowdSecond[] = [];
  const syncs: SyncPoint[] = [];
  const all = emptyTotals();
  const chat = emptyTotals();
  let period = new Histogram();
  let closedByFleets = 0;
  const closeCodes: Record<string, number> = {};
  let failed = 0;
  const closing: Promise<void>[] = [];
  let sending = 0;
  const started = Date.now();
  const elapsed = () => (Date.now() - started) / 1000;
  // The first readings, before anyone arrives: the first sync then has a CPU interval and a rate window.
  await Promise.all([...gateways, ...logics].map((p) => reader.read(p, 0)));
  const total = crowd.arriveS + crowd.holdS + crowd.leaveS + crowd.tailS;
  let done = false;

  // The crowd: cohort k arrives over its slot of the arrival, and leaves at its slot of the departure.
  // A cohort that cannot open (out of files, a gateway gone) ends the run with its error, after the cleanup.
  let arrivalError: unknown = null;
  const arrivals = (async () => {
    const slot = crowd.arriveS / crowd.cohorts;
    for (let k = 0; k < sizes.length && !done; k++) {
      await sleep(started + k * slot * 1000 - Date.now());
      const entry = { fleet: null as Fleet | null, size: sizes[k]!, arrivedAt: round(elapsed()), leftAt: null as number | null };
      cohorts.push(entry);
      const run = `${o.run}c${k}`;
      const conns = connsFor(run, Array.from({ length: sizes[k]! }, () => 'stage'), [], token, true);
      entry.fleet = await Fleet.open({ run, urls: target.urls, conns, workers: 1, addresses: o.addresses, rampMs: slot * 1000 });
    }
  })().catch((err: unknown) => {
    arrivalError = err;
    done = true;
  });
  senders.send({ danmaku: crowd.rate / crowd.senders, likes: crowd.likes / crowd.senders, gifts: crowd.gifts / crowd.senders });
  try {
    for (let s = 1; s <= total && arrivalError === null; s++) {
      await sleep(started + s * 1000 - Date.now());
      const open = cohorts.filter((c) => c.fleet !== null);
      const reports = await Promise.all(open.map((c) => c.fleet!.report()));
      const second = emptyTotals();
      let viewers = 0;
      reports.forEach((r, i) => {
        accumulate(second, r);
        viewers += r.connected - r.closed;
        // Cohort k leaves at its slot of the departure (or once it has arrived, if it came late): closed after its last report.
        const c = open[i]!;
        if (s < crowd.arriveS + crowd.holdS + cohorts.indexOf(c) * (crowd.leaveS / crowd.cohorts)) return;
        closedByFleets += r.closed;
        failed += r.failed;
        for (const [code, n] of Object.entries(r.closeCodes)) closeCodes[code] = (closeCodes[code] ?? 0) + n;
        closing.push(c.fleet!.close());
        c.fleet = null;
        c.leftAt = round(elapsed());
      });
      accumulate(all, second);
      period.add(second.delay);
      accumulate(all, await senders.report());
      // The chat follows the crowd: sends x the share of the peak that is here.
      if (chatters) {
        accumulate(chat, await chatters.report());
        const want = s > crowd.arriveS + crowd.holdS + crowd.leaveS ? 0 : Math.round(crowd.sends * Math.min(1, viewers / crowd.peak));
        if (want !== sending) chatters.send({ danmaku: want / crowd.chatters, likes: 0, gifts: 0 });
        sending = want;
      }
      const delivered = second.delay.count > 0;
      const point = { t: s, viewers, items: second.items, p50: delivered ? round(second.delay.quantile(0.5)) : null, p99: delivered ? round(second.delay.quantile(0.99)) : null };
      seconds.push(point);
      say(`${s}/${total} s | ${viewers.toLocaleString('en')} viewers | ${second.items.toLocaleString('en')} items/s | ${sending.toLocaleString('en')} SENDs/s | p99 ${point.p99} ms | gateways asked ${adapter.gateway.current}, logic ${adapter.logic.current}`);
      if (s % crowd.syncS !== 0) continue;
      // Readings are keyed by the sync's second, not the wall clock, so that which readings a
      // rule's window holds does not depend on a few milliseconds of jitter.
      const readings = await Promise.all([...gateways, ...logics].map((p) => reader.read(p, s)));
      const of = (role: string) => readings.filter((r) => r.role === role);
      const connections = of('gateway').reduce((n, r) => n + (r.values['danmaku_connections'] ?? 0), 0);
      const pods = { gateway: adapter.gateway.pods(s), logic: adapter.logic.pods(s) };
      const gateway = adapter.gateway.sync(s, of('gateway'));
      const logic = adapter.logic.sync(s, of('logic'));
      const k = { gateway: keda.gateway.sync(s, of('gateway')), logic: keda.logic.sync(s, of('logic')) };
      syncs.push({ t: s, processes: readings, connections, sends: sending, gateway, logic, keda: k, pods, p50: period.count > 0 ? round(period.quantile(0.5)) : null, p99: period.count > 0 ? round(period.quantile(0.99)) : null });
      period = new Histogram();
    }
  } finally {
    done = true;
    senders.stop();
    chatters?.stop();
    await arrivals;
    await Promise.all(closing);
    for (const c of cohorts) if (c.fleet) await c.fleet.close();
    await senders.close();
    if (chatters) {
      accumulate(chat, await chatters.report());
      await chatters.close();
    }
    if (!o.quiet && process.stderr.isTTY) process.stderr.write('\n');
  }
  if (arrivalError !== null) throw new Error(`a cohort of viewers could not connect: ${arrivalError instanceof Error ? arrivalError.message : String(arrivalError)}`, { cause: arrivalError });
  return {
    seconds,
    syncs,
    cohorts: cohorts.map(({ size, arrivedAt, leftAt }) => ({ size, arrivedAt, leftAt })),
    delay: { p50: round(all.delay.quantile(0.5)), p99: round(all.delay.quantile(0.99)), max: round(all.delay.max) },
    sends: { acked: chat.ack.count, ackP99: chat.ack.count > 0 ? round(chat.ack.quantile(0.99)) : null },
    closed: closedByFleets,
    closeCodes,
    failed,
    died: target.processes.filter((p) => !p.alive()).map((p) => p.name),
  };
}
