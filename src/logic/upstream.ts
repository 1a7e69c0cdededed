// The requests a gateway sends to the logic service for SEND and MSG frames, and the replies.
// Encoded with the same MessagePack codec as the wire protocol. A gateway sends the requests
// of one event-loop turn as one batch (an array of requests) and gets an array of replies in
// the same order; a single request (a map) is still answered with a single reply, for
// gateways of older versions. docs/cluster.md, "Upstream requests".

import { decode, encode } from '../protocol/codec.js';
import { Op } from '../protocol/ops.js';
import { displayName } from '../protocol/text.js';

export interface UpstreamRequest {
  /**
   * the client op: SEND (20, to the current room), MSG (22, to a group or a user), or a chat
   * read: SYNC (40; also the inbox push on connect), HISTORY (42), CONTACTS (44), READ (46)
   */
  o: number;
  /** sender uid, name and roles, from the verified token */
  u: string;
  n: string;
  r: readonly string[];
  /** the room the sender is in ('' for MSG) */
  room: string;
  /** gateway receive time, ms since the epoch (a safe integer in [1e12, 1e13): checked) */
  at: number;
  /** the SEND frame's body, as the client sent it */
  b: unknown;
}

/**
 * An ACK's fields; or an error (`r`: with ERROR 32 `overloaded`, how long the client should wait
 * before retrying, ms); or, for the chat reads (SYNC, HISTORY, CONTACTS, READ), the reply frame's
 * op and body.
 */
export type UpstreamReply = { s: number; t: number; dup?: true } | { e: number; m: string; r?: number } | { o: number; b: unknown };

export function encodeRequests(reqs: readonly UpstreamRequest[]): Uint8Array {
  return encode(reqs);
}

/** Requests per batch at most (a gateway's batches are smaller). */
export const MAX_BATCH_REQUESTS = 256;
/**
 * A batch's weight at most: its requests' bytes plus the most its replies can take (a chat
 * read's reply is bounded, READ_REPLY_MAX_BYTES), so that both the request and the batch of
 * replies stay well below NATS' max_payload (1 MB by default).
 */
export const MAX_BATCH_BYTES = 768 * 1024;

/** The largest reply of a chat read: an INBOX page is cut (with `more`) to stay below it. */
export const READ_REPLY_MAX_BYTES = 128 * 1024;

/** The most bytes the reply to `req` can take, for the batch's weight. */
export function replyWeight(req: UpstreamRequest): number {
  switch (req.o) {
    case Op.Sync:
    case Op.History:
    case Op.Contacts:
      return READ_REPLY_MAX_BYTES;
    default:
      return 64; // an ACK, UNREAD or an error
  }
}

/**
 * A batch's requests (an entry that is not a request is null), or one request alone; null
 * when the batch is longer than MAX_BATCH_REQUESTS (answered with one error, not decoded).
 */
export function decodeRequests(data: Uint8Array): { batch: boolean; reqs: (UpstreamRequest | null)[] } | null {
  const v = decode(data) as unknown;
  if (Array.isArray(v)) return v.length > MAX_BATCH_REQUESTS ? null : { batch: true, reqs: v.map(requestOf) };
  return { batch: false, reqs: [requestOf(v)] };
}

function requestOf(value: unknown): UpstreamRequest | null {
  const v = value as Partial<UpstreamRequest> | null;
  if (typeof v !== 'object' || v === null) return null;
  if (typeof v.u !== 'string' || typeof v.room !== 'string' || !validAt(v.at) || !Number.isInteger(v.o)) return null;
  return {
    o: v.o as number,
    u: v.u,
    // Cleaned here too: a gateway of an older version may not have (protocol/text.ts).
    n: typeof v.n === 'string' ? displayName(v.n, v.u) : v.u,
    r: Array.isArray(v.r) ? v.r.filter((x): x is string => typeof x === 'string') : [],
    room: v.room,
    at: v.at,
    b: v.b,
  };
}

/**
 * A receive time a gateway can have sent: ms since the epoch, 13 digits (2001 to 2286). It
 * becomes the t of stored items and messages: a wrong one (any NATS client can send requests)
 * is a malformed request, not a bad item in a room's window or a user's history.
 */
function validAt(at: unknown): at is number {
  return typeof at === 'number' && Number.isSafeInteger(at) && at >= 1e12 && at < 1e13;
}

export function encodeReply(reply: UpstreamReply | readonly UpstreamReply[]): Uint8Array {
  return encode(reply);
}

/** The replies to a batch of `n` requests; throws unless there are exactly `n`. */
export function decodeReplies(data: Uint8Array, n: number): UpstreamReply[] {
  const v = decode(data) as unknown;
  if (!Array.isArray(v) || v.length !== n) throw new Error(`malformed upstream reply: expected ${n} replies`);
  return v.map(replyOf);
}

function replyOf(value: unknown): UpstreamReply {
  const v = value as Partial<{ s: number; t: number; dup: true; e: number; m: string; r: number; o: number; b: unknown }> | null;
  if (typeof v?.e === 'number') {
    const m = typeof v.m === 'string' ? v.m : '';
    return typeof v.r === 'number' ? { e: v.e, m, r: v.r } : { e: v.e, m };
  }
  if (typeof v?.o === 'number' && 'b' in v) return { o: v.o, b: v.b };
  if (typeof v?.s === 'number' && typeof v.t === 'number') return v.dup ? { s: v.s, t: v.t, dup: true } : { s: v.s, t: v.t };
  throw new Error('malformed upstream reply');
}
