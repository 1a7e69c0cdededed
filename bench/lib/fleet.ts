// The load generator's main side: spreads the connections over worker threads, tells them
// when to send or switch, and adds up what they measure.

import { Worker } from 'node:worker_threads';
import { Histogram, type EncodedHistogram } from './histogram.js';
import { addAcked, addLoss, mergeAckedLoss, mergeDelivery, type Acked, type AckedLoss, type AckedLossPart, type Delivery, type DeliveryPart, type Loss, type Sent } from './loss.js';
import type { SeqSet } from './seq-set.js';
import type { ConnSpec, SendPlan, ToWorker } from './worker-messages.js';

export interface Totals {
  /** levels: connections that joined, failed to, and were closed after joining (per code) */
  connected: number;
  failed: number;
  closed: number;
  closeCodes: Record<string, number>;
  join: Histogram;
  delay: Histogram;
  ack: Histogram;
  items: number;
  frames: number;
  /** bytes read from the sockets (wire), and of the WebSocket messages (after inflating) */
  wireBytes: number;
  payloadBytes: number;
  duplicates: number;
  isolation: number;
  errors: Record<string, number>;
  sent: Sent;
  switches: number;
  /** gifts from `t` to their first sight (live or recovered) */
  giftDelay: Histogram;
  /** viewers back after losing their connection (worker.ts, resume.ts) */
  resumed: number;
  resumeTime: Histogram;
  resumeJoin: Histogram;
  outcomes: Record<string, number>;
  recoveredItems: number;
  replayDuplicates: number;
  dialFailures: number;
  senderResumes: number;
  epochResets: number;
  /** when each connection coming back had its WebSocket open (ms since the epoch) */
  reconnects: number[];
  /** a level: requests awaiting their reply */
  pendingAcks: number;
  /** SENDs sent; ERROR replies to them by code; unanswered within the reply timeout; replies after it */
  offered: number;
  refused: Record<string, number>;
  timeouts: number;
  late: number;
}

/** A worker's report: interval figures and connection levels. */
export interface Snapshot extends Omit<Totals, 'join' | 'delay' | 'ack' | 'giftDelay' | 'resumeTime' | 'resumeJoin'> {
  join: EncodedHistogram;
  delay: EncodedHistogram;
  ack: EncodedHistogram;
  giftDelay: EncodedHistogram;
  resumeTime: EncodedHistogram;
  resumeJoin: EncodedHistogram;
}

export function emptyTotals(): Totals {
  return { connected: 0, failed: 0, closed: 0, closeCodes: {}, join: new Histogram(), delay: new Histogram(), ack: new Histogram(), items: 0, frames: 0, wireBytes: 0, payloadBytes: 0, duplicates: 0, isolation: 0, errors: {}, sent: {}, switches: 0, giftDelay: new Histogram(), resumed: 0, resumeTime: new Histogram(), resumeJoin: new Histogram(), outcomes: {}, recoveredItems: 0, replayDuplicates: 0, dialFailures: 0, senderResumes: 0, epochResets: 0, reconnects: [], pendingAcks: 0, offered: 0, refused: {}, timeouts: 0, late: 0 };
}

/** Adds an interval's figures to running totals (connection counts are levels, not sums). */
export function accumulate(into: Totals, s: Omit<Totals, 'connected' | 'failed' | 'closed' | 'closeCodes' | 'pendingAcks'> & Partial<Totals>): void {
  into.join.add(s.join);
  into.delay.add(s.delay);
  into.ack.add(s.ack);
  into.giftDelay.add(s.giftDelay);
  into.resumeTime.add(s.resumeTime);
  into.resumeJoin.add(s.resumeJoin);
  into.resumed += s.resumed;
  into.recoveredItems += s.recoveredItems;
  into.replayDuplicates += s.replayDuplicates;
  into.dialFailures += s.dialFailures;
  into.senderResumes += s.senderResumes;
  into.epochResets += s.epochResets;
  for (const at of s.reconnects ?? []) into.reconnects.push(at);
  for (const [k, v] of Object.entries(s.outcomes)) into.outcomes[k] = (into.outcomes[k] ?? 0) + v;
  into.items += s.items;
  into.frames += s.frames;
  into.wireBytes += s.wireBytes;
  into.payloadBytes += s.payloadBytes;
  into.duplicates += s.duplicates;
  into.isolation += s.isolation;
  into.switches += s.switches;
  into.offered += s.offered;
  into.timeouts += s.timeouts;
  into.late += s.late;
  for (const [k, v] of Object.entries(s.errors)) into.errors[k] = (into.errors[k] ?? 0) + v;
  for (const [k, v] of Object.entries(s.refused)) into.refused[k] = (into.refused[k] ?? 0) + v;
  for (const [room, v] of Object.entries(s.sent)) {
    const t = (into.sent[room] ??= { danmaku: 0, likes: 0, gifts: 0 });
    t.danmaku += v.danmaku;
    t.likes += v.likes;
    t.gifts += v.gifts;
  }
}

