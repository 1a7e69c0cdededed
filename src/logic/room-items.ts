// A room item's way out, the one rule for SEND (logic.ts) and the backend API (backend-api.ts):
// an item of a replayed kind that has a seq goes into the room's recovery window BEFORE it is
// published. Whatever a viewer may have been sent is then in the window: a gateway whose room
// subscription became active between the publish and its window read, a viewer resuming with
// `since` and a gateway refilling after a bus outage all find it. And an item is never
// published when the window could not take it: the sender is told to retry instead
// (docs/protocol.md, SEND: "the ACK of a replayed kind means stored for recovery").

import type { RoomBus } from '../bus/index.js';
import type { KindSpec } from '../protocol/kinds.js';
import type { RoomHistory } from '../store/history/index.js';

/** Nothing was published: the window could not take the item, or it needs a seq and has none. */
export class NotStoredError extends Error {
  override name = 'NotStoredError';
}

/**
 * The item is in the recovery window, but the bus refused it (its connection is closed): it
 * exists all the same (joiners and refills replay it), so a retry must get its first result.
 */
export class StoredNotPublishedError extends Error {
  override name = 'StoredNotPublishedError';
}

export interface OutgoingItem {
  readonly room: string;
  readonly kind: KindSpec;
  /** its seq in the room; 0: unsequenced (the sequence store was unavailable) */
  readonly seq: number;
  readonly t: number;
  /** the encoded item (encodeItem) */
  readonly data: Uint8Array;
}

/**
 * Whether a kind may go out unsequenced. Never-shed kinds (gifts, notices) may not: without a
 * seq an item has no place in the recovery window, and a viewer who misses it live could never
 * get it back. Danmaku and likes keep flowing without Redis.
 */
export function mayGoUnsequenced(kind: KindSpec): boolean {
  return kind.display !== 'keep';
}

/**
 * Stores (replayed kinds with a seq) then publishes. Rejects with NotStoredError when nothing
 * was published, StoredNotPublishedError when the item is stored but was not handed to the bus.
 */
export async function storeThenPublish(history: RoomHistory, bus: RoomBus, item: OutgoingItem): Promise<void> {
  const { room, kind, seq, t, data } = item;
  if (seq === 0 && !mayGoUnsequenced(kind)) throw new NotStoredError(`a ${kind.name} needs a sequence number, and the sequence store is unavailable`);
  if (kind.replayed && seq > 0) {
    try {
      await history.append(room, { seq, t, keep: kind.display === 'keep', data });
    } catch (err) {
      throw new NotStoredError(`the room's recovery window could not be written: ${(err as Error).message}`, { cause: err });
    }
  }
  try {
    bus.publish(room, data);
  } catch (err) {
    if (kind.replayed && seq > 0) throw new StoredNotPublishedError(`stored for recovery, but not published: ${(err as Error).message}`, { cause: err });
    throw err;
  }
}
