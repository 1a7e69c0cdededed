// The autoscaling rehearsal's run: a flash crowd replayed against a loopback cluster, and
// every sync period (15 s, as the HPA and KEDA poll) the real metrics of every process read
// from its /metrics and handed to the two HPAs of deploy/kubernetes (hpa.ts). The crowd
// arrives in cohorts (one Fleet each, so that a cohort can leave by closing it), most of it
// early (an ease-out: a stream start brings its viewers in its first seconds), holds, then
// leaves cohort by cohort (each closed right after its last report), while senders post danmaku, likes and gifts throughout.
//
// The replicas are computed, not started: the HPA's `current` is what it asked for at the
// previous sync. For gateways that is exact (the metric is an average of connections, so the
// same total over more pods reads lower); for logic processes the latency is what the real
// processes showed, which would fall if the pods asked for were started: an upper bound.

import { Autoscaler, type SyncResult } from './hpa.js';
import type { AutoscalingManifests } from './hpa-manifests.js';
import { Fleet, accumulate, emptyTotals } from './fleet.js';
import { Histogram } from './histogram.js';
import { bucketsBetween, bucketsOf, histogramQuantile, metricOf, scrape } from './prom.js';
import { progress } from './run.js';
import { connsFor, tokens } from './scenario.js';
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
  /** danmaku_connections (gateways) */
  readonly connections: number | null;
  /** CPU cores over the period (process_cpu_seconds_total) */
  readonly cores: number | null;
  /** logic: p99 of danmaku_logic_request_seconds over the adapter rule's window, in s (0 when nothing was handled, as the rule reads it) */
  readonly p99: number | null;
}

