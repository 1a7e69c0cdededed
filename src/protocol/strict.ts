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

/**
 * Checks `bytes` against the rules: exactly one plain MessagePack value (nil, bool, int, float,
 * str, array, map with string keys, and bin if allowed), no extension types, no trailing bytes.
 * Returns null when it passes. For a top-level array, the first two elements (a frame's op and
 * rid) are noted as they are read, so an error can still echo the rid.
 */
export function checkStrict(bytes: Uint8Array, rules: StrictRules): StrictViolation | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  let rid: number | undefined;

  const need = (n: number): void => {
    if (pos + n > bytes.length) throw new Refused('truncated MessagePack');
  };
  const u8 = (): number => {
    need(1);
    return bytes[pos++]!;
  };
  const u16 = (): number => {
    need(2);
    const v = view.getUint16(pos);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos);
    pos += 4;
    return v;
  };
  const str = (n: number): void => {
    need(n);
    const end = pos + n;
    let i = pos;
    while (i < end && bytes[i]! < 0x80) i++; // ASCII (every key, most values) needs no more
    if (i < end && !isUtf8(bytes.subarray(i, end))) throw new Refused('string is not valid UTF-8');
    pos = end;
  };
  const skip = (n: number): void => {
    need(n);
    pos += n;
  };

  /** Reads one value; returns it when it is a number (for the frame header), else undefined. */
  const value = (depth: number, isKey = false): number | undefined => {
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
        need(4);
        return (pos += 4), view.getFloat32(pos - 4);
      case 0xcb:
        need(8);
        return (pos += 8), view.getFloat64(pos - 8);
      case 0xcc:
        return u8();
      case 0xcd:
        return u16();
      case 0xce:
        return u32();
      case 0xcf:
        need(8);
        return (pos += 8), Number(view.getBigUint64(pos - 8));
      case 0xd0:
        need(1);
        return (pos += 1), view.getInt8(pos - 1);
      case 0xd1:
        need(2);
        return (pos += 2), view.getInt16(pos - 2);
      case 0xd2:
        need(4);
        return (pos += 4), view.getInt32(pos - 4);
      case 0xd3:
        need(8);
        return (pos += 8), Number(view.getBigInt64(pos - 8));
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
  };

  const container = (depth: number, n: number, isMap: boolean): undefined => {
    if (depth + 1 > rules.maxDepth) throw new Refused(`nested deeper than ${rules.maxDepth}`);
    // Every element takes at least one byte: a huge announced length fails here, not in a loop.
    need(isMap ? 2 * n : n);
    const top = depth === 0 && !isMap;
    for (let i = 0; i < n; i++) {
      if (isMap) value(depth + 1, true);
      const v = value(depth + 1);
      if (top && i === 1 && typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff) rid = v;
    }
    return undefined;
  };

  try {
    value(0);
    if (pos !== bytes.length) throw new Refused('trailing bytes after the MessagePack value');
    return null;
  } catch (err) {
    if (!(err instanceof Refused)) throw err;
    return rid === undefined ? { detail: err.message } : { detail: err.message, rid };
  }
}
