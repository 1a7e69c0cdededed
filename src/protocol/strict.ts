// What the server accepts as MessagePack from outside (clients, and backends publishing room
// items): plain data only. One pass over the bytes before they are decoded, so that msgpackr's
// extensions (records, structured clone with cyclic references, timestamps, typed arrays, ...)
// never reach the decoder, nesting is bounded, and every string is valid UTF-8 (docs/protocol.md,
// "Encoding"). Integers in any encoding are fine: the decoder turns 64-bit ones into numbers.

import { isUtf8 } from 'node:buffer';

export interface StrictRules {
  /** containers inside containers: a frame [op, rid, {..}] is depth 2 */
  readonly maxDepth: number;
  /** bin values (never in client frames; only inside the server's own deliveries) */
  readonly allowBin: boolean;
}

/** Why bytes were refused, and the frame's rid when the header could be read before that. */
export interface StrictViolation {
  readonly detail: string;
  readonly rid?: number;
}

class Refused extends Error {}

// The scan's state, module-level rather than closures made per call: this runs for every client
// frame, and a frame's check must not allocate. Not re-entrant, and it need not be (synchronous).
const EMPTY = new Uint8Array(0);
let bytes: Uint8Array = EMPTY;
const EMPTY_VIEW = new DataView(EMPTY.buffer);
let view: DataView = EMPTY_VIEW;
let pos = 0;
let rid: number | undefined;
let rules: StrictRules = { maxDepth: 0, allowBin: false };

/**
 * Checks `input` against the rules: exactly one plain MessagePack value (nil, bool, int, float,
 * str, array, map with string keys, and bin if allowed), no extension types, no trailing bytes.
 * Returns null when it passes. For a top-level array, the first two elements (a frame's op and
 * rid) are noted as they are read, so an error can still echo the rid.
 */
export function checkStrict(input: Uint8Array, checkRules: StrictRules): StrictViolation | null {
  bytes = input;
  view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  pos = 0;
  rid = undefined;
  rules = checkRules;
  try {
    value(0, false);
    if (pos !== bytes.length) throw new Refused('trailing bytes after the MessagePack value');
    return null;
  } catch (err) {
    if (!(err instanceof Refused)) throw err;
    return rid === undefined ? { detail: err.message } : { detail: err.message, rid };
  } finally {
    bytes = EMPTY; // keep no reference to the caller's buffer
    view = EMPTY_VIEW;
  }
}

const ELEMENTS: StrictRules = { maxDepth: 8, allowBin: true };

/**
 * The elements of `input` when it is exactly one MessagePack array of well-formed values, as
 * views into it (not copies); otherwise null. Each element is only known to be well-formed
 * MessagePack of the strict subset (no extension types, nesting at most 8): its reader checks
 * the rest. A room message on the bus carries one item, or several as such an array.
 */
export function splitArray(input: Uint8Array): Uint8Array[] | null {
  const b = input[0];
  if (b === undefined || !((b >= 0x90 && b <= 0x9f) || b === 0xdc || b === 0xdd)) return null;
  bytes = input;
  view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  pos = 1;
  rules = ELEMENTS;
  try {
    const n = b <= 0x9f ? b & 0x0f : b === 0xdc ? u16() : u32();
    need(n);
    const out: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const start = pos;
      value(0, false);
      out.push(input.subarray(start, pos));
    }
    return pos === input.length ? out : null;
  } catch (err) {
    if (!(err instanceof Refused)) throw err;
    return null;
  } finally {
    bytes = EMPTY;
    view = EMPTY_VIEW;
  }
}

function need(n: number): void {
  if (pos + n > bytes.length) throw new Refused('truncated MessagePack');
}

function u8(): number {
  need(1);
  return bytes[pos++]!;
}

function u16(): number {
  need(2);
  const v = view.getUint16(pos);
  pos += 2;
  return v;
}

function u32(): number {
  need(4);
  const v = view.getUint32(pos);
  pos += 4;
  return v;
}

function str(n: number): void {
  need(n);
  const end = pos + n;
  let i = pos;
  while (i < end && bytes[i]! < 0x80) i++; // ASCII (every key, most values) needs no more
  if (i < end && !isUtf8(bytes.subarray(i, end))) throw new Refused('string is not valid UTF-8');
  pos = end;
}

function skip(n: number): void {
  need(n);
  pos += n;
}

/** Reads `n` bytes of a number with `read`; returns the number (for the frame header). */
function num(n: number, read: (at: number) => number | bigint): number {
  need(n);
  pos += n;
  return Number(read.call(view, pos - n));
}

/** Reads one value; returns it when it is a number (for the frame header), else undefined. */
function value(depth: number, isKey: boolean): number | undefined {
  const b = u8();
  if (isKey && !((b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb))) throw new Refused('map keys must be strings');
  if (b <= 0x7f) return b;
  if (b >= 0xe0) return b - 0x100;
  if (b <= 0x8f) return container(depth, b & 0x0f, true);
  if (b <= 0x9f) return container(depth, b & 0x0f, false);
  if (b <= 0xbf) return str(b & 0x1f), undefined;
  switch (b) {
    case 0xc0:
    case 0xc2:
    case 0xc3:
      return undefined;
    case 0xc4:
    case 0xc5:
    case 0xc6:
      if (!rules.allowBin) throw new Refused('bin values are not accepted here');
      return skip(b === 0xc4 ? u8() : b === 0xc5 ? u16() : u32()), undefined;
    case 0xca:
      return num(4, DataView.prototype.getFloat32);
    case 0xcb:
      return num(8, DataView.prototype.getFloat64);
    case 0xcc:
      return u8();
    case 0xcd:
      return u16();
    case 0xce:
      return u32();
    case 0xcf:
      return num(8, DataView.prototype.getBigUint64);
    case 0xd0:
      return num(1, DataView.prototype.getInt8);
    case 0xd1:
      return num(2, DataView.prototype.getInt16);
    case 0xd2:
      return num(4, DataView.prototype.getInt32);
    case 0xd3:
      return num(8, DataView.prototype.getBigInt64);
    case 0xd9:
      return str(u8()), undefined;
    case 0xda:
      return str(u16()), undefined;
    case 0xdb:
      return str(u32()), undefined;
    case 0xdc:
      return container(depth, u16(), false);
    case 0xdd:
      return container(depth, u32(), false);
    case 0xde:
      return container(depth, u16(), true);
    case 0xdf:
      return container(depth, u32(), true);
    default: // 0xc1 (never used), 0xc7-0xc9 and 0xd4-0xd8 (extensions)
      throw new Refused(b === 0xc1 ? 'invalid MessagePack byte 0xc1' : 'MessagePack extension types are not accepted');
  }
}

function container(depth: number, n: number, isMap: boolean): undefined {
  if (depth + 1 > rules.maxDepth) throw new Refused(`nested deeper than ${rules.maxDepth}`);
  // Every element takes at least one byte: a huge announced length fails here, not in a loop.
  need(isMap ? 2 * n : n);
  const top = depth === 0 && !isMap;
  for (let i = 0; i < n; i++) {
    if (isMap) value(depth + 1, true);
    const v = value(depth + 1, false);
    if (top && i === 1 && typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff) rid = v;
  }
  return undefined;
}
