// Rate limits and de-duplication in this process's memory: standalone mode, and the local
// fallback of a cluster logic process while Redis is down. Bounded: both maps drop what has
// expired, swept at most every SWEEP_MS from the calls themselves, so no timer is needed.

import { IN_FLIGHT, type Deduper, type RateLimiter } from './index.js';

/** How often a call sweeps the whole map: often enough to bound it, rarely enough to be cheap. */
const SWEEP_MS = 10_000;

interface Bucket {
  tokens: number;
  at: number;
  /** when the bucket will be full again; after that it carries no state */
  fullAt: number;
}

export class MemoryRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private sweptAt = Date.now();

  /** How many buckets are kept (for tests of the bound). */
  get size(): number {
    return this.buckets.size;
  }

  async allow(key: string, ratePerSec: number, burst: number): Promise<boolean> {
    const now = Date.now();
    if (now - this.sweptAt >= SWEEP_MS) this.sweep(now);
    let b = this.buckets.get(key);
    if (!b) this.buckets.set(key, (b = { tokens: burst, at: now, fullAt: now }));
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) * ratePerSec) / 1000);
    b.at = now;
    const ok = b.tokens >= 1;
    if (ok) b.tokens -= 1;
    b.fullAt = now + ((burst - b.tokens) * 1000) / ratePerSec;
    return ok;
  }

  /** Drops buckets that have refilled completely: a new full bucket is the same. */
  sweep(now = Date.now()): void {
    this.sweptAt = now;
    for (const [k, b] of this.buckets) if (b.fullAt <= now) this.buckets.delete(k);
  }
}

export class MemoryDeduper implements Deduper {
  private readonly seen = new Map<string, { seq: number; expires: number }>();
  private sweptAt = Date.now();

  /** How many keys are kept (for tests of the bound). */
  get size(): number {
    return this.seen.size;
  }

  async claim(key: string, ttlMs: number): Promise<number | undefined> {
    const now = Date.now();
    if (now - this.sweptAt >= SWEEP_MS) this.sweep(now);
    const hit = this.seen.get(key);
    if (hit && hit.expires > now) return hit.seq;
    this.seen.set(key, { seq: IN_FLIGHT, expires: now + ttlMs });
    return undefined;
  }

  async settle(key: string, seq: number, ttlMs: number): Promise<void> {
    this.seen.set(key, { seq, expires: Date.now() + ttlMs });
  }

  async release(key: string): Promise<void> {
    this.seen.delete(key);
  }

  /** Drops expired claims and outcomes. */
  sweep(now = Date.now()): void {
    this.sweptAt = now;
    for (const [k, v] of this.seen) if (v.expires <= now) this.seen.delete(k);
  }
}
