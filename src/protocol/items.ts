// Room items: what the logic service publishes to a room and what BATCH frames carry.
// Short keys because they are the bulk of all traffic (docs/protocol.md, "Room items").
// Gateways splice an item's bytes into frames as they came, so an item from anywhere else (a
// site's backend publishing on NATS) is checked in full first: what a viewer's decoder gets
// must be exactly what the protocol promises.

import { encode, tryDecode } from './codec.js';
import { kindOf } from './kinds.js';
import { UID } from './ops.js';
import type { StrictRules } from './strict.js';
import { codePoints, MAX_NAME_LENGTH, textProblem } from './text.js';

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

/** A room item is one map of plain values: nothing nested, no bin, no extensions. */
export const ITEM_RULES: StrictRules = { maxDepth: 1, allowBin: false };

const COMMON = new Set(['s', 'k', 'u', 'n', 't']);

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

export type ItemCheck = { readonly head: ItemHead } | { readonly fault: ItemFault; readonly detail: string };

/**
 * Checks an encoded room item in full (docs/cluster.md, "Publishing into a room"): one map of
 * plain values, a known kind, the common fields and that kind's fields with their types and
 * ranges, nothing else. Texts are limited by `maxTextLength` as in SEND.
 */
export function checkItem(bytes: Uint8Array, maxTextLength: number): ItemCheck {
  const v = tryDecode(bytes, ITEM_RULES);
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) {
    return { fault: 'bad_item', detail: 'not a MessagePack map of plain values' };
  }
  const item = v as Record<string, unknown>;
  const kind = kindOf(item.k);
  if (!kind) return { fault: 'bad_item_kind', detail: `unknown kind ${String(item.k)}` };
  const { s, u, n, t } = item;
  if (!Number.isInteger(s) || (s as number) < 0 || (s as number) > MAX_SEQ) return { fault: 'bad_item_seq', detail: `s must be an integer in [0, ${MAX_SEQ}]` };
  const fieldFault = (detail: string): ItemCheck => ({ fault: 'bad_item_field', detail });
  if (typeof u !== 'string' || (u !== '' && !UID.test(u))) return fieldFault(`u must be '' or a uid matching ${UID}`);
  if (n !== undefined && (typeof n !== 'string' || codePoints(n) > MAX_NAME_LENGTH || textProblem(n, MAX_NAME_LENGTH) !== null)) {
    return fieldFault(`n must be a display name of 1-${MAX_NAME_LENGTH} characters`);
  }
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0 || t > Number.MAX_SAFE_INTEGER) return fieldFault('t must be a time in ms since the epoch');
  for (const key of Object.keys(item)) {
    if (!COMMON.has(key) && !(key in kind.fields)) return fieldFault(`${kind.name} items have no field ${key}`);
  }
  for (const [name, spec] of Object.entries(kind.fields)) {
    const f = item[name];
    if (f === undefined) {
      if (spec.type !== 'int' && spec.required) return fieldFault(`${kind.name} items need ${name}`);
      continue;
    }
    if (spec.type === 'text') {
      const problem = typeof f === 'string' ? textProblem(f, maxTextLength * spec.scale) : 'must be a string';
      if (problem) return fieldFault(`${name} ${problem}`);
    } else if (spec.type === 'int') {
      if (!Number.isInteger(f) || (f as number) < spec.min || (f as number) > spec.max) return fieldFault(`${name} must be an integer in [${spec.min}, ${spec.max}]`);
    } else if (typeof f !== 'string' || !spec.pattern.test(f)) return fieldFault(`${name} must match ${spec.pattern}`);
  }
  const a = item.a;
  return { head: { seq: (s as number) + 0, kind: kind.id, time: t, amount: Number.isInteger(a) && (a as number) > 0 ? (a as number) : 1 } };
}
