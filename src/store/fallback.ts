// Keeps the send path working while Redis is unreachable (cluster mode). It wraps only the
// seams the send path cannot do without: the rate limiter and the de-duplicator fall back to
// this process's memory (limits then hold per logic process, not globally: they still pass
// test/contract/limits-suite.ts as one process), and the sequencer answers 0, "unsequenced",
// so that room danmaku keep flowing without Redis on the hot path. History, presence and
// groups are not wrapped: their callers answer a failure themselves (the replay is best
// effort, online counts wait for the next tick, group messages and the admin API answer with
// an error to retry).
// After a failure the primary is skipped for a cool-down, so that a hung Redis costs one
// command timeout, not one per message.

import type { FallbackOp } from '../metric-labels.js';
import type { Deduper, RateLimiter } from './limits/index.js';
import type { Sequencer } from './sequence/index.js';

export interface FallbackObserver {
  /** `op` was served by the fallback: sequence, ratelimit or dedupe */
  storeFallback(op: FallbackOp): void;
}

export interface FallbackOptions {
  /** how long the primary is skipped after it failed (default 1000 ms) */
  readonly coolDownMs?: number;
  readonly observer: FallbackObserver;
  /** called when the primary starts failing (with the error) and when it answers again */
  readonly onStateChange: (degraded: boolean, op: string, err?: unknown) => void;
}

/** The seams covered: the primaries (Redis) and the local fallbacks (memory). */
export interface FallbackPrimary {
  readonly sequencer: Sequencer;
  readonly limiter: RateLimiter;
  readonly deduper: Deduper;
}

export interface FallbackLocal {
  readonly limiter: RateLimiter;
  readonly deduper: Deduper;
}

export class FallbackStore {
  readonly sequencer: Sequencer;
  readonly limiter: RateLimiter;
  readonly deduper: Deduper;
  private downUntil = 0;
  private degraded = false;
  private failedAt = 0;
  /** while degraded, one call at a time probes the primary; the others use the fallback */
  private probing = false;
  /** de-duplication keys claimed in local memory, whose settle and release stay local */
  private readonly localClaims = new Set<string>();

  constructor(
    primary: FallbackPrimary,
    local: FallbackLocal,
    private readonly opts: FallbackOptions,
  ) {
    this.sequencer = {
      next: (scope) => this.run('sequence', () => primary.sequencer.next(scope), async () => 0),
      // No fallback: 0 would claim a room has no numbers. The gateway does without.
      current: (scope) => primary.sequencer.current(scope),
    };
    this.limiter = {
      allow: (key, rate, burst) => this.run('ratelimit', () => primary.limiter.allow(key, rate, burst), () => local.limiter.allow(key, rate, burst)),
    };
    this.deduper = {
      claim: (key, ttlMs) =>
        this.run(
          'dedupe',
          () => primary.deduper.claim(key, ttlMs),
          async () => {
            const prior = await local.deduper.claim(key, ttlMs);
            if (prior === undefined) this.localClaims.add(key);
            return prior;
          },
        ),
      // A key claimed locally stays local. Otherwise Redis, falling back to memory too: an
      // outcome recorded locally still answers this process's retries during an outage.
      settle: async (key, seq, ttlMs) => {
        if (this.localClaims.delete(key)) return local.deduper.settle(key, seq, ttlMs);
        return this.run('dedupe', () => primary.deduper.settle(key, seq, ttlMs), () => local.deduper.settle(key, seq, ttlMs));
      },
      release: async (key) => {
        if (this.localClaims.delete(key)) return local.deduper.release(key);
        return this.run('dedupe', () => primary.deduper.release(key), () => local.deduper.release(key));
      },
    };
  }

  private async run<T>(op: FallbackOp, primary: () => Promise<T>, fallback: () => Promise<T>): Promise<T> {
    const startedAt = Date.now();
    const probe = this.degraded && startedAt >= this.downUntil && !this.probing;
    if (!this.degraded || probe) {
      if (probe) this.probing = true;
      try {
        const v = await primary();
        // Only a call started after the last failure proves the primary is back.
        if (this.degraded && startedAt >= this.failedAt) {
          this.degraded = false;
          this.opts.onStateChange(false, op);
        }
        return v;
      } catch (err) {
        this.failedAt = Date.now();
        this.downUntil = this.failedAt + (this.opts.coolDownMs ?? 1_000);
        if (!this.degraded) {
          this.degraded = true;
          this.opts.onStateChange(true, op, err);
        }
      } finally {
        if (probe) this.probing = false;
      }
    }
    this.opts.observer.storeFallback(op);
    return fallback();
  }
}
