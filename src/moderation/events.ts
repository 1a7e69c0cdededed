// The events on the control subject (`<prefix>.ctl`, docs/cluster.md): MessagePack maps
// {v: the store's version after the change, e: what changed, ...its fields}. Decoded
// defensively: anything with access to NATS can publish there, and a bad event is dropped
// (the version poll repairs what it should have said).

import { decode, encode } from '../protocol/codec.js';
import { ROOM_ID, UID } from '../protocol/ops.js';
import { EVERYWHERE, type Restriction } from '../store/moderation/index.js';

export type ControlEvent =
  | { readonly v: number; readonly e: 'mute' | 'ban'; readonly r: Restriction }
  | { readonly v: number; readonly e: 'unmute' | 'unban'; readonly u: string; readonly room: string }
  | { readonly v: number; readonly e: 'lists' };

export function encodeEvent(ev: ControlEvent): Uint8Array {
  if (ev.e === 'mute' || ev.e === 'ban') {
    const { uid, room, until, by, source, reason, at } = ev.r;
    return encode({ v: ev.v, e: ev.e, u: uid, room, by, source, at, ...(until !== undefined ? { until } : {}), ...(reason !== undefined ? { reason } : {}) });
  }
  return encode(ev);
}

/** The event, or null when it is not one this version knows (dropped; the poll catches up). */
export function decodeEvent(data: Uint8Array): ControlEvent | null {
  let m: Record<string, unknown>;
  try {
    m = decode(data) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof m !== 'object' || m === null || !Number.isSafeInteger(m.v)) return null;
  const v = m.v as number;
  if (m.e === 'lists') return { v, e: 'lists' };
  if (typeof m.u !== 'string' || !UID.test(m.u) || typeof m.room !== 'string') return null;
  if (m.room !== EVERYWHERE && !ROOM_ID.test(m.room)) return null;
  if (m.e === 'unmute' || m.e === 'unban') return { v, e: m.e, u: m.u, room: m.room };
  if (m.e !== 'mute' && m.e !== 'ban') return null;
  if (m.until !== undefined && !Number.isSafeInteger(m.until)) return null;
  const source = m.source === 'admin' || m.source === 'moderator' || m.source === 'auto' ? m.source : 'admin';
  const r: Restriction = {
    uid: m.u,
    room: m.room,
    by: typeof m.by === 'string' ? m.by : '',
    source,
    at: Number.isSafeInteger(m.at) ? (m.at as number) : Date.now(),
    ...(m.until !== undefined ? { until: m.until as number } : {}),
    ...(typeof m.reason === 'string' ? { reason: m.reason } : {}),
  };
  return { v, e: m.e, r };
}
