// Push ACK and resend (docs/protocol.md, "Acknowledging pushes"). A MESSAGE frame that carries
// an id is kept per connection until the client acknowledges the id with RECEIVED; not
// acknowledged PUSH_ACK_TIMEOUT_MS after it was sent, the same bytes are sent again, up to
// PUSH_RESENDS times PUSH_RESEND_INTERVAL_MS apart; then it is given up on. Giving up loses
// nothing: a tracked message is stored, and the user's next SYNC finds it in the inbox (a big
// group's message, which is in no inbox, is in the group's HISTORY).
//
// What it costs, since every chat message to every online connection passes here:
// - one timer for the whole gateway, not one per message or per connection. Every message
//   waits the same time for its first check, and every resend the same time for the next, so
//   two FIFO queues stay sorted by due time on their own: the timer only looks at their heads;
// - an acknowledged entry is not searched for in the queues: it is marked, loses its frame, and
//   is dropped when it reaches a head (at once when acks come in order, as they mostly do);
// - a frame is shared by every connection it went to, never copied per connection;
// - a connection with nothing pending has nothing here; one with a single pending message (the
//   usual case) has the entry itself, and only more than one pending gets a Map.

import type { PushGiveUp } from '../metric-labels.js';
import { Errors, ProtocolError } from '../protocol/errors.js';

/** What the pushes are told to do and how long to wait (src/config.ts). */
export interface PushOptions {
  /** first check after the push; unacknowledged, it is resent */
  readonly ackTimeoutMs: number;
  /** between a resend and the next check */
  readonly resendIntervalMs: number;
  /** resends before giving up */
  readonly resends: number;
  /** pending messages per connection; beyond it the oldest is given up */
  readonly pendingMax: number;
}

/** Where the pushes report (metrics.ts). */
export interface PushObserver {
  pushResent(): void;
  pushGivenUp(reason: PushGiveUp, n: number): void;
  /** one RECEIVED frame, and how many pending messages it acknowledged */
  pushAckFrame(acked: number): void;
}

/** Sends a frame to one connection; false if backpressure dropped it. */
export type PushSend<C> = (conn: C, frame: Uint8Array) => boolean;

/** Time and the one timer, replaceable by a fake clock in tests. */
export interface PushClock {
  now(): number;
  /** runs `fn` after `ms`; returns what cancels it */
  schedule(fn: () => void, ms: number): () => void;
}

const realClock: PushClock = {
  now: () => Date.now(),
  schedule(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref(); // pending pushes never keep a stopping process alive
    return () => clearTimeout(t);
  },
};

/**
 * The shortest time between two runs of the timer. Messages pushed a millisecond apart fall
 * due a millisecond apart: each run takes everything due by then, and the next comes at least
 * this much later, so a resend is at most this late and a busy gateway wakes up for pushes at
 * most 1000 / RUN_SPACING_MS times a second.
 */
export const RUN_SPACING_MS = 50;

/** RECEIVED `ids`: at most this many per frame. */
export const RECEIVED_MAX_IDS = 100;
const ID_MAX_CHARS = 64;

const EMPTY = new Uint8Array(0);

interface Entry<C> {
  readonly conn: C;
  readonly id: string;
  /** EMPTY once settled: an entry still waiting in a queue must not hold on to its frame */
  frame: Uint8Array;
  /** when it is checked next (ms) */
  due: number;
  /** resends so far */
  resent: number;
  /** acknowledged, given up, or its connection closed: the queues skip it */
  settled: boolean;
}

/** A connection's pending pushes: the one entry, or a Map by id when there are several (in push order). */
type Slot<C> = Entry<C> | Map<string, Entry<C>>;

/** A queue of entries in due order: an array read from a moving head, compacted now and then. */
class Fifo<C> {
  private items: (Entry<C> | undefined)[] = [];
  private head = 0;

  push(e: Entry<C>): void {
    this.items.push(e);
  }

  peek(): Entry<C> | undefined {
    return this.items[this.head];
  }

  shift(): void {
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  /** Drops the settled entries at the head. */
  trim(): void {
    for (let e = this.peek(); e !== undefined && e.settled; e = this.peek()) this.shift();
  }
}

export class Pushes<C> {
  private readonly conns = new Map<C, Slot<C>>();
  /** entries waiting for their first check, pushed in due order */
  private readonly first = new Fifo<C>();
  /** entries resent, waiting for their next check */
  private readonly again = new Fifo<C>();
  private cancel: (() => void) | null = null;
  /** when the armed timer fires */
  private timerAt = Infinity;
  private lastRun = -Infinity;
  private count = 0;

  constructor(
    private readonly send: PushSend<C>,
    private readonly opts: PushOptions,
    private readonly observer: PushObserver,
    private readonly clock: PushClock = realClock,
  ) {
    if (!(opts.pendingMax >= 1)) throw new RangeError('pendingMax must be at least 1');
  }

  /** Messages sent and not yet acknowledged or given up, on every connection. */
  get pending(): number {
    return this.count;
  }

