// The periodic pass over a gateway's connections: one silent for longer than IDLE_TIMEOUT_MS
// is closed with 4001, one whose token's exp (+ TOKEN_EXPIRY_GRACE_MS) has passed with 4502
// (unless TOKEN_EXPIRY_CLOSE=false; a REFRESH moves exp on), one whose outbound buffer stays at or over OUTBOUND_SOFT_LIMIT_BYTES
// for longer than SLOW_CONSUMER_GRACE_MS with 4002, closes waiting for a buffer to drain are
// finished or given up (close.ts), and the buffers are sampled for metrics and for admission
// (the sum of all send buffers, read at every upgrade without walking the connections).

import type * as uWS from 'uWebSockets.js';
import type { Metrics } from '../metrics.js';
import { CloseCodes } from '../protocol/errors.js';
import type { Closer } from './close.js';
import type { ConnState } from './connection.js';

type WS = uWS.WebSocket<ConnState>;

export interface SweepOptions {
  readonly idleTimeoutMs: number;
  readonly outboundSoftLimitBytes: number;
  readonly slowConsumerGraceMs: number;
  /** close connections whose token has expired (4502) */
  readonly tokenExpiryClose: boolean;
  readonly tokenExpiryGraceMs: number;
}

/** How often the sweep runs: a close comes at most this much after its limit. */
export function sweepIntervalMs(idleTimeoutMs: number): number {
  return Math.max(50, Math.min(1000, Math.floor(idleTimeoutMs / 4)));
}

export class Sweep {
  private timer: NodeJS.Timeout | null = null;
  /** bytes waiting in all send buffers at the last run */
  outboundBytes = 0;

  constructor(
    private readonly conns: ReadonlySet<WS>,
    private readonly closer: Closer,
    private readonly opts: SweepOptions,
    private readonly metrics: Metrics,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.run(Date.now()), sweepIntervalMs(this.opts.idleTimeoutMs));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  run(now: number): void {
    let buffered = 0;
    let slow = 0;
    // A token whose exp (seconds) is below this has expired; guests have no exp.
    const expiredBelow = this.opts.tokenExpiryClose ? (now - this.opts.tokenExpiryGraceMs) / 1000 : -Infinity;
    for (const ws of this.conns) {
      const st = ws.getUserData();
      const b = ws.getBufferedAmount();
      buffered += b;
      if (b >= this.opts.outboundSoftLimitBytes) slow++;
      if (st.closing) {
        this.closer.retry(ws, now);
        continue;
      }
      if (now - st.lastSeen > this.opts.idleTimeoutMs) {
        this.closer.close(ws, CloseCodes.IdleTimeout, now);
        continue;
      }
      const exp = st.identity.exp;
      if (exp !== undefined && exp <= expiredBelow && !st.refuse) {
        this.closer.close(ws, CloseCodes.TokenExpired, now);
        continue;
      }
      if (b < this.opts.outboundSoftLimitBytes) st.overSince = 0;
      else if (st.overSince === 0) st.overSince = now;
      else if (now - st.overSince > this.opts.slowConsumerGraceMs) this.closer.close(ws, CloseCodes.SlowConsumer, now);
    }
    this.outboundBytes = buffered;
    this.metrics.outboundSampled(buffered, slow);
  }
}
