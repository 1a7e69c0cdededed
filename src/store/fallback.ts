// Keeps the send path working while Redis is unreachable (cluster mode). It wraps only the
// seams the send path cannot do without: the intake (claim, rate limit, number) falls back to
// this process's memory with numbers 0, "unsequenced" (limits and de-duplication then hold per
// logic process, not globally: the fallback still passes test/contract/intake-suite.ts as one
// process), so that room danmaku keep flowing without Redis on the hot path; the sequencer
// (the admin API's notices) answers 0 the same way. History, presence and groups are not
// wrapped: their callers answer a failure themselves (the replay is best effort, online counts
// wait for the next tick, group messages and the admin API answer with an error to retry).
// After a failure the primary is skipped for a cool-down, so that a hung Redis costs one
// command timeout, not one per message.

import type { FallbackOp } from '../metric-labels.js';
import type { Intake } from './intake/index.js';
import type { Sequencer } from './sequence/index.js';

export interface FallbackObserver {
  /** `op` was served by the fallback: sequence or intake */
  storeFallback(op: FallbackOp): void;
}

export interface FallbackOptions {
  /** how long the primary is skipped after it failed (default 1000 ms) */
  readonly coolDownMs?: number;
  readonly observer: FallbackObserver;
  /** called when the primary starts failing (with the error) and when it answers again */
  readonly onStateChange: (degraded: boolean, op: string, err?: unknown) => void;
}

/** The seams covered: the primaries (Redis) and the local fallback (memory, numbers 0). */
export interface FallbackPrimary {
  readonly sequencer: Sequencer;
  readonly intake: Intake;
}

export interface FallbackLocal {
  readonly intake: Intake;
}

export class FallbackStore {
  readonly sequencer: Sequencer;
  readonly intake: Intake;
  private downUntil = 0;
  private degraded = false;
  private failedAt = 0;
  /** while degraded, one call at a time probes the primary; the others use the fallback */
  private probing = false;
  /** claims taken in local memory, whose settle and release stay local */
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
    this.intake = {
      admit: (step) =>
        this.run(
          'intake',
          () => primary.intake.admit(step),
          async () => {
            const verdict = await local.intake.admit(step);
            if (step.claim !== undefined && 'seq' in verdict) this.localClaims.add(step.claim);
            return verdict;
          },
        ),
      // A claim taken locally stays local. Otherwise Redis, falling back to memory too: an
      // outcome recorded locally still answers this process's retries during an outage.
      settle: async (claim, seq, ttlMs) => {
        if (this.localClaims.delete(claim)) return local.intake.settle(claim, seq, ttlMs);
        return this.run('intake', () => primary.intake.settle(claim, seq, ttlMs), () => local.intake.settle(claim, seq, ttlMs));
      },
      release: async (claim) => {
        if (this.localClaims.delete(claim)) return local.intake.release(claim);
        return this.run('intake', () => primary.intake.release(claim), () => local.intake.release(claim));
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
