// The request a gateway sends to the logic service for each SEND frame, and its reply.
// Encoded with the same MessagePack codec as the wire protocol.

import { decode, encode } from '../protocol/codec.js';
import { displayName } from '../protocol/text.js';

export interface UpstreamRequest {
  /** the client op: SEND (20, to the current room) or MSG (22, to a group or a user) */
  o: number;
  /** sender uid, name and roles, from the verified token */
  u: string;
  n: string;
  r: string[];
  /** the room the sender is in ('' for MSG) */
  room: string;
  /** gateway receive time, ms since the epoch */
  at: number;
  /** the SEND frame's body, as the client sent it */
  b: unknown;
}

export type UpstreamReply = { s: number; t: number; dup?: true } | { e: number; m: string };

export function encodeRequest(req: UpstreamRequest): Uint8Array {
  return encode(req);
}

export function decodeRequest(data: Uint8Array): UpstreamRequest | null {
  const v = decode(data) as Partial<UpstreamRequest> | null;
  if (typeof v !== 'object' || v === null) return null;
  if (typeof v.u !== 'string' || typeof v.room !== 'string' || typeof v.at !== 'number' || !Number.isInteger(v.o)) return null;
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

export function encodeReply(reply: UpstreamReply): Uint8Array {
  return encode(reply);
}

export function decodeReply(data: Uint8Array): UpstreamReply {
  const v = decode(data) as Partial<{ s: number; t: number; dup: true; e: number; m: string }>;
  if (typeof v?.e === 'number') return { e: v.e, m: typeof v.m === 'string' ? v.m : '' };
  if (typeof v?.s === 'number' && typeof v.t === 'number') return v.dup ? { s: v.s, t: v.t, dup: true } : { s: v.s, t: v.t };
  throw new Error('malformed upstream reply');
}
