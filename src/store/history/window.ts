// A room's recovery window: the recent items of a room, in two classes with their own bounds
// (ordinary items such as danmaku, and never-shed ones such as gifts and notices, kept longer),
// plus the two floors that tell a rejoining client whether it can be given everything it
// missed. Used by the memory store and by each gateway's local copy of a room (the Redis store
// keeps the same shape in Redis: redis.ts).
//
// The floors are what make "recovered: true" an honest answer: an item leaves only by a trim,
// and a trim raises the floors past it, so "since >= floor" proves that every item after
// `since` that was ever added is still here. The epoch names one life of the window: when the
// store loses it (Redis restarted empty, a day idle, a standalone restart) the room gets a new
// epoch, and a client that holds the old one is told it was not recovered.

import { randomBytes } from 'node:crypto';

export interface WindowItem {
  /** the item's seq in its room (> 0: unsequenced items have no place in the window) */
  readonly seq: number;
  /**
   * when the item reached the window (ms: the logic's clock at the append, the gateway's at
   * its flush), not the item's own `t`: its age for trimming, and its place in arrival order
   * for the resume margin
   */
  readonly t: number;
  /** a never-shed kind (gift, notice): kept longer, by its own bounds */
  readonly keep: boolean;
  /** the encoded item, exactly as published */
  readonly data: Uint8Array;
}

export interface WindowLimits {
  /** ROOM_RECOVERY_SIZE: ordinary items kept */
  readonly size: number;
  /** ROOM_RECOVERY_MS: ordinary items' age limit */
  readonly ageMs: number;
  /** ROOM_RECOVERY_KEEP_SIZE: never-shed items kept */
  readonly keepSize: number;
  /** ROOM_RECOVERY_KEEP_MS: never-shed items' age limit */
  readonly keepAgeMs: number;
}

/** The defaults of ROOM_RECOVERY_SIZE, _MS, _KEEP_SIZE and _KEEP_MS. */
export const DEFAULT_WINDOW_LIMITS: WindowLimits = { size: 500, ageMs: 120_000, keepSize: 1_000, keepAgeMs: 600_000 };

/** A new window life's name: 8 random bytes, base64url (11 characters). */
export function newEpoch(): string {
  return randomBytes(8).toString('base64url');
}

export class RecoveryWindow {
  /** every item (either class) with a seq above it that was ever added is still held */
  floor: number;
  /** every never-shed item with a seq above it that was ever added is still held */
  keepFloor: number;
  /** the highest seq held or ever trimmed (0 if none) */
  lastSeq: number;
  private readonly ordinary = new SeqQueue();
  private readonly kept = new SeqQueue();

  constructor(
    private readonly limits: WindowLimits,
    public epoch: string,
    floor = 0,
    keepFloor = 0,
  ) {
    this.floor = floor;
    this.keepFloor = keepFloor;
    this.lastSeq = Math.max(floor, keepFloor);
  }

  /** Held items, both classes. */
  get size(): number {
    return this.ordinary.length + this.kept.length;
  }

  /** Whether an item with this seq is held, in either class (O(log n)). */
  has(seq: number): boolean {
    return this.ordinary.has(seq) || this.kept.has(seq);
  }

  /** The held item with this seq, in either class (O(log n)); null if none. */
  get(seq: number, now: number): WindowItem | null {
    this.trim(now);
    return this.ordinary.get(seq) ?? this.kept.get(seq);
  }

  /** Inserts by seq (an item whose seq is already held is ignored), then trims. */
  add(item: WindowItem, now: number): void {
    this.insert(item);
    this.trim(now);
  }

  /** add() for the items of one frame: each inserted, then one trim. */
  addAll(items: readonly WindowItem[], now: number): void {
    for (const item of items) this.insert(item);
    this.trim(now);
  }

  private insert(item: WindowItem): void {
    // A seq is one item: the other class is searched too, so that a caller's mistake cannot
    // show one item twice (O(log n)).
    const other = item.keep ? this.ordinary : this.kept;
    if (!other.has(item.seq)) (item.keep ? this.kept : this.ordinary).insert(item);
    if (item.seq > this.lastSeq) this.lastSeq = item.seq;
  }

  /**
   * Lets items go by count and by age, per class, oldest seq first, and raises the floors past
   * them. Only from the low end: an item is not taken from between two held ones, so the
   * floors stay a single boundary (an expired item behind a younger lower seq waits for it).
   */
  trim(now: number): void {
    const { size, ageMs, keepSize, keepAgeMs } = this.limits;
    const o = this.ordinary.trim(size, now - ageMs);
    if (o > this.floor) this.floor = o;
    const k = this.kept.trim(keepSize, now - keepAgeMs);
    if (k > this.keepFloor) this.keepFloor = k;
    if (k > this.floor) this.floor = k;
  }

  /** Held items, both classes merged, sorted by seq. */
  items(now: number): WindowItem[] {
    this.trim(now);
    return merge(this.ordinary.view(), this.kept.view());
  }

  /** The most recent `n` items (both classes), oldest first: the plain JOINED replay. */
  recent(n: number, now: number): WindowItem[] {
    this.trim(now);
    if (n <= 0) return [];
    // Only the tail of each class can be among the last n.
    const o = this.ordinary.view();
    const k = this.kept.view();
    const merged = merge(o.slice(Math.max(0, o.length - n)), k.slice(Math.max(0, k.length - n)));
    return merged.length > n ? merged.slice(merged.length - n) : merged;
  }

