// The intake in this process's memory: standalone mode (with the memory sequencer), and the
// local fallback of a cluster logic process while Redis is down (with numbers 0, unsequenced).
// Built from the memory rate limiter and de-duplicator, which keep their own bounds.

import { IN_FLIGHT, type Deduper, type RateLimiter } from '../limits/index.js';
import { IN_FLIGHT_VERDICT, LIMITED, type Intake, type IntakeStep, type IntakeVerdict } from './index.js';

export class MemoryIntake implements Intake {
  constructor(
    private readonly deduper: Deduper,
    private readonly limiter: RateLimiter,
    /** the next number of a scope: the memory sequencer, or 0 for the fallback */
    private readonly next: (scope: string) => Promise<number>,
  ) {}

  async admit(step: IntakeStep): Promise<IntakeVerdict> {
    if (step.claim !== undefined) {
      const prior = await this.deduper.claim(step.claim, step.claimTtlMs);
      if (prior === IN_FLIGHT) return IN_FLIGHT_VERDICT;
      if (prior !== undefined) return { dup: prior };
    }
    if (!(await this.limiter.allow(step.bucket, step.rate, step.burst))) {
      if (step.claim !== undefined) await this.deduper.release(step.claim);
      return LIMITED;
    }
    return { seq: await this.next(step.scope) };
  }

  settle(claim: string, seq: number, ttlMs: number): Promise<void> {
    return this.deduper.settle(claim, seq, ttlMs);
  }

  release(claim: string): Promise<void> {
    return this.deduper.release(claim);
  }
}
