// Per-room merging and the display cap. The gateway collects a room's items for one merge
// window and sends them as one frame; when a room runs hotter than a viewer can read, the
// display cap sheds ordinary danmaku (evenly sampled), aggregates likes into one count, and
// never drops gifts or notices.

import { encodeItem, type ItemHead } from '../protocol/items.js';
import { Kind } from '../protocol/ops.js';

export interface PendingItem {
  readonly head: ItemHead;
  readonly data: Uint8Array;
}

export interface Drained {
  /** what is sent, in sequence order */
  readonly kept: PendingItem[];
  /** ordinary danmaku shed by the display cap */
  readonly shed: number;
}

export class RoomMerger {
  private pending: PendingItem[] = [];
  private tokens: number;
  private at: number;

  /** @param capPerSec danmaku displayed per second at most; the bucket holds one second's worth */
  constructor(
    private readonly capPerSec: number,
    now: number,
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

    const danmaku: PendingItem[] = [];
    const kept: PendingItem[] = [];
    let likes = 0;
    let likeSeq = 0;
    let likeTime = Infinity;
    let lastLike: PendingItem | undefined;
    let likeItems = 0;
    for (const p of pending) {
      if (p.head.kind === Kind.Danmaku) danmaku.push(p);
      else if (p.head.kind === Kind.Like) {
        likes += p.head.amount;
        likeSeq = Math.max(likeSeq, p.head.seq);
        likeTime = Math.min(likeTime, p.head.time);
        lastLike = p;
        likeItems++;
      } else kept.push(p); // gifts and notices: never shed
    }

    const budget = Math.floor(this.tokens);
    let shed = 0;
    if (danmaku.length <= budget) {
      for (const d of danmaku) kept.push(d);
      this.tokens -= danmaku.length;
    } else {
      // Evenly spaced sample, so that no single burst of senders takes the whole budget.
      for (let i = 0; i < budget; i++) kept.push(danmaku[Math.floor((i * danmaku.length) / budget)]!);
      this.tokens -= budget;
      shed = danmaku.length - budget;
    }

    if (likeItems === 1 && lastLike) kept.push(lastLike);
    else if (likeItems > 1) {
      const data = encodeItem({ s: likeSeq, k: Kind.Like, u: '', t: likeTime, a: likes });
      kept.push({ head: { seq: likeSeq, kind: Kind.Like, time: likeTime, amount: likes }, data });
    }

    // By seq; unsequenced items (seq 0) after the others, in arrival order (the sort is stable).
    kept.sort((a, b) => (a.head.seq || Number.MAX_SAFE_INTEGER) - (b.head.seq || Number.MAX_SAFE_INTEGER));
    return { kept, shed };
  }
}
