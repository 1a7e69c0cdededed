// Frame encoding. Every frame is one MessagePack array [op, rid, body] (docs/protocol.md).
// Room items are encoded once by the logic service; the gateway splices their bytes into
// BATCH frames without re-encoding them.

import { Packr } from 'msgpackr';
import { Errors, ProtocolError } from './errors.js';
import { checkStrict, type StrictRules } from './strict.js';

// Plain MessagePack maps and arrays only: no records or other msgpackr extensions on the wire.
// 64-bit integers decode as numbers (what Go, Java and Python libraries send for small ints):
// a BigInt never reaches the server's logic; one beyond 2^53 fails the integer checks.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, int64AsType: 'number' });

/** Client frames: [op, rid, body] with a body of maps and arrays, nothing nested deeper. */
export const CLIENT_FRAME_RULES: StrictRules = { maxDepth: 8, allowBin: false };

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

/** Decodes bytes from another process; undefined if they are not MessagePack within `rules`. */
export function tryDecode(bytes: Uint8Array, rules?: StrictRules): unknown {
  if (rules && checkStrict(bytes, rules)) return undefined;
  try {
    return packr.unpack(bytes);
  } catch {
    return undefined;
  }
}

/** A client frame that is not [op, rid, body]; `rid` is set when the header could be read. */
export class FrameError extends ProtocolError {
  override name = 'FrameError';
  constructor(
    detail: string,
    readonly rid: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(Errors.BadFrame, detail, options);
  }
}

export function encodeFrame(op: number, rid: number, body: unknown): Buffer {
  return packr.pack([op, rid, body ?? null]);
}

/**
 * Decodes a client frame; throws FrameError (ERROR 1 bad_frame) on anything but plain
 * MessagePack [op, rid, body] within CLIENT_FRAME_RULES.
 */
export function decodeFrame(bytes: Uint8Array): Frame {
  const violation = checkStrict(bytes, CLIENT_FRAME_RULES);
  if (violation) throw new FrameError(violation.detail, violation.rid);
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch (err) {
    throw new FrameError('not valid MessagePack', undefined, { cause: err });
  }
  if (!Array.isArray(value) || value.length < 2 || value.length > 3) {
    const rid = Array.isArray(value) && isUint32(value[1]) ? (value[1] as number) + 0 : undefined;
    throw new FrameError('expected an array of 2 or 3 elements', rid);
  }
  const [op, rid, body] = value as [unknown, unknown, unknown];
  const validRid = isUint32(rid) ? (rid as number) : undefined;
  if (!Number.isInteger(op) || (op as number) < 0 || (op as number) > 255) {
    throw new FrameError('op must be an integer 0-255', validRid);
  }
  if (validRid === undefined) throw new FrameError('rid must be an unsigned 32-bit integer', undefined);
  // An integral float (1.0) counts as that integer; -0 is 0.
  return { op: (op as number) + 0, rid: validRid + 0, body: body ?? null };
}

function isUint32(v: unknown): boolean {
  return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;
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
  return encodeBodyWithEntry(fields, encodeItemsEntry(itemsKey, items));
}

/** The last entry of such a body, `key: [items]`, to be kept and reused (a room's replay). */
export function encodeItemsEntry(itemsKey: string, items: readonly Uint8Array[]): Buffer {
  return Buffer.concat([packr.pack(itemsKey), arrayHeader(items.length), ...items]);
}

/** A map body of `fields` followed by an entry from encodeItemsEntry. */
export function encodeBodyWithEntry(fields: Readonly<Record<string, unknown>>, entry: Uint8Array): Buffer {
  const keys = Object.keys(fields);
  const n = keys.length + 1;
  if (n > 15) throw new RangeError('too many fields for a fixmap');
  const parts: Uint8Array[] = [Buffer.from([0x80 | n])];
  for (const k of keys) parts.push(packr.pack(k), packr.pack(fields[k]));
  parts.push(entry);
  return Buffer.concat(parts);
}

/** Encodes [op, rid, <body bytes>] around an already-encoded body. */
export function encodeFrameWithBody(op: number, rid: number, body: Uint8Array): Buffer {
  const head = rid === 0 ? Buffer.from([0x93, op, 0x00]) : Buffer.concat([Buffer.from([0x93, op]), packr.pack(rid)]);
  return Buffer.concat([head, body]);
}

/**
 * One MessagePack array of values that are already encoded (room items batched into one bus
 * message): the array header, then the values' bytes as they are.
 */
export function encodeArrayOfEncoded(values: readonly Uint8Array[]): Uint8Array {
  const n = values.length;
  let size = 0;
  for (const v of values) size += v.length;
  const head = n < 16 ? 1 : n < 0x10000 ? 3 : 5;
  const out = new Uint8Array(head + size);
  if (head === 1) out[0] = 0x90 | n;
  else if (head === 3) {
    out[0] = 0xdc;
    out[1] = n >> 8;
    out[2] = n & 0xff;
  } else {
    out[0] = 0xdd;
    new DataView(out.buffer, out.byteOffset).setUint32(1, n);
  }
  let at = head;
  for (const v of values) {
    out.set(v, at);
    at += v.length;
  }
  return out;
}
