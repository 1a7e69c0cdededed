// What the logic service sends to one gateway for a group or user message: the uids of that
// gateway's recipients and the client frame, encoded once by the logic service and sent as is
// to every connection of those users. A MessagePack array [uids, frame bytes], or
// [uids, frame bytes, id] when the frame is a push the client acknowledges (a MESSAGE with an
// id: the gateway resends it until RECEIVED, src/gateway/pushes.ts). Gateways of either
// version read both forms: one without the id delivers, it just does not track.

import { encode, tryDecode } from './codec.js';

export interface Delivery {
  readonly uids: readonly string[];
  readonly frame: Uint8Array;
  /** the push id to track on each connection it reaches; absent: not tracked */
  readonly id?: string;
}

/** `id`: the push id of a MESSAGE frame that carries one (docs/protocol.md, "Acknowledging pushes"). */
export function encodeDelivery(uids: readonly string[], frame: Uint8Array, id?: string): Buffer {
  return encode(id === undefined ? [uids, frame] : [uids, frame, id]);
}

/** Decodes a delivery; null if the bytes are not one. */
export function decodeDelivery(data: Uint8Array): Delivery | null {
  const v = tryDecode(data);
  if (!Array.isArray(v) || (v.length !== 2 && v.length !== 3)) return null;
  const [uids, frame, id] = v as [unknown, unknown, unknown];
  if (!Array.isArray(uids) || !uids.every((u) => typeof u === 'string') || !(frame instanceof Uint8Array)) return null;
  if (v.length === 2) return { uids: uids as string[], frame };
  if (typeof id !== 'string' || id.length < 1 || id.length > 64) return null;
  return { uids: uids as string[], frame, id };
}