  /**
   * Items for a client that holds everything up to `since`: every held item with seq > since,
   * plus held items with seq <= since whose t >= t(since item) - marginMs (items of a room can
   * reach gateways slightly out of seq order; the client de-duplicates by seq). t(since item) is
   * the t of the held item with the highest seq <= since (no margin if there is none).
   * A binary search per class: only the items above `since` and those of the margin are touched
   * (a resume that misses little costs little, whatever the window holds).
   */
  after(since: number, marginMs: number, now: number): WindowItem[] {
    this.trim(now);
    const o = this.ordinary.cut(since);
    const k = this.kept.cut(since);
    const at = o.below && k.below ? (o.below.seq > k.below.seq ? o.below : k.below) : (o.below ?? k.below);
    if (!at) return merge(this.ordinary.view(), this.kept.view());
    const from = at.t - marginMs;
    return merge(this.ordinary.margin(o.index, from), this.kept.margin(k.index, from));
  }

  /** Held never-shed items with seq > since, by seq (binary search). */
  keptAfter(since: number, now: number): WindowItem[] {
    this.trim(now);
    return this.kept.margin(this.kept.cut(since).index, Infinity);
  }

  /** Empties it, floors 0, a new epoch: the store lost the room's window. */
  reset(epoch: string): void {
    this.epoch = epoch;
    this.floor = 0;
    this.keepFloor = 0;
    this.lastSeq = 0;
    this.ordinary.clear();
    this.kept.clear();
  }
}

/**
 * One class's items sorted by seq, trimmed from the front. Items come nearly in seq order, so an
 * insert is usually a push, and a trim moves a head index instead of shifting the array: O(1)
 * amortised per item (the dead front is cut off once it is half the array).
 */
class SeqQueue {
  private items: WindowItem[] = [];
  /**
   * maxT[i]: the highest t of items[0..i] (dead front included: an upper bound of the held
   * ones'), so that a scan back from a point can stop where no earlier item is recent enough.
   */
  private maxT: number[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  /** The held items, by seq (a copy). */
  view(): WindowItem[] {
    return this.items.slice(this.head);
  }

  has(seq: number): boolean {
    return this.get(seq) !== null;
  }

  get(seq: number): WindowItem | null {
    const i = upperBound(this.items, seq, this.head);
    return i > this.head && this.items[i - 1]!.seq === seq ? this.items[i - 1]! : null;
  }

  insert(item: WindowItem): void {
    const last = this.items[this.items.length - 1];
    if (this.length === 0 || last!.seq < item.seq) {
      this.items.push(item);
      this.maxT.push(Math.max(this.maxT[this.maxT.length - 1] ?? -Infinity, item.t));
      return;
    }
    const i = upperBound(this.items, item.seq, this.head);
    if (i > this.head && this.items[i - 1]!.seq === item.seq) return; // already held
    this.items.splice(i, 0, item);
    this.maxT.splice(i, 0, 0);
    // Out of order: near the end as a rule, so this is as cheap as the splice.
    for (let j = i; j < this.items.length; j++) this.maxT[j] = Math.max(j > 0 ? this.maxT[j - 1]! : -Infinity, this.items[j]!.t);
  }

  /** Where `since` falls: the index of the first held item above it, and the held item at or below it. */
  cut(since: number): { index: number; below: WindowItem | null } {
    const index = upperBound(this.items, since, this.head);
    return { index, below: index > this.head ? this.items[index - 1]! : null };
  }

  /**
   * The held items from `index` on, preceded by those before it whose t >= `from`: the scan
   * back stops where no earlier item (maxT) is that recent.
   */
  margin(index: number, from: number): WindowItem[] {
    let lo = index;
    while (lo > this.head && this.maxT[lo - 1]! >= from) lo--;
    const out: WindowItem[] = [];
    for (let i = lo; i < index; i++) if (this.items[i]!.t >= from) out.push(this.items[i]!);
    for (let i = index; i < this.items.length; i++) out.push(this.items[i]!);
    return out;
  }

  /**
   * Drops items from the front while more than `max` are held or the front is older than
   * `oldest`; returns the highest seq dropped (0 if none).
   */
  trim(max: number, oldest: number): number {
    let dropped = 0;
    while (this.length > 0 && (this.length > max || this.items[this.head]!.t < oldest)) {
      dropped = this.items[this.head]!.seq;
      this.head++;
    }
    if (this.head > 32 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.maxT = this.maxT.slice(this.head);
      this.head = 0;
    }
    return dropped;
  }

  clear(): void {
    this.items = [];
    this.maxT = [];
    this.head = 0;
  }
}

/** The first index in `items` (from `lo`) whose seq is above `seq`: binary search. */
function upperBound(items: readonly WindowItem[], seq: number, lo = 0): number {
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (items[mid]!.seq <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Two seq-sorted lists as one (either of them when the other is empty: callers pass copies). */
function merge(a: WindowItem[], b: WindowItem[]): WindowItem[] {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out: WindowItem[] = new Array<WindowItem>(a.length + b.length);
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < a.length && j < b.length) out[n++] = a[i]!.seq <= b[j]!.seq ? a[i++]! : b[j++]!;
  while (i < a.length) out[n++] = a[i++]!;
  while (j < b.length) out[n++] = b[j++]!;
  return out;
}
