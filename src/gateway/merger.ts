// Per-room merging and the display cap. The gateway collects a room's items for one merge
// window and sends them as one frame; when a room runs hotter than a viewer can read, the
// display cap treats each kind by its display class (protocol/kinds.ts): danmaku are evenly
// sampled, likes summed into one item, gifts and notices never dropped. A degraded room
// (degrade.ts) runs with a lower cap, sums likes over a second and sheds shed-first kinds.

import { encodeItem, type ItemHead } from '../protocol/items.js';
import { kindOf, type KindSpec } from '../protocol/kinds.js';

export interface PendingItem {
  readonly head: ItemHead;
  readonly data: Uint8Array;
}

export interface Drained {
  /** what is sent, in sequence order */
  readonly kept: PendingItem[];
  /** items of sampled and shed-first kinds that the display cap shed */
  readonly shed: number;
  /**
   * of those, the ones the configured cap would have kept: shed because the room is degraded
   * (its lowered cap, shed-first kinds at level 1 and up)
   */
  readonly degraded: number;
  /**
   * those items, in arrival order: never sent in a BATCH, but they go into the gateway's
   * recovery window, so that a client resuming on another gateway is not told it recovered
   * without them
   */
  readonly shedItems: PendingItem[];
}

/** How a degraded room's merger runs (degrade.ts, roomSettings). */
export interface MergerDegrade {
  /** danmaku displayed per second at most, below the configured cap at levels 2 and 3 */
  readonly capPerSec: number;
  /** summed kinds are held and sent as one item per LIKE_SUM_MS; shed-first kinds are shed */
  readonly sumLikes: boolean;
  /**
   * the room's merge window now (ms): held likes go out at the last drain before they are due
   * when the next one would come later (see drainDegraded)
   */
  readonly windowMs: number;
}

/** A degraded room's state: what it holds and how it runs. */
interface DegradeState {
  /** how long summed kinds are held (LIKE_SUM_MS), 0 when they are not */
  sumMs: number;
  /** the room's merge window (MergerDegrade.windowMs) */
  windowMs: number;
  /** summed kinds held over several drains */
  held: PendingItem[];
  /**
   * when the first of the summed items now waiting (held, or pending for the next drain)
   * reached this merger (ms, the clock's); null when none waits
   */
  since: number | null;
  /** the bucket at the configured cap, as it would stand: what the lowered cap shed beyond it */
  shadow: number;
}

export class RoomMerger {
  private pending: PendingItem[] = [];
  private tokens: number;
  private at: number;
  private capPerSec: number;
  /** degraded: summed kinds held over several drains, the lowered cap's shadow; null: not degraded */
  private degrade: DegradeState | null = null;

  /**
   * @param baseCap danmaku displayed per second at most (ROOM_DISPLAY_CAP); the bucket holds one second's worth
   * @param kinds the kinds table (a test gives its own)
   * @param clock when a degraded room's first held like arrives (a test gives its own)
   */
  constructor(
    private readonly baseCap: number,
    now: number,
    private readonly kinds: (id: number) => KindSpec | undefined = kindOf,
    private readonly clock: () => number = () => Date.now(),
  ) {
    this.capPerSec = baseCap;
    this.tokens = baseCap;
    this.at = now;
  }

  /**
   * Runs degraded (`sumMs`: how long likes are summed), or as configured again with null.
   * While degraded a shadow bucket at the configured cap tells what the lowered one shed.
   */
  setDegrade(d: MergerDegrade | null, sumMs: number, now: number): void {
    this.refill(now);
    if (d === null) {
      if (this.degrade) {
        this.pending.push(...this.degrade.held); // sent with the next drain
        this.tokens = this.degrade.shadow; // the configured bucket, as it would stand
      }
      this.degrade = null;
      this.capPerSec = this.baseCap;
      return;
    }
    this.degrade ??= { sumMs, windowMs: d.windowMs, held: [], since: null, shadow: this.tokens }; // the configured bucket, as it stands
    this.capPerSec = Math.min(d.capPerSec, this.baseCap);
    this.tokens = Math.min(this.tokens, this.capPerSec);
    this.degrade.sumMs = d.sumLikes ? sumMs : 0;
    this.degrade.windowMs = d.windowMs;
  }

  /** Whether an item with this sequence number is waiting to be sent. */
  holds(seq: number): boolean {
    return this.pending.some((p) => p.head.seq === seq) || (this.degrade?.held.some((p) => p.head.seq === seq) ?? false);
  }

  /** items waiting: pending for the next drain, and likes a degraded room holds */
  get size(): number {
    return this.degrade ? this.pending.length + this.degrade.held.length : this.pending.length;
  }

  /**
   * When a degraded room's held likes are due (ms, the clock's): LIKE_SUM_MS after the first
   * of them arrived; null when none are held. A drain within one merge window of it sends them.
   */
  get heldUntil(): number | null {
    const d = this.degrade;
    return d && d.held.length > 0 && d.since !== null ? d.since + d.sumMs : null;
  }

  push(item: PendingItem): number {
    this.pending.push(item);
    // Degraded: the hold of summed kinds starts when the first of them arrives (one clock read
    // per hold, none at level 0).
    const d = this.degrade;
    if (d !== null && d.since === null && d.sumMs > 0 && this.kinds(item.head.kind)?.display === 'sum') d.since = this.clock();
    return this.pending.length;
  }

  clear(): void {
    this.pending = [];
    if (this.degrade) {
      this.degrade.held = [];
      this.degrade.since = null;
    }
  }

