// A mergeable latency histogram: log-scale buckets (8 per doubling, about 9% wide) over
// microseconds, so that workers can send plain arrays and the main thread can add them up.

const PER_DOUBLING = 8;
const BUCKETS = 27 * PER_DOUBLING; // up to 2^27 us, about 134 s

export class Histogram {
  readonly counts: Float64Array;
  count = 0;
  max = 0;
  sum = 0;

  constructor(counts?: ArrayLike<number>) {
    this.counts = new Float64Array(BUCKETS);
    if (counts) {
      this.counts.set(counts);
      for (let i = 0; i < counts.length; i++) this.count += counts[i]!;
    }
  }

  /** Records a value in milliseconds. */
  record(ms: number): void {
    const us = Math.max(0, ms * 1000);
    const i = Math.min(BUCKETS - 1, Math.floor(Math.log2(us + 1) * PER_DOUBLING));
    this.counts[i]!++;
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }

  add(other: Histogram | { counts: ArrayLike<number>; max: number; sum: number }): void {
    for (let i = 0; i < BUCKETS; i++) {
      const c = other.counts[i]!;
      this.counts[i]! += c;
      this.count += c;
    }
    this.sum += other.sum;
    if (other.max > this.max) this.max = other.max;
  }

  /** The value (ms) at quantile q in [0, 1]: the upper edge of its bucket, capped at max. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = q * this.count;
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank && this.counts[i]! > 0) return Math.min(this.max, (2 ** ((i + 1) / PER_DOUBLING) - 1) / 1000);
    }
    return this.max;
  }

  toJSON(): { counts: number[]; max: number; sum: number } {
    return { counts: [...this.counts], max: this.max, sum: this.sum };
  }

  static from(data: { counts: ArrayLike<number>; max: number; sum: number }): Histogram {
    const h = new Histogram(data.counts);
    h.max = data.max;
    h.sum = data.sum;
    return h;
  }
}
