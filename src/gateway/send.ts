// SEND and MSG frames and the chat reads (SYNC, HISTORY, CONTACTS, READ): checked for what the
// gateway knows (guest, current room), then forwarded to the logic service (batched,
// upstream-client.ts); the reply becomes an ACK, the read's reply frame, or an ERROR frame. A
// client always gets one of them, never silence.

import type * as uWS from 'uWebSockets.js';
import type { FailureLog } from '../failure-log.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { encodeFrame, encodeFrameWithBody } from '../protocol/codec.js';
import { Errors, errorByCode, overloadRetryMs, ProtocolError, type ErrorEntry } from '../protocol/errors.js';
import { Op } from '../protocol/ops.js';
import { replyWorthCompressing } from './compression.js';
import type { ConnState } from './connection.js';
import type { UpstreamClient } from './upstream-client.js';

export interface SendContext {
  readonly upstream: UpstreamClient;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** logs an outage of the logic service once, not once per SEND */
  readonly failures: FailureLog;
  /** `retryMs`: the hint of ERROR 32 */
  readonly sendError: (entry: ErrorEntry, detail?: string, retryMs?: number) => void;
}

/** `frameBytes`: the size of the client's frame, which bounds the size of its request. */
export function forwardSend(ws: uWS.WebSocket<ConnState>, st: ConnState, op: number, rid: number, body: unknown, frameBytes: number, now: number, ctx: SendContext): void {
  const { identity, room } = st;
  if (identity.guest) throw new ProtocolError(Errors.GuestCannotSend);
  const b = body as { room?: unknown; id?: unknown } | null;
  if (op === Op.Send) {
    if (!room) throw new ProtocolError(Errors.NotInRoom);
    if (b !== null && typeof b === 'object' && b.room !== undefined && b.room !== room.id) {
      throw new ProtocolError(Errors.NotInRoom, `you are in ${room.id}`);
    }
  }
  const cmid = typeof b?.id === 'string' ? b.id : undefined;
  // Refused before any work is spent on it: under overload most frames take this path.
  if (ctx.upstream.full) {
    ctx.metrics.upstreamShed('gateway');
    return ctx.sendError(Errors.Overloaded, 'too many messages are waiting for the logic service', overloadRetryMs());
  }
  const pending = ctx.upstream.request({ o: op, u: identity.uid, n: identity.name, r: identity.roles, room: op === Op.Send ? room!.id : '', at: now, b: body }, frameBytes);
  const started = performance.now();
  pending.then(
    (reply) => {
      ctx.metrics.upstreamAnswered((performance.now() - started) / 1000);
      ctx.failures.succeeded();
      if (!st.open) return;
      if ('e' in reply) return ws.cork(() => ctx.sendError(errorByCode(reply.e), reply.m, reply.r));
      if ('o' in reply) {
        // A read's reply: its op and body were encoded by the logic service. A malformed one
        // (another version) is the service's failure, not the client's.
        if (!(reply.b instanceof Uint8Array)) return ws.cork(() => ctx.sendError(Errors.Internal, 'malformed reply from the logic service'));
        const frame = encodeFrameWithBody(reply.o, rid, reply.b);
        return ws.cork(() => ws.send(frame, true, replyWorthCompressing(reply.o, frame)));
      }
      const ack: Record<string, unknown> = { s: reply.s, t: reply.t };
      if (cmid !== undefined) ack.id = cmid;
      if (reply.dup) ack.dup = true;
      ws.cork(() => ws.send(encodeFrame(Op.Ack, rid, ack), true));
    },
    (err: unknown) => {
      ctx.metrics.upstreamAnswered((performance.now() - started) / 1000); // timeouts must show in p99
      ctx.failures.failed(err, { conn: st.id });
      if (st.open) ws.cork(() => ctx.sendError(Errors.Unavailable, err instanceof Error ? err.message : undefined));
    },
  );
}

/** Sends outside a uWS handler (a bus callback): corked, and false when the frame was dropped. */
export function sendCorked(ws: uWS.WebSocket<ConnState>, frame: Uint8Array): boolean {
  let status = 2;
  ws.cork(() => {
    status = ws.send(frame, true);
  });
  return status !== 2;
}
