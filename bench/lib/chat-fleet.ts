// The chat scenario's load generator, main side: spreads the members over worker threads
// (chat-worker.ts), tells them when to connect, send and wake the offline members, and adds up
// what they measure.

import { Worker } from 'node:worker_threads';
import type { ChatSnapshot, ChatUserSpec, ChatVerifyPart, ToChatWorker } from './chat-messages.js';
import { Histogram } from './histogram.js';
import { SeqSet } from './seq-set.js';

/** A ChatSnapshot summed over threads, histograms decoded. */
export interface ChatTotals extends Omit<ChatSnapshot, 'ack' | 'liveDelay' | 'probeLag' | 'catchUp'> {
  ack: Histogram;
  liveDelay: Histogram;
  probeLag: Histogram;
  catchUp: Histogram;
}

const addTo = (into: Record<string, number>, from: Record<string, number>) => {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
};

export function emptyChatTotals(): ChatTotals {
  return { connected: 0, failed: 0, closed: 0, closeCodes: {}, pendingAcks: 0, woken: 0, caughtUp: 0, offered: 0, ack: new Histogram(), refused: {}, timeouts: 0, late: 0, live: 0, liveDelay: new Histogram(), liveDuplicates: 0, liveResent: 0, ackFrames: 0, ackIds: 0, ackBytes: 0, inboxMessages: 0, inboxDuplicates: 0, inboxFrames: 0, syncErrors: {}, probeLag: new Histogram(), catchUp: new Histogram(), catchUpMessages: 0, idConflicts: 0, unsequenced: 0, unread: 0 };
}

/** Adds an interval's figures to running totals; the levels are taken from `s`. */
export function accumulateChat(into: ChatTotals, s: ChatTotals): void {
  for (const k of ['offered', 'timeouts', 'late', 'live', 'liveDuplicates', 'liveResent', 'ackFrames', 'ackIds', 'ackBytes', 'inboxMessages', 'inboxDuplicates', 'inboxFrames', 'catchUpMessages', 'idConflicts', 'unsequenced', 'unread'] as const) into[k] += s[k];
  for (const k of ['ack', 'liveDelay', 'probeLag', 'catchUp'] as const) into[k].add(s[k]);
  addTo(into.refused, s.refused);
  addTo(into.syncErrors, s.syncErrors);
  into.connected = s.connected;
  into.failed = s.failed;
  into.closed = s.closed;
  into.closeCodes = { ...s.closeCodes };
  into.pendingAcks = s.pendingAcks;
  into.woken = s.woken;
  into.caughtUp = s.caughtUp;
}

function combine(snaps: readonly ChatSnapshot[]): ChatTotals {
  const t = emptyChatTotals();
  for (const s of snaps) {
    for (const k of ['connected', 'failed', 'closed', 'pendingAcks', 'woken', 'caughtUp'] as const) t[k] += s[k];
    addTo(t.closeCodes, s.closeCodes);
    const levels = { connected: t.connected, failed: t.failed, closed: t.closed, closeCodes: t.closeCodes, pendingAcks: t.pendingAcks, woken: t.woken, caughtUp: t.caughtUp };
    accumulateChat(t, { ...s, ack: Histogram.decode(s.ack), liveDelay: Histogram.decode(s.liveDelay), probeLag: Histogram.decode(s.probeLag), catchUp: Histogram.decode(s.catchUp) });
    Object.assign(t, levels);
  }
  return t;
}

export class ChatFleet {
  private constructor(private readonly workers: Worker[]) {}

  /** Starts the threads (they open nothing yet); the users are dealt round-robin. */
  static async start(opts: { run: string; urls: string[]; addresses: string[]; users: ChatUserSpec[]; workers: number; replyTimeoutMs: number; probePollMs: number; syncPollMs: number; text: string; ackDelayMs: number | null }): Promise<ChatFleet> {
    const n = Math.max(1, Math.min(opts.workers, opts.users.length || 1));
    const workers: Worker[] = [];
    const ready: Promise<void>[] = [];
    for (let w = 0; w < n; w++) {
      const worker = new Worker(new URL('./chat-worker.js', import.meta.url), {
        workerData: { worker: w, run: opts.run, urls: opts.urls, addresses: opts.addresses, users: opts.users.filter((_, i) => i % n === w), replyTimeoutMs: opts.replyTimeoutMs, probePollMs: opts.probePollMs, syncPollMs: opts.syncPollMs, text: opts.text, ackDelayMs: opts.ackDelayMs },
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
    const fleet = new ChatFleet(workers);
    try {
      await Promise.all(ready);
    } catch (err) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw err;
    }
    return fleet;
  }

  private ask<T>(msg: ToChatWorker, answer: string, field: string): Promise<T[]> {
    return Promise.all(
      this.workers.map(
        (w) =>
          new Promise<T>((resolve) => {
            const onMsg = (m: { type: string } & Record<string, unknown>) => {
              if (m.type !== answer) return;
              w.off('message', onMsg);
              resolve(m[field] as T);
            };
            w.on('message', onMsg);
            w.postMessage(msg);
          }),
      ),
    );
  }

  /** Opens the online members' and the probes' connections; resolves once each opened or failed. */
  async connect(rampMs: number): Promise<void> {
    await this.ask({ type: 'connect', rampMs }, 'connected', 'type');
  }

  send(perSender: number): void {
    for (const w of this.workers) w.postMessage({ type: 'send', perSender } satisfies ToChatWorker);
  }

  wake(from: number, spreadMs: number): void {
    for (const w of this.workers) w.postMessage({ type: 'wake', from, spreadMs } satisfies ToChatWorker);
  }

  async report(): Promise<ChatTotals> {
    return combine(await this.ask<ChatSnapshot>({ type: 'report' }, 'stats', 'stats'));
  }

  /** The acknowledged seqs per group, over every thread. */
  async acked(): Promise<Record<string, Uint8Array>> {
    const all = new Map<string, SeqSet>();
    for (const part of await this.ask<Record<string, Uint8Array>>({ type: 'acked' }, 'acked', 'acked')) {
      for (const [g, bits] of Object.entries(part)) {
        let s = all.get(g);
        if (!s) all.set(g, (s = new SeqSet()));
        s.addAll(bits);
      }
    }
    return Object.fromEntries([...all].map(([g, s]) => [g, s.bits]));
  }

  async verify(acked: Record<string, Uint8Array>): Promise<ChatVerifyPart> {
    const parts = await this.ask<ChatVerifyPart>({ type: 'verify', acked }, 'verified', 'part');
    return parts.reduce((a, b) => {
      const out = { ...a };
      for (const k of Object.keys(b) as (keyof ChatVerifyPart)[]) if (k !== 'example') (out[k] as number) += b[k] as number;
      out.example = a.example ?? b.example;
      return out;
    });
  }

  async close(): Promise<void> {
    await Promise.race([this.ask({ type: 'close' }, 'closed', 'type'), new Promise((r) => setTimeout(r, 5000))]);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
