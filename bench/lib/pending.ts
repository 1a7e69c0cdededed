// Requests waiting for their reply (ACK or ERROR), by rid. With a timeout, a request still
// unanswered after it counts as timed out once, and is kept aside (up to a bound) so that a
// late reply is still recognised: a late ACK is an acknowledged message all the same, and
// must be delivered. Without one (0), requests wait for ever, as the fixed-rate scenarios want.

/** Timed-out requests kept for their late replies; past this the oldest are forgotten. */
const MAX_EXPIRED = 1_000_000;

export interface Pending {
  /** when it was sent, ms since the epoch */
  readonly at: number;
  readonly kind: number;
  readonly room: string;
}

export class PendingReplies {
  private readonly waiting = new Map<number, Pending>();
  private readonly expired = new Map<number, Pending>();
  /** replies that came after the timeout but before expire() swept their request */
  private overdue = 0;

  constructor(private readonly timeoutMs = 0) {}

  get size(): number {
    return this.waiting.size;
  }

  add(rid: number, p: Pending): void {
    this.waiting.set(rid, p);
  }

  /** The request a reply answers, and whether it came after the timeout; null if unknown. */
  take(rid: number, now: number): { p: Pending; late: boolean } | null {
    const p = this.waiting.get(rid);
    if (p) {
      this.waiting.delete(rid);
      const late = this.timeoutMs > 0 && now - p.at >= this.timeoutMs;
      if (late) this.overdue++; // timed out all the same: counted by the next expire()
      return { p, late };
    }
    const e = this.expired.get(rid);
    if (!e) return null;
    this.expired.delete(rid);
    return { p: e, late: true };
  }

  /** Moves the requests older than the timeout aside; returns how many timed out since the last call. */
  expire(now: number): number {
    if (this.timeoutMs <= 0) return 0;
    let n = this.overdue;
    this.overdue = 0;
    // Insertion order is send order: stop at the first one still within its time.
    for (const [rid, p] of this.waiting) {
      if (now - p.at < this.timeoutMs) break;
      this.waiting.delete(rid);
      this.expired.set(rid, p);
      n++;
    }
    for (const rid of this.expired.keys()) {
      if (this.expired.size <= MAX_EXPIRED) break;
      this.expired.delete(rid);
    }
    return n;
  }
}
