// What the logic service sends to one gateway for a group or user message: the uids of that
// gateway's recipients and the client frame, encoded once by the logic service and sent as is
// to every connection of those users. A MessagePack array [uids, frame bytes].

import { encode, tryDecode } from './codec.js';

export interface Delivery {
  readonly uids: readonly string[];
  readonly frame: Uint8Array;
}

export function encodeDelivery(uids: readonly string[], frame: Uint8Array): Buffer {
  return encode([uids, frame]);
}

/** Decodes a delivery; null if the bytes are not one. */
export function decodeDelivery(data: Uint8Array): Delivery | null {
  const v = tryDecode(data);
  if (!Array.isArray(v) || v.length !== 2) return null;
  const [uids, frame] = v as [unknown, unknown];
  if (!Array.isArray(uids) || !uids.every((u) => typeof u === 'string') || !(frame instanceof Uint8Array)) return null;
  return { uids: uids as string[], frame };
}
