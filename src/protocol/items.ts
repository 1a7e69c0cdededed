// Room items: what the logic service publishes to a room and what BATCH frames carry.
// Short keys because they are the bulk of all traffic (docs/protocol.md, "Room items").
// Gateways splice an item's bytes into frames as they came, so an item from anywhere else (a
// site's backend publishing on NATS) is checked in full first: what a viewer's decoder gets
// must be exactly what the protocol promises.

import { encode, tryDecode } from './codec.js';
import { fieldProblem, kindFields, kindOf, KINDS } from './kinds.js';
import { UID } from './ops.js';
import { displayName } from './text.js';

export interface RoomItem {
  /** per-room sequence number, assigned by the logic service (0: unsequenced) */
  s: number;
  /** kind (protocol/kinds.ts): 1 danmaku, 2 like, 3 gift, 4 notice */
  k: number;
  /** sender uid ('' for system notices) */
  u: string;
  /** sender display name */
  n?: string;
  /** server receive time, ms since the epoch */
  t: number;
  /** text (danmaku, notice) */
  x?: string;
  /** colour 0xRRGGBB (danmaku) */
  c?: number;
  /** position mode: 0 scroll, 1 top, 2 bottom (danmaku) */
  m?: number;
  /** gift id (gift) */
  g?: string;
  /** amount: gift count, like count */
  a?: number;
}

/** Sequence numbers are unsigned 32-bit: the server never assigns more. */
export const MAX_SEQ = 0xffffffff;

/**
 * The head of an item this process's own logic service encoded (encodeItem of validated
 * fields): read, not checked again. Null if the bytes are not an item at all.
 */
export function readOwnItemHead(bytes: Uint8Array): ItemHead | null {
  const v = tryDecode(bytes) as Partial<RoomItem> | undefined;
  if (typeof v !== 'object' || v === null || typeof v.s !== 'number' || typeof v.k !== 'number' || typeof v.t !== 'number') return null;
  return { seq: v.s, kind: v.k, time: v.t, amount: typeof v.a === 'number' && v.a > 0 ? v.a : 1 };
}

/** Whether a decoded value is a plain scalar: what every field of an item must be. */
function isScalar(v: unknown): boolean {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

const COMMON = ['s', 'k', 'u', 'n', 't'];

/** Per kind, its fields as a list and every key its items may have: built once, not per item. */
const SHAPES = new Map(KINDS.map((k) => [k.id, { fields: kindFields(k), keys: new Set([...COMMON, ...Object.keys(k.fields)]) }]));

function fieldFault(detail: string): ItemCheck {
  return { fault: 'bad_item_field', detail };
}

export function encodeItem(item: RoomItem): Buffer {
  return encode(item);
}

/** The fields the gateway needs from an item it did not encode. */
export interface ItemHead {
  readonly seq: number;
  readonly kind: number;
  readonly time: number;
  readonly amount: number;
}

/** Why a room item was refused: the reason label of `danmaku_dropped_total`. */
export type ItemFault = 'bad_item' | 'bad_item_kind' | 'bad_item_field' | 'bad_item_seq';

/** A checked item: its head, and its bytes as the protocol documents them (`data`). */
export type ItemCheck = { readonly head: ItemHead; readonly data: Buffer } | { readonly fault: ItemFault; readonly detail: string };

/**
 * Checks a room item from the bus in full (docs/cluster.md, "Publishing into a room"), and
 * encodes it again as the protocol promises viewers: integers as integers in their smallest
 * form whatever the publisher used (a Go backend's uint64, a Python float `t`), `t` whole ms,
 * texts trimmed, the display name cleaned (protocol/text.ts), the keys in one order. Refused:
 * anything but one map of plain values, an unknown kind, a field that breaks its rule (the
 * kinds table's, as in SEND), a field the kind does not have, an `s` out of range. One
 * encode per item and gateway, never per recipient.
 */
export function checkItem(bytes: Uint8Array, maxTextLength: number): ItemCheck {
  // No strict pass over the bytes first (as for client frames): the item is encoded again
  // below, so what matters is what it decodes to. Anything but a flat map of scalars is
  // refused: bin (Uint8Array), extensions (Date, Set, typed arrays, records and structured
  // clones decode to objects), nesting; invalid UTF-8 decodes to U+FFFD and goes out valid.
  const v = tryDecode(bytes);
  if (typeof v !== 'object' || v === null || Object.getPrototypeOf(v) !== Object.prototype) {
    return { fault: 'bad_item', detail: 'not a MessagePack map' };
  }
  const item = v as Record<string, unknown>;
  const kind = kindOf(item.k);
  if (!kind) return { fault: 'bad_item_kind', detail: `unknown kind ${String(item.k)}` };
  const { s, u, n, t } = item;
  if (!Number.isInteger(s) || (s as number) < 0 || (s as number) > MAX_SEQ) return { fault: 'bad_item_seq', detail: `s must be an integer in [0, ${MAX_SEQ}]` };
  if (typeof u !== 'string' || (u !== '' && !UID.test(u))) return fieldFault(`u must be '' or a uid matching ${UID}`);
  if (n !== undefined && typeof n !== 'string') return fieldFault('n must be a string');
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0 || t > Number.MAX_SAFE_INTEGER) return fieldFault('t must be a time in ms since the epoch');
  const shape = SHAPES.get(kind.id)!;
  for (const key in item) {
    if (!isScalar(item[key])) return { fault: 'bad_item', detail: `${key} is not a plain value (nested, bin or an extension type)` };
    if (!shape.keys.has(key)) return fieldFault(`${kind.name} items have no field ${key}`);
  }
  const out: Record<string, unknown> = { s: (s as number) + 0, k: kind.id, u };
  const name = n === undefined ? '' : displayName(n, u);
  if (name !== '') out.n = name;
  out.t = Math.round(t);
  for (const [field, spec] of shape.fields) {
    const raw = item[field];
    if (raw === undefined) {
      if (spec.type !== 'int' && spec.required) return fieldFault(`${kind.name} items need ${field}`);
      continue;
    }
    const value = spec.type === 'text' && typeof raw === 'string' ? raw.trim() : raw;
    const problem = fieldProblem(spec, value, maxTextLength);
    if (problem) return fieldFault(`${field} ${problem}`);
    out[field] = typeof value === 'number' ? value + 0 : value;
  }
  const a = out.a;
  const head = { seq: out.s as number, kind: kind.id, time: out.t as number, amount: typeof a === 'number' && a > 0 ? a : 1 };
  return { head, data: encode(out) };
}
