// Offered load in phases, for the upstream scenario: the fleet's senders offer a total rate of
// SENDs per second (open loop: what is not answered is not waited for), and every second
// becomes a point of the timeline: offered, accepted (ACKs within the reply timeout) and their
// latency, ERRORs by code, timeouts, and the CPU of the load generator and of the target's
// processes. Then the judgments on those points: a step's pass or fail, the ceiling, and the
// seconds to recover after an overload.

import { accumulate, emptyTotals, type Fleet, type Totals } from './fleet.js';
import { procUsage } from './usage.js';

export interface Second {
  /** end of this one-second window, in seconds since the target's timeline began */
  readonly t: number;
  readonly phase: string;
  /** planned SENDs/s */
  readonly rate: number;
  /** SENDs sent, and ACKs received within the reply timeout, in this second */
  readonly offered: number;
  readonly accepted: number;
  /** ACK latency (send to ACK) of those, ms */
  readonly p50: number;
  readonly p99: number;
  /** ERROR replies by code, SENDs unanswered within the reply timeout, and replies after it */
  readonly refused: Record<string, number>;
  readonly timeouts: number;
  readonly late: number;
  /** connections closed so far, and requests awaiting a reply at the end of the second */
  readonly closed: number;
  readonly pending: number;
  /** CPU cores used by the load generator, and by each process of the target */
  readonly genCores: number;
  readonly cores: Record<string, number>;
}

/** Several seconds of one phase as one figure. */
export interface Window {
  readonly phase: string;
  readonly rate: number;
  readonly seconds: number;
  /** per second */
  readonly offered: number;
  readonly accepted: number;
  readonly acceptedCount: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly refused: Record<string, number>;
  readonly timeouts: number;
  readonly late: number;
  readonly genCores: number;
  readonly cores: Record<string, number>;
}

export interface CpuSource {
  readonly name: string;
  readonly pid: number | undefined;
}

const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

function cpuNow(sources: readonly CpuSource[]): Map<string, number> {
  const out = new Map<string, number>();
  const gen = procUsage(process.pid);
  if (gen) out.set('', gen.cpu);
  for (const s of sources) {
    const u = s.pid === undefined ? null : procUsage(s.pid);
    if (u) out.set(s.name, u.cpu);
  }
  return out;
}

export class RateDriver {
  private t = 0;
  readonly timeline: Second[] = [];
  /** where each phase began on the timeline */
  readonly marks: { t: number; phase: string; rate: number }[] = [];
  /** every report added up, and the last one (its levels: connections, requests awaiting a reply) */
  readonly all = emptyTotals();
  last = emptyTotals();

  constructor(
    private readonly fleet: Fleet,
    private readonly senders: number,
    private readonly cpu: readonly CpuSource[],
    private readonly progress: (line: string) => void,
  ) {}

  /** Offers `rate` SENDs/s in total for `seconds`; returns the phase as one window. */
  async run(phase: string, rate: number, seconds: number): Promise<Window> {
    if (rate > 0) this.fleet.send({ danmaku: rate / this.senders, likes: 0, gifts: 0 });
    else this.fleet.stop();
    const mark = this.marks[this.marks.length - 1];
    if (mark?.phase !== phase || mark.rate !== rate) this.marks.push({ t: this.t, phase, rate });
    // What came in since the last report (e.g. while Redis or /metrics were being read) belongs
    // to no window: each window counts exactly its own seconds.
    accumulate(this.all, await this.fleet.report());
    const totals = emptyTotals();
    const points: Second[] = [];
    const started = Date.now();
    let cpu = cpuNow(this.cpu);
    for (let s = 1; s <= seconds; s++) {
      await sleep(started + s * 1000 - Date.now());
      const r = await this.fleet.report();
      const cpuEnd = cpuNow(this.cpu);
      accumulate(totals, r);
      accumulate(this.all, r);
      this.last = r;
      const was = cpu;
      const cores = (name: string) => round((cpuEnd.get(name) ?? 0) - (was.get(name) ?? 0), 2);
      cpu = cpuEnd;
      const p: Second = {
        t: ++this.t,
        phase,
        rate,
        offered: r.offered,
        accepted: r.ack.count,
        p50: round(r.ack.quantile(0.5)),
        p99: round(r.ack.quantile(0.99)),
        refused: r.refused,
        timeouts: r.timeouts,
        late: r.late,
        closed: r.closed,
        pending: r.pendingAcks,
        genCores: cores(''),
        cores: Object.fromEntries(this.cpu.map((c) => [c.name, cores(c.name)])),
      };
      points.push(p);
      this.timeline.push(p);
      const errors = Object.entries(p.refused).map(([code, n]) => `${n} x ERROR ${code}`);
      if (p.timeouts) errors.push(`${p.timeouts} timed out`);
      this.progress(`${phase} ${rate.toLocaleString('en')}/s ${s}/${seconds} s | offered ${p.offered.toLocaleString('en')}, accepted ${p.accepted.toLocaleString('en')}, ACK p99 ${p.p99} ms${errors.length ? ` | ${errors.join(', ')}` : ''} | ${p.pending.toLocaleString('en')} awaiting a reply`);
    }
    return windowOf(phase, rate, points, totals, (Date.now() - started) / 1000);
  }
}

