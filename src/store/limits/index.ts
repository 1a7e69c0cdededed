// Limits on what clients send: a rate limit per user, and de-duplication of client retries.
// Both hold short-lived state only (everything expires by itself) and both keep working from
// a process's memory while Redis is down (fallback.ts). memory.ts (standalone) and redis.ts
// (cluster) pass test/contract/limits-suite.ts, and so does the fallback.

/** Token-bucket rate limit, shared by every logic instance. */
export interface RateLimiter {
  /**
   * Takes one token from the bucket `key` (refilled at `ratePerSec`, holding at most `burst`;
   * a bucket never seen is full); false, taking nothing, if it is empty. A bucket that has
   * refilled completely is forgotten, which changes nothing. Callers must use the same rate
   * and burst for a key; limits are global in Redis, per process in memory and in fallback.
   */
  allow(key: string, ratePerSec: number, burst: number): Promise<boolean>;
}

/** What Deduper.claim answers while the first attempt with the key is still being processed. */
export const IN_FLIGHT = -1;

/** De-duplication of client retries by client message id. */
export interface Deduper {
  /**
   * Claims `key` for `ttlMs` (keep it short: a claim whose holder died must lapse). Resolves
   * undefined when this is the first claim (the caller must then settle or release it);
   * otherwise the sequence number recorded for the first one (0: accepted unsequenced), or
   * IN_FLIGHT while it is still being processed. After its ttl a key is unknown again.
   */
  claim(key: string, ttlMs: number): Promise<number | undefined>;
  /** Records the outcome of a claimed key (its sequence number), known for `ttlMs` from now. */
  settle(key: string, seq: number, ttlMs: number): Promise<void>;
  /** Forgets a claim whose message was rejected, so that a retry is processed anew. */
  release(key: string): Promise<void>;
}
