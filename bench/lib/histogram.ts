// Latency histograms: an HdrHistogram (hdr-histogram-js, its pure-JS implementation) over
// integer microseconds with 3 significant digits, so that a percentile is within 0.1% of a
// recorded value at any magnitude. A worker sends an interval's histogram to the main thread
// in HdrHistogram's own compressed encoding (a base64 string survives postMessage), and the
// main thread decodes and adds it to running totals. The exact max travels beside it: the
// histogram itself knows values only to its precision.

import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram as Hdr } from 'hdr-histogram-js';

const US_PER_MS = 1000;

/** What crosses the thread boundary. */
export interface EncodedHistogram {
  readonly hdr: string;
  readonly max: number;
}

function empty(): Hdr {
  // Resizes itself to any value; 64-bit counts so that long runs cannot overflow a bucket.
  return build({ bitBucketSize: 64, numberOfSignificantValueDigits: 3, autoResize: true, useWebAssembly: false });
}

export class Histogram {
  /** the largest value recorded, in ms, exactly */
  max = 0;

  constructor(private readonly hdr: Hdr = empty()) {}

  get count(): number {
    return this.hdr.totalCount;
  }

  /** Records a value in milliseconds (negative values count as 0). */
  record(ms: number): void {
    this.hdr.recordValue(Math.max(0, Math.round(ms * US_PER_MS)));
    if (ms > this.max) this.max = ms;
  }

  add(other: Histogram): void {
    this.hdr.add(other.hdr);
    if (other.max > this.max) this.max = other.max;
  }

  /** The value (ms) at quantile q in [0, 1], to 3 significant digits, capped at the max. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    return Math.min(this.max, this.hdr.getValueAtPercentile(q * 100) / US_PER_MS);
  }

  reset(): void {
    this.hdr.reset();
    this.max = 0;
  }

  encode(): EncodedHistogram {
    return { hdr: encodeIntoCompressedBase64(this.hdr), max: this.max };
  }

  static decode(e: EncodedHistogram): Histogram {
    const hdr = decodeFromCompressedBase64(e.hdr, 64, false);
    hdr.autoResize = true;
    const h = new Histogram(hdr);
    h.max = e.max;
    return h;
  }
}
