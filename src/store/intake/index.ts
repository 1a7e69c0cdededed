// The intake of an upstream message: everything decided before it is published, in one step
// so that the cluster pays one Redis round trip for it (redis.ts: one script, and the calls
// of one event-loop turn share one script call). In order: the de-duplication claim of the
// client id, the user's rate limit, the sequence number of the conversation. memory.ts
// (standalone, and the cluster's local fallback while Redis is down) and redis.ts both pass
// test/contract/intake-suite.ts.

/** One message's intake: which claim, which bucket, which scope. */
export interface IntakeStep {
  /**
   * The de-duplication key (`<uid>|<client id>`), when the message has a client id. Claimed
   * for `claimTtlMs` (short: a claim whose holder died must lapse) until settled or released.
   */
  readonly claim?: string;
  readonly claimTtlMs: number;
  /** the rate-limit bucket (`u:<uid>`), refilled at `rate` per second, holding at most `burst` */
  readonly bucket: string;
  readonly rate: number;
  readonly burst: number;
  /** the sequence scope (sequence/index.ts, `scopes`) */
  readonly scope: string;
}

/**
 * What admit decided:
 * - `seq`: accepted. The claim (if any) is held in flight: the caller must settle it after the
 *   publish, or release it if the publish fails. `seq` 0: accepted unsequenced (fallback).
 * - `dup`: a retry of a message already accepted with this client id; its seq.
 * - `inFlight`: a retry while the first attempt is still being processed (tell it to retry).
 * - `limited`: the bucket was empty; the claim was released, nothing was taken.
 */
export type IntakeVerdict = { readonly seq: number } | { readonly dup: number } | { readonly inFlight: true } | { readonly limited: true };

export const LIMITED: IntakeVerdict = Object.freeze({ limited: true as const });
export const IN_FLIGHT_VERDICT: IntakeVerdict = Object.freeze({ inFlight: true as const });

export interface Intake {
  /**
   * Claim, rate limit, sequence, atomically for the step: a claim that finds the key taken
   * takes no token and no number; an empty bucket takes no number and frees the claim.
   * Rejects when the store is unavailable (fallback.ts then answers from memory).
   */
  admit(step: IntakeStep): Promise<IntakeVerdict>;
  /** Records the outcome of a claim held after admit: retries get `seq` for `ttlMs` from now. */
  settle(claim: string, seq: number, ttlMs: number): Promise<void>;
  /** Frees a claim held after admit whose message was not published: a retry is processed anew. */
  release(claim: string): Promise<void>;
}