/** The points of a phase as one window; rates per second of `elapsed` (a late report makes a second longer). */
export function windowOf(phase: string, rate: number, points: readonly Second[], totals: Totals, elapsed = points.length): Window {
  const n = Math.max(1, points.length);
  const per = Math.max(0.001, elapsed);
  const cores: Record<string, number> = {};
  for (const p of points) for (const [name, c] of Object.entries(p.cores)) cores[name] = (cores[name] ?? 0) + c / n;
  return {
    phase,
    rate,
    seconds: points.length,
    offered: round(totals.offered / per),
    accepted: round(totals.ack.count / per),
    acceptedCount: totals.ack.count,
    p50: round(totals.ack.quantile(0.5)),
    p99: round(totals.ack.quantile(0.99)),
    max: round(totals.ack.max),
    refused: totals.refused,
    timeouts: totals.timeouts,
    late: totals.late,
    genCores: round(points.reduce((a, p) => a + p.genCores, 0) / n, 2),
    cores: Object.fromEntries(Object.entries(cores).map(([k, v]) => [k, round(v, 2)])),
  };
}

/** The criteria of a step (and of a second of recovery), as in issue 9. */
export interface Criteria {
  /** accepted at least this share of offered */
  readonly acceptedShare: number;
  /** ACK p99 under this, ms */
  readonly p99Ms: number;
  /** the load generator offered at least this share of the planned rate */
  readonly offeredShare: number;
}

export const CRITERIA: Criteria = { acceptedShare: 0.98, p99Ms: 50, offeredShare: 0.95 };

/** Why a step fails its criteria (none: it passes). */
export function stepFailures(w: Window, c: Criteria = CRITERIA): string[] {
  const out: string[] = [];
  if (w.offered < c.offeredShare * w.rate) out.push(`offered only ${(w.offered / w.rate).toFixed(2)}x the planned rate (load generator)`);
  if (w.accepted < c.acceptedShare * w.offered) out.push(`accepted ${w.offered > 0 ? (w.accepted / w.offered).toFixed(2) : 0}x offered`);
  if (w.p99 >= c.p99Ms) out.push(`ACK p99 ${w.p99} ms`);
  return out;
}

/**
 * The ceiling: the highest step that passed. Steps go up until the first that fails, so every
 * lower step passed too; if the first fails, they go down until one passes. null: none did.
 */
export function ceilingOf(steps: readonly { rate: number; pass: boolean }[]): number | null {
  const passed = steps.filter((s) => s.pass).map((s) => s.rate);
  return passed.length > 0 ? Math.max(...passed) : null;
}

/**
 * Seconds from the drop to the first one-second window that is clean: accepted at least the
 * share of offered, ACK p99 under the bound, no ERROR and no timeout. 0: the first second after
 * the drop already was. null: none within the phase.
 */
export function recoverySeconds(after: readonly Second[], c: Criteria = CRITERIA): number | null {
  const i = after.findIndex((p) => p.offered > 0 && p.accepted >= c.acceptedShare * p.offered && p.p99 < c.p99Ms && p.timeouts === 0 && Object.keys(p.refused).length === 0);
  return i < 0 ? null : i;
}
