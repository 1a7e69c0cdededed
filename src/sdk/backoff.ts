// Reconnect and retry delays: exponential backoff with full jitter
// (delay = random(0, min(maxMs, baseMs * 2^attempt))), so that clients dropped together do not
// come back together.

export interface BackoffOptions {
  baseMs?: number;
  maxMs?: number;
}

/** The cap of the delay before retry number `attempt` (0-based). */
export function backoffCap(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
}

/** Attempts counted since the last reset; each next() returns a delay drawn with full jitter. */
export class Backoff {
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;
  /** delays handed out since the last reset */
  attempt = 0;

  constructor(opts: BackoffOptions = {}, random: () => number = Math.random) {
    this.baseMs = Math.max(0, opts.baseMs ?? 500);
    this.maxMs = Math.max(this.baseMs, opts.maxMs ?? 30_000);
    this.random = random;
  }

  next(): number {
    return Math.floor(this.random() * backoffCap(this.attempt++, this.baseMs, this.maxMs));
  }

  reset(): void {
    this.attempt = 0;
  }
}