/** One sync: what every process showed, and what each HPA made of it. */
export interface SyncPoint {
  readonly t: number;
  readonly processes: ProcessReading[];
  readonly connections: number;
  readonly gateway: SyncResult;
  readonly logic: SyncResult;
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

interface Reader {
  /** per process: the last CPU reading, and the logic's bucket snapshots */
  readonly cpu: Map<string, { at: number; cpu: number }>;
  readonly buckets: Map<string, { at: number; b: Map<number, number> }[]>;
}

async function readProcess(p: TargetProcess, at: number, reader: Reader, windowS: number, quantile: number, minRate: number): Promise<ProcessReading> {
  const role = p.role as 'gateway' | 'logic';
  let text: string;
  try {
    text = await scrape(p.metricsUrl!, 5000);
  } catch {
    return { name: p.name, role, connections: null, cores: null, p99: null };
  }
  const cpu = metricOf(text, 'process_cpu_seconds_total');
  const last = reader.cpu.get(p.name);
  if (cpu !== null) reader.cpu.set(p.name, { at, cpu });
  const cores = cpu !== null && last ? round((cpu - last.cpu) / (at - last.at), 3) : null;
  if (role === 'gateway') return { name: p.name, role, connections: metricOf(text, 'danmaku_connections'), cores, p99: null };
  // The adapter's rule: histogram_quantile over rate(...[window]) of this pod, 0 when it handled
  // nothing or no more than the rule's minimum request rate.
  const history = reader.buckets.get(p.name) ?? [];
  const now = { at, b: bucketsOf(text, 'danmaku_logic_request_seconds') };
  history.push(now);
  while (history.length > 1 && history[0]!.at < at - windowS) history.shift();
  reader.buckets.set(p.name, history);
  const d = history.length > 1 ? bucketsBetween(history[0]!.b, now.b) : null;
  const rate = d && at > history[0]!.at ? (d.get(Infinity) ?? 0) / (at - history[0]!.at) : 0;
  const q = d && rate > minRate ? histogramQuantile(quantile, d) : NaN;
  return { name: p.name, role, connections: null, cores, p99: Number.isFinite(q) ? q : 0 };
}

export async function rehearse(target: Target, m: AutoscalingManifests, crowd: Crowd, o: RehearsalRunOptions): Promise<RehearsalRun> {
  const say = (line: string) => progress(o.quiet, `[rehearsal] ${line}`);
  const token = tokens(o.tokenSecret);
  const gateways = target.processes.filter((p) => p.role === 'gateway' && p.metricsUrl);
  const logics = target.processes.filter((p) => p.role === 'logic' && p.metricsUrl);
  const hpa = { gateway: new Autoscaler(m.gateway), logic: new Autoscaler(m.logic) };
  const replicas = { gateway: gateways.length, logic: logics.length };
  const reader: Reader = { cpu: new Map(), buckets: new Map() };

  say(`connecting ${crowd.senders} senders...`);
  const senders = await Fleet.open({ run: o.run, urls: target.urls, conns: connsFor(o.run, [], Array.from({ length: crowd.senders }, () => 'stage'), token), workers: 1, addresses: o.addresses, rampMs: 500 });
  const sizes = cohortSizes(crowd.peak, crowd.cohorts);
  const cohorts: { fleet: Fleet | null; size: number; arrivedAt: number; leftAt: number | null }[] = [];
  const seconds: CrowdSecond[] = [];
  const syncs: SyncPoint[] = [];
  const all = emptyTotals();
  let period = new Histogram();
  let closedByFleets = 0;
  const closeCodes: Record<string, number> = {};
  let failed = 0;
  const closing: Promise<void>[] = [];
  const started = Date.now();
  const elapsed = () => (Date.now() - started) / 1000;
  // The first readings, before anyone arrives: the first sync then has a CPU interval and a latency window.
  await Promise.all([...gateways, ...logics].map((p) => readProcess(p, 0, reader, m.logicLatency.windowSeconds, m.logicLatency.quantile, m.logicLatency.minRate)));
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
      const delivered = second.delay.count > 0;
      const point = { t: s, viewers, items: second.items, p50: delivered ? round(second.delay.quantile(0.5)) : null, p99: delivered ? round(second.delay.quantile(0.99)) : null };
      seconds.push(point);
      say(`${s}/${total} s | ${viewers.toLocaleString('en')} viewers | ${second.items.toLocaleString('en')} items/s | p99 ${point.p99} ms | gateways asked ${replicas.gateway}, logic ${replicas.logic}`);
      if (s % crowd.syncS !== 0) continue;
      const at = elapsed();
      const readings = await Promise.all([...gateways, ...logics].map((p) => readProcess(p, at, reader, m.logicLatency.windowSeconds, m.logicLatency.quantile, m.logicLatency.minRate)));
      const connections = readings.filter((r) => r.role === 'gateway').reduce((n, r) => n + (r.connections ?? 0), 0);
      const p99s = readings.filter((r) => r.role === 'logic').map((r) => r.p99 ?? 0);
      // The HPA's Pods metric is the average over the pods: for gateways, the connections over the replicas it runs.
      const gateway = hpa.gateway.sync(s, replicas.gateway, connections / replicas.gateway);
      const logic = hpa.logic.sync(s, replicas.logic, p99s.reduce((a, b) => a + b, 0) / Math.max(1, p99s.length));
      replicas.gateway = gateway.desired;
      replicas.logic = logic.desired;
      syncs.push({ t: s, processes: readings, connections, gateway, logic, p50: period.count > 0 ? round(period.quantile(0.5)) : null, p99: period.count > 0 ? round(period.quantile(0.99)) : null });
      period = new Histogram();
    }
  } finally {
    done = true;
    senders.stop();
    await arrivals;
    await Promise.all(closing);
    for (const c of cohorts) if (c.fleet) await c.fleet.close();
    await senders.close();
    if (!o.quiet && process.stderr.isTTY) process.stderr.write('\n');
  }
  if (arrivalError !== null) throw new Error(`a cohort of viewers could not connect: ${arrivalError instanceof Error ? arrivalError.message : String(arrivalError)}`, { cause: arrivalError });
  return {
    seconds,
    syncs,
    cohorts: cohorts.map(({ size, arrivedAt, leftAt }) => ({ size, arrivedAt, leftAt })),
    delay: { p50: round(all.delay.quantile(0.5)), p99: round(all.delay.quantile(0.99)), max: round(all.delay.max) },
    closed: closedByFleets,
    closeCodes,
    failed,
    died: target.processes.filter((p) => !p.alive()).map((p) => p.name),
  };
}