  /**
   * Keeps `frame`, just sent to `conn` (or dropped by backpressure: then the resend is its
   * first chance), until `id` is acknowledged. An id already pending on the connection (the
   * same message delivered twice) is not tracked again.
   */
  track(conn: C, id: string, frame: Uint8Array, now = this.clock.now()): void {
    const e: Entry<C> = { conn, id, frame, due: now + this.opts.ackTimeoutMs, resent: 0, settled: false };
    const slot = this.conns.get(conn);
    if (slot === undefined) this.conns.set(conn, e);
    else if (slot instanceof Map) {
      if (slot.has(id)) return;
      slot.set(id, e);
    } else {
      if (slot.id === id) return;
      const several = new Map<string, Entry<C>>();
      several.set(slot.id, slot).set(id, e);
      this.conns.set(conn, several);
    }
    this.count++;
    this.first.push(e);
    this.overflow(conn);
    this.arm(e.due, now);
  }

  /** RECEIVED: settles the ids pending on `conn`; unknown ones (acknowledged before, given up, never sent here) are ignored. */
  received(conn: C, ids: readonly string[]): void {
    let acked = 0;
    for (const id of ids) {
      const e = this.find(conn, id);
      if (e === undefined) continue;
      this.settle(e);
      acked++;
    }
    this.observer.pushAckFrame(acked);
    if (acked > 0) {
      this.first.trim();
      this.again.trim();
    }
  }

  /** The connection closed (or is being closed): its pending messages are given up. */
  drop(conn: C): void {
    const slot = this.conns.get(conn);
    if (slot === undefined) return;
    const entries = slot instanceof Map ? [...slot.values()] : [slot];
    for (const e of entries) this.settle(e);
    this.observer.pushGivenUp('closed', entries.length);
  }

  /** Checks everything due by `now`: resends, or gives up after the last resend. */
  run(now: number): void {
    this.lastRun = now;
    for (const q of [this.first, this.again]) {
      for (let e = q.peek(); e !== undefined && (e.settled || e.due <= now); e = q.peek()) {
        q.shift();
        if (!e.settled) this.check(e, now);
      }
    }
  }

  private check(e: Entry<C>, now: number): void {
    if (e.resent >= this.opts.resends) {
      this.settle(e);
      this.observer.pushGivenUp('unacked', 1);
      return;
    }
    e.resent++;
    e.due = now + this.opts.resendIntervalMs;
    this.again.push(e);
    this.observer.pushResent();
    // A resend that backpressure drops counts as one of the tries: a connection that cannot
    // take a frame for that long is on its way to being closed as a slow consumer.
    this.send(e.conn, e.frame);
  }

  private find(conn: C, id: string): Entry<C> | undefined {
    const slot = this.conns.get(conn);
    if (slot === undefined) return undefined;
    if (slot instanceof Map) return slot.get(id);
    return slot.id === id ? slot : undefined;
  }

  /** Out of its connection's slot and of the count; the queues drop it when they reach it. */
  private settle(e: Entry<C>): void {
    e.settled = true;
    e.frame = EMPTY;
    this.count--;
    const slot = this.conns.get(e.conn);
    if (!(slot instanceof Map)) {
      this.conns.delete(e.conn);
      return;
    }
    slot.delete(e.id);
    if (slot.size === 1) this.conns.set(e.conn, slot.values().next().value!);
  }

  /** Past PUSH_PENDING_MAX on the connection: the oldest are given up (their messages are in the inbox). */
  private overflow(conn: C): void {
    const slot = this.conns.get(conn);
    if (!(slot instanceof Map)) return; // one entry: never over (pendingMax >= 1)
    const over = slot.size - this.opts.pendingMax;
    if (over <= 0) return;
    let n = 0;
    for (const e of slot.values()) {
      if (n++ === over) break;
      this.settle(e); // deleting the visited entry does not disturb a Map's iteration
    }
    this.observer.pushGivenUp('overflow', over);
  }

  /** Makes sure the timer fires by `due` (or RUN_SPACING_MS after the last run, if that is later). */
  private arm(due: number, now: number): void {
    const at = Math.max(due, this.lastRun + RUN_SPACING_MS);
    if (this.cancel !== null && this.timerAt <= at) return;
    this.cancel?.();
    this.timerAt = at;
    this.cancel = this.clock.schedule(() => this.fire(), Math.max(0, at - now));
  }

  private fire(): void {
    this.cancel = null;
    this.timerAt = Infinity;
    const now = this.clock.now();
    this.run(now);
    const next = Math.min(this.first.peek()?.due ?? Infinity, this.again.peek()?.due ?? Infinity);
    if (next !== Infinity) this.arm(next, now);
  }
}

/** The ids of a RECEIVED body `{ids: [str]}`; ERROR 3 when it is not one. */
export function receivedIds(body: unknown): readonly string[] {
  const ids = (body as { ids?: unknown } | null)?.ids;
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !Array.isArray(ids)) {
    throw new ProtocolError(Errors.BadField, 'RECEIVED needs {ids: [str]}');
  }
  if (ids.length < 1 || ids.length > RECEIVED_MAX_IDS) throw new ProtocolError(Errors.BadField, `ids must hold 1 to ${RECEIVED_MAX_IDS} ids`);
  for (const id of ids) {
    if (typeof id !== 'string' || id.length < 1 || id.length > ID_MAX_CHARS) throw new ProtocolError(Errors.BadField, `each id must be a string of 1 to ${ID_MAX_CHARS} characters`);
  }
  return ids as string[];
}
