// Closing a connection so that the client can read why. uWS drops every frame while a socket
// holds more than maxBackpressure bytes, the close frame included, and end() then sends FIN at
// once: a slow consumer got a stream cut off mid-frame and no close code (1006). So a
// connection to close is first cut off from everything (out of its room and its user's
// connections, no replies, its own frames ignored), and end() comes once its buffer is at or
// under the limit: at once, from uWS's drain callback, or at a later sweep. A buffer that does
// not get there within SLOW_CONSUMER_GRACE_MS is given up on: the TCP connection is dropped
// without a close frame and counted as `aborted`.

import type * as uWS from 'uWebSockets.js';
import { ABORTED } from '../metric-labels.js';
import type { Metrics } from '../metrics.js';
import type { ErrorEntry } from '../protocol/errors.js';
import type { ConnState } from './connection.js';

export { ABORTED };

type WS = uWS.WebSocket<ConnState>;

export interface CloserOptions {
  /** uWS's maxBackpressure: with more than this buffered, the close frame would be dropped */
  readonly outboundSoftLimitBytes: number;
  /** how long a close waits for the buffer to drain before the connection is dropped */
  readonly slowConsumerGraceMs: number;
}

export class Closer {
  constructor(
    private readonly opts: CloserOptions,
    /** takes a connection out of its room and its user's connections */
    private readonly detach: (ws: WS) => void,
    private readonly metrics: Metrics,
  ) {}

  /**
   * Closes with `entry`'s code and message, now or once the buffer allows; idempotent.
   * `farewell`: a last frame sent right before the close frame (a drain's GOAWAY), so that it
   * waits for the buffer with it rather than being dropped by a full one.
   */
  close(ws: WS, entry: ErrorEntry, now = Date.now(), farewell: Uint8Array | null = null): void {
    const st = ws.getUserData();
    if (!st.open) return;
    st.open = false;
    st.closing = entry;
    st.closingSince = now;
    st.farewell = farewell;
    this.metrics.clientError(entry.reason);
    this.detach(ws);
    this.tryEnd(ws);
  }

  /** uWS's drain callback: the buffer shrank. */
  drained(ws: WS): void {
    if (ws.getUserData().closing) this.tryEnd(ws);
  }

  /** From the sweep: ends a waiting close whose buffer drained, or drops it once it has waited too long. */
  retry(ws: WS, now: number): void {
    const st = ws.getUserData();
    if (!st.closing || this.tryEnd(ws)) return;
    if (now - st.closingSince > this.opts.slowConsumerGraceMs) this.abort(ws);
  }

  /** Drops the TCP connection without a close frame (the client sees 1006). */
  abort(ws: WS): void {
    const st = ws.getUserData();
    st.open = false;
    st.closing = null;
    st.closeReason = ABORTED;
    ws.close(); // calls the close handler at once
  }

  private tryEnd(ws: WS): boolean {
    const st = ws.getUserData();
    // The farewell (GOAWAY) goes first: the close frame after it must still find the buffer at or under the limit.
    if (ws.getBufferedAmount() + (st.farewell?.byteLength ?? 0) > this.opts.outboundSoftLimitBytes) return false;
    const entry = st.closing!;
    st.closing = null;
    st.closeReason = entry.reason;
    if (st.farewell) ws.send(st.farewell, true);
    st.farewell = null;
    ws.end(entry.code, entry.message); // queues the close frame after what is buffered; calls the close handler at once
    return true;
  }
}
