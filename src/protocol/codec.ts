// Frame encoding. Every frame is one MessagePack array [op, rid, body] (docs/protocol.md).
// Room items are encoded once by the logic service; the gateway splices their bytes into
// BATCH frames without re-encoding them.

import { Packr } from 'msgpackr';
import { Errors, ProtocolError } from './errors.js';

// Plain MessagePack maps and arrays only: no records or other msgpackr extensions on the wire.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

export interface Frame {
  readonly op: number;
  readonly rid: number;
  readonly body: unknown;
}

export function encode(value: unknown): Buffer {
  return packr.pack(value);
}

export function decode(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}

/** Decodes bytes from another process; undefined if they are not MessagePack. */
export function tryDecode(bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes);
  } catch {
    return undefined;
  }
}

export function encodeFrame(op: number, rid: number, body: unknown): Buffer {
  return packr.pack([op, rid, body ?? null]);
}

/** Decodes a client frame; throws ProtocolError(BadFrame) on anything but [op, rid, body]. */
export function decodeFrame(bytes: Uint8Array): Frame {
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch (err) {
    throw new ProtocolError(Errors.BadFrame, 'not valid MessagePack', { cause: err });
  }
  if (!Array.isArray(value) || value.length < 2 || value.length > 3) {
    throw new ProtocolError(Errors.BadFrame, 'expected an array of 2 or 3 elements');
  }
  const [op, rid, body] = value as [unknown, unknown, unknown];
  if (!Number.isInteger(op) || (op as number) < 0 || (op as number) > 255) {
    throw new ProtocolError(Errors.BadFrame, 'op must be an integer 0-255');
  }
  if (!Number.isInteger(rid) || (rid as number) < 0 || (rid as number) > 0xffffffff) {
    throw new ProtocolError(Errors.BadFrame, 'rid must be an unsigned 32-bit integer');
  }
  return { op: op as number, rid: rid as number, body: body ?? null };
}

function arrayHeader(n: number): Buffer {
  if (n < 16) return Buffer.from([0x90 | n]);
  if (n < 0x10000) {
    const b = Buffer.allocUnsafe(3);
    b[0] = 0xdc;
    b.writeUInt16BE(n, 1);
    return b;
  }
  const b = Buffer.allocUnsafe(5);
  b[0] = 0xdd;
  b.writeUInt32BE(n, 1);
  return b;
}

/**
 * Encodes a map body whose last entry is an array of already-encoded items, spliced in as
 * bytes: the items are encoded once by the logic service and never re-encoded here.
 */
export function encodeBodyWithItems(fields: Readonly<Record<string, unknown>>, itemsKey: string, items: readonly Uint8Array[]): Buffer {
  const keys = Object.keys(fields);
  const n = keys.length + 1;
  if (n > 15) throw new RangeError('too many fields for a fixmap');
  const parts: Uint8Array[] = [Buffer.from([0x80 | n])];
  for (const k of keys) parts.push(packr.pack(k), packr.pack(fields[k]));
  parts.push(packr.pack(itemsKey), arrayHeader(items.length));
  for (const item of items) parts.push(item);
  return Buffer.concat(parts);
}

/** Encodes [op, rid, <body bytes>] around an already-encoded body. */
export function encodeFrameWithBody(op: number, rid: number, body: Uint8Array): Buffer {
  const head = rid === 0 ? Buffer.from([0x93, op, 0x00]) : Buffer.concat([Buffer.from([0x93, op]), packr.pack(rid)]);
  return Buffer.concat([head, body]);
}
