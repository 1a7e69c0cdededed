// Room items: what the logic service publishes to a room and what BATCH frames carry.
// Short keys because they are the bulk of all traffic (docs/protocol.md, "Room items").

import { encode, tryDecode } from './codec.js';
import { Kind } from './ops.js';

export interface RoomItem {
  /** per-room sequence number, assigned by the logic service */
  s: number;
  /** kind: 1 danmaku, 2 like, 3 gift, 4 notice */
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

export function encodeItem(item: RoomItem): Buffer {
  return encode(item);
}

/** The fields the gateway needs from an item it did not encode; null if it is not a room item. */
export interface ItemHead {
  readonly seq: number;
  readonly kind: number;
  readonly time: number;
  readonly amount: number;
}

export function readItemHead(bytes: Uint8Array): ItemHead | null {
  const v = tryDecode(bytes);
  if (typeof v !== 'object' || v === null) return null;
  const { s, k, t, a } = v as Partial<RoomItem>;
  if (!Number.isSafeInteger(s) || (s as number) < 0) return null;
  if (k !== Kind.Danmaku && k !== Kind.Like && k !== Kind.Gift && k !== Kind.Notice) return null;
  if (typeof t !== 'number' || !Number.isFinite(t)) return null;
  return { seq: s as number, kind: k, time: t, amount: Number.isInteger(a) && (a as number) > 0 ? (a as number) : 1 };
}
