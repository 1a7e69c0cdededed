// Room online counts: every interval the gateway reports its local member counts and pushes
// the totals across all gateways to its local members of each room.

import { FailureLog } from '../failure-log.js';
import type { Logger } from '../log.js';
import type { PresenceCounts } from '../store/presence/index.js';
import type { RoomHub } from './room-hub.js';

export class OnlineTicker {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private readonly failures: FailureLog;

  constructor(
    private readonly hub: RoomHub,
    private readonly presence: PresenceCounts,
    private readonly gatewayId: string,
    private readonly intervalMs: number,
    log: Logger,
  ) {
    this.failures = new FailureLog(log, 'online count update');
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async tick(): Promise<void> {
    if (this.running) return; // a slow store must not pile up ticks
    this.running = true;
    try {
      const counts = this.hub.counts();
      // A report lapses after three missed intervals, so a dead gateway's viewers disappear.
      await this.presence.report(this.gatewayId, counts, this.intervalMs * 3);
      this.hub.pushOnline(await this.presence.totals([...counts.keys()]));
      this.failures.succeeded();
    } catch (err) {
      this.failures.failed(err);
    } finally {
      this.running = false;
    }
  }
}
