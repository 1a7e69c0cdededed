// Logs a dependency that fails many times in a row (a store, the logic service) once when it
// starts failing and once when it works again, with the number of failures in between, so
// that an outage at thousands of messages per second is two log lines, not thousands.
// Metrics count every failure; the log tells the story.

import type { Logger } from './log.js';

export class FailureLog {
  private failures = 0;

  constructor(
    private readonly log: Logger,
    /** what fails, as in "<what> failing" */
    private readonly what: string,
  ) {}

  failed(err: unknown, fields: Record<string, unknown> = {}): void {
    if (this.failures++ === 0) this.log.warn({ err, ...fields }, `${this.what} failing`);
  }

  succeeded(): void {
    if (this.failures === 0) return;
    this.log.info({ failures: this.failures }, `${this.what} working again`);
    this.failures = 0;
  }
}

/**
 * Logs a recurring event (bad input from outside) at most once per `everyMs`, with how many
 * were not logged since, so that a flood of bad items costs a few lines, not one per item.
 * Metrics count every one.
 */
export class SampledLog {
  private last = -Infinity;
  private skipped = 0;

  constructor(
    private readonly log: Logger,
    private readonly everyMs = 10_000,
  ) {}

  warn(fields: Record<string, unknown>, msg: string, now = Date.now()): void {
    if (now - this.last < this.everyMs) {
      this.skipped++;
      return;
    }
    this.log.warn(this.skipped > 0 ? { ...fields, notLogged: this.skipped } : fields, msg);
    this.last = now;
    this.skipped = 0;
  }
}