/** The workers' reports as one: levels and interval figures summed. */
export function combine(snaps: readonly Snapshot[]): Totals {
  const t = emptyTotals();
  for (const s of snaps) {
    t.connected += s.connected;
    t.failed += s.failed;
    t.closed += s.closed;
    t.pendingAcks += s.pendingAcks;
    for (const [code, n] of Object.entries(s.closeCodes)) t.closeCodes[code] = (t.closeCodes[code] ?? 0) + n;
    accumulate(t, { ...s, join: Histogram.decode(s.join), delay: Histogram.decode(s.delay), ack: Histogram.decode(s.ack), giftDelay: Histogram.decode(s.giftDelay), resumeTime: Histogram.decode(s.resumeTime), resumeJoin: Histogram.decode(s.resumeJoin) });
  }
  return t;
}

export class Fleet {
  private constructor(private readonly workers: Worker[]) {}

  /** Starts the workers; resolves once every connection has joined or failed. */
  static async open(opts: { run: string; urls: string[]; conns: ConnSpec[]; workers: number; addresses: string[]; rampMs: number; replyTimeoutMs?: number; resume?: boolean; plainRejoin?: boolean; inbox?: boolean; deflate?: boolean; pinViewers?: boolean }): Promise<Fleet> {
    const n = Math.max(1, Math.min(opts.workers, opts.conns.length || 1));
    const workers: Worker[] = [];
    const ready: Promise<void>[] = [];
    for (let w = 0; w < n; w++) {
      const conns = opts.conns.filter((_, i) => i % n === w);
      const worker = new Worker(new URL('./worker.js', import.meta.url), {
        workerData: { worker: w, run: opts.run, urls: opts.urls, addresses: opts.addresses, conns, rampMs: opts.rampMs, replyTimeoutMs: opts.replyTimeoutMs, resume: opts.resume, plainRejoin: opts.plainRejoin, inbox: opts.inbox, deflate: opts.deflate, pinViewers: opts.pinViewers },
      });
      workers.push(worker);
      ready.push(
        new Promise((resolve, reject) => {
          worker.once('error', reject);
          const onMsg = (m: { type: string }) => {
            if (m.type !== 'ready') return;
            worker.off('message', onMsg);
            resolve();
          };
          worker.on('message', onMsg);
        }),
      );
    }
    await Promise.all(ready);
    return new Fleet(workers);
  }

  private ask<T>(msg: ToWorker, answer: string): Promise<T[]> {
    return Promise.all(
      this.workers.map(
        (w) =>
          new Promise<T>((resolve) => {
            const onMsg = (m: { type: string } & Record<string, unknown>) => {
              if (m.type !== answer) return;
              w.off('message', onMsg);
              resolve((m.stats ?? m.loss ?? m) as T);
            };
            w.on('message', onMsg);
            w.postMessage(msg);
          }),
      ),
    );
  }

  send(plan: SendPlan): void {
    for (const w of this.workers) w.postMessage({ type: 'send', plan } satisfies ToWorker);
  }

  switchRooms(perSecond: number, rooms: string[]): void {
    const each = perSecond / this.workers.length;
    for (const w of this.workers) w.postMessage({ type: 'switch', perSecond: each, rooms } satisfies ToWorker);
  }

  stop(): void {
    for (const w of this.workers) w.postMessage({ type: 'stop' } satisfies ToWorker);
  }

  /** The figures of the interval since the last report, summed over the workers. */
  async report(): Promise<Totals> {
    return combine(await this.ask<Snapshot>({ type: 'report' }, 'stats'));
  }

  /** Loss per kind over the viewers that stayed open, given what was acknowledged per room. */
  async loss(expected: Sent): Promise<Loss> {
    return (await this.ask<Loss>({ type: 'finish', expected }, 'loss')).reduce(addLoss);
  }

  /**
   * Loss by seq (loss.ts), in two steps: what the senders of every thread got acknowledged so
   * far; later (once those items had time to arrive), every thread checks its connections
   * against it. An ACK that comes in between is not checked: its item may still be on its way.
   */
  async acked(): Promise<Acked> {
    const all = { seqs: {} as Record<string, SeqSet>, unsequenced: {} as Record<string, number>, gifts: {} as Record<string, SeqSet> };
    for (const a of await this.ask<{ acked: Acked }>({ type: 'acked' }, 'acked')) addAcked(all, a.acked);
    const bits = (m: Record<string, SeqSet>) => Object.fromEntries(Object.entries(m).map(([room, s]) => [room, s.bits]));
    return { seqs: bits(all.seqs), unsequenced: all.unsequenced, gifts: bits(all.gifts) };
  }

  /** Delivery by kind and by seq, viewers that stayed apart from those that came back (loss.ts). */
  async delivery(acked: Acked, expected: Sent): Promise<Delivery> {
    return mergeDelivery(await this.ask<DeliveryPart>({ type: 'delivery', acked, expected }, 'delivered'), acked);
  }

  async ackedLoss(acked: Acked): Promise<AckedLoss> {
    return mergeAckedLoss(await this.ask<AckedLossPart>({ type: 'verify', acked }, 'verified'), acked);
  }

  async close(): Promise<void> {
    await this.ask({ type: 'close' }, 'closed');
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
