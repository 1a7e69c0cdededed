// Frames on the wire (docs/protocol.md, "Framing"): one MessagePack array [op, rid, body] per
// binary WebSocket message, with @msgpack/msgpack (small enough for a browser bundle; the
// server's msgpackr stays on the server). The INBOX `d` is gzip of a MessagePack array,
// opened with DecompressionStream (browsers, Node 18+).

import { decode, encode } from '@msgpack/msgpack';

export interface Frame {
  readonly op: number;
  readonly rid: number;
  readonly body: Record<string, unknown>;
}

/** Absent optional fields stay absent: the server refuses `{c: nil}`. */
const ENCODE_OPTIONS = { ignoreUndefined: true } as const;

export function encodeFrame(op: number, rid: number, body: unknown): Uint8Array {
  return encode(body === undefined || body === null ? [op, rid] : [op, rid, body], ENCODE_OPTIONS);
}

/** A server frame, or null when the bytes are not one. */
export function decodeFrame(data: ArrayBuffer | Uint8Array): Frame | null {
  const v = decode(data instanceof Uint8Array ? data : new Uint8Array(data));
  if (!Array.isArray(v) || typeof v[0] !== 'number' || typeof v[1] !== 'number') return null;
  const body = v[2];
  return { op: v[0], rid: v[1], body: body !== null && typeof body === 'object' ? (body as Record<string, unknown>) : {} };
}

/** The messages of an INBOX `d`: gunzip, then a MessagePack array of MESSAGE bodies. */
export async function inboxMessages(d: unknown): Promise<Record<string, unknown>[]> {
  if (!(d instanceof Uint8Array) || d.length === 0) return [];
  const stream = new Blob([d as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
  const raw = await new Response(stream).arrayBuffer();
  const v = decode(new Uint8Array(raw));
  return Array.isArray(v) ? (v as Record<string, unknown>[]) : [];
}