  private refill(now: number): void {
    const dt = now - this.at;
    this.tokens = Math.min(this.capPerSec, this.tokens + (dt * this.capPerSec) / 1000);
    if (this.degrade) this.degrade.shadow = Math.min(this.baseCap, this.degrade.shadow + (dt * this.baseCap) / 1000);
    this.at = now;
  }

  /**
   * What the room sends now. `release`: a degraded room's held likes go too, whenever they
   * are due (a drain's flush: the room keeps its level).
   */
  drain(now: number, release = false): Drained {
    const pending = this.pending;
    this.pending = [];
    this.refill(now);
    if (this.degrade) return this.drainDegraded(pending, now, this.degrade, release);
    return this.split(pending, false);
  }

  /**
   * A degraded room's drain: summed kinds are held until LIKE_SUM_MS after the first of them
   * arrived, and go out with the first drain that is at most one merge window before that
   * (the next one could be up to a window later), so that each like waits between LIKE_SUM_MS
   * minus one window and LIKE_SUM_MS plus one window (a hold timer due while a window runs
   * waits for its end: room-hub.ts). Shed-first kinds are shed, and the shadow bucket at the
   * configured cap counts what the configured cap would have shed (the rest of `shed` is
   * `degraded`).
   */
  private drainDegraded(pending: PendingItem[], now: number, d: DegradeState, release: boolean): Drained {
    let items = pending;
    if (d.sumMs > 0 || d.held.length > 0) {
      items = [];
      for (const p of pending) {
        if ((this.kinds(p.head.kind)?.display ?? 'keep') !== 'sum') items.push(p);
        else d.held.push(p);
      }
      // Likes pushed at level 0 and drained degraded have no arrival time: they start now.
      if (d.held.length > 0) d.since ??= now;
      if (d.held.length > 0 && (release || d.sumMs === 0 || now + d.windowMs >= d.since! + d.sumMs)) {
        for (const p of d.held) items.push(p);
        d.held = [];
        d.since = null;
      }
    }
    const out = this.split(items, true);
    let candidates = 0;
    for (const p of items) {
      const display = this.kinds(p.head.kind)?.display ?? 'keep';
      if (display === 'sample' || display === 'shed_first') candidates++;
    }
    const budget = Math.floor(d.shadow);
    const normalShed = Math.max(0, candidates - budget);
    d.shadow -= Math.min(candidates, budget);
    return { ...out, degraded: Math.max(0, out.shed - normalShed) };
  }

  /** `shedFirstAll`: shed-first kinds are shed whatever the budget (a degraded room). */
  private split(pending: readonly PendingItem[], shedFirstAll: boolean): Drained {
    const sampled: PendingItem[] = [];
    const shedFirst: PendingItem[] = [];
    const kept: PendingItem[] = [];
    const sums = new Map<number, PendingItem[]>();
    for (const p of pending) {
      switch (this.kinds(p.head.kind)?.display ?? 'keep') {
        case 'sample':
          sampled.push(p);
          break;
        case 'shed_first':
          shedFirst.push(p);
          break;
        case 'sum': {
          const list = sums.get(p.head.kind);
          if (list) list.push(p);
          else sums.set(p.head.kind, [p]);
          break;
        }
        case 'keep':
          kept.push(p);
      }
    }

    // The cap's budget goes to sampled kinds first, and what is left to the shed-first ones.
    const shedItems: PendingItem[] = [];
    this.sample(sampled, kept, shedItems);
    if (shedFirstAll) for (const p of shedFirst) shedItems.push(p);
    else this.sample(shedFirst, kept, shedItems);
    for (const [kind, list] of sums) kept.push(list.length === 1 ? list[0]! : summed(kind, list));

    // By seq; unsequenced items (seq 0) after the others, in arrival order (the sort is stable).
    kept.sort((a, b) => (a.head.seq || Number.MAX_SAFE_INTEGER) - (b.head.seq || Number.MAX_SAFE_INTEGER));
    return { kept, shed: shedItems.length, degraded: 0, shedItems };
  }

  /** Keeps what the display budget allows of `items`, evenly spaced, in `into`; the rest go to `shed`. */
  private sample(items: readonly PendingItem[], into: PendingItem[], shed: PendingItem[]): void {
    const budget = Math.floor(this.tokens);
    if (items.length <= budget) {
      for (const d of items) into.push(d);
      this.tokens -= items.length;
      return;
    }
    // Evenly spaced sample, so that no single burst of senders takes the whole budget. The
    // picks are strictly increasing indexes (budget < length), so one pass splits the list.
    let next = 0;
    for (let i = 0; i < items.length; i++) {
      if (next < budget && i === Math.floor((next * items.length) / budget)) {
        into.push(items[i]!);
        next++;
      } else shed.push(items[i]!);
    }
    this.tokens -= budget;
  }
}

/**
 * One item standing for several of a summed kind (likes): the amounts added up, the highest
 * seq, and the newest receive time (`t`): the total as of `t`. With the earliest one, a
 * degraded room's like item would read up to a second old, and so would the delivery delay
 * measured from it.
 */
function summed(kind: number, list: readonly PendingItem[]): PendingItem {
  let amount = 0;
  let seq = 0;
  let time = 0;
  for (const p of list) {
    amount += p.head.amount;
    seq = Math.max(seq, p.head.seq);
    time = Math.max(time, p.head.time);
  }
  const data = encodeItem({ s: seq, k: kind, u: '', t: time, a: amount });
  return { head: { seq, kind, time, amount }, data };
}
