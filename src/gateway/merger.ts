// Per-room merging and the display cap. The gateway collects a room's items for one merge
// window and sends them as one frame; when a room runs hotter than a viewer can read, the
// display cap treats each kind by its display class (protocol/kinds.ts): danmaku are evenly
// sampled, likes summed into one item, gifts and notices never dropped.

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
   * those items, in arrival order: never sent in a BATCH, but they go into the gateway's
   * recovery window, so that a client resuming on another gateway is not told it recovered
   * without them
   */
  readonly shedItems: PendingItem[];
}

export class RoomMerger {
  private pending: PendingItem[] = [];
  private tokens: number;
  private at: number;

  /**
   * @param capPerSec danmaku displayed per second at most; the bucket holds one second's worth
   * @param kinds the kinds table (a test gives its own)
   */
  constructor(
    private readonly capPerSec: number,
    now: number,
    private readonly kinds: (id: number) => KindSpec | undefined = kindOf,
  ) {
    this.tokens = capPerSec;
    this.at = now;
  }

  /** Whether an item with this sequence number is waiting to be sent. */
  holds(seq: number): boolean {
    return this.pending.some((p) => p.head.seq === seq);
  }

  get size(): number {
    return this.pending.length;
  }

  push(item: PendingItem): number {
    this.pending.push(item);
    return this.pending.length;
  }

  clear(): void {
    this.pending = [];
  }

  drain(now: number): Drained {
    const pending = this.pending;
    this.pending = [];
    this.tokens = Math.min(this.capPerSec, this.tokens + ((now - this.at) * this.capPerSec) / 1000);
    this.at = now;

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
    this.sample(shedFirst, kept, shedItems);
    for (const [kind, list] of sums) kept.push(list.length === 1 ? list[0]! : summed(kind, list));

    // By seq; unsequenced items (seq 0) after the others, in arrival order (the sort is stable).
    kept.sort((a, b) => (a.head.seq || Number.MAX_SAFE_INTEGER) - (b.head.seq || Number.MAX_SAFE_INTEGER));
    return { kept, shed: shedItems.length, shedItems };
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

/** One item standing for several of a summed kind (likes): the amounts added up. */
function summed(kind: number, list: readonly PendingItem[]): PendingItem {
  let amount = 0;
  let seq = 0;
  let time = Infinity;
  for (const p of list) {
    amount += p.head.amount;
    seq = Math.max(seq, p.head.seq);
    time = Math.min(time, p.head.time);
  }
  const data = encodeItem({ s: seq, k: kind, u: '', t: time, a: amount });
  return { head: { seq, kind, time, amount }, data };
}
