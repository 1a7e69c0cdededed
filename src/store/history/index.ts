// The room replay window: the last items of each room, so that a late joiner sees what was
// just said and a gateway that was cut off from the bus can refill what its members missed.
// memory.ts (standalone) and redis.ts (cluster) both pass test/contract/history-suite.ts.

export interface StoredItem {
  /** the item's sequence number in its room (never 0: unsequenced items are not stored) */
  readonly seq: number;
  /** the encoded item, exactly as it was published */
  readonly data: Uint8Array;
}

/**
 * A room's window is forgotten after this long without a new item, in both implementations:
 * a window nobody adds to is stale and only costs memory.
 */
export const HISTORY_IDLE_MS = 86_400_000;

export interface RoomHistory {
  /**
   * Adds an item to the room's window, keeping the most recent `REPLAY_SIZE` by seq, and
   * restarts the window's idle expiry. Items may arrive slightly out of seq order (several
   * logic processes); the window stays sorted. Not an archive: a caller may assume neither
   * that an item stays (a full window drops the oldest; the memory version also forgets the
   * least recently written rooms beyond its room cap) nor that it is readable at once by
   * others.
   */
  append(room: string, item: StoredItem): Promise<void>;
  /**
   * Up to `limit` (at most `REPLAY_SIZE`) most recent items, oldest first; empty for a room
   * never written, expired or forgotten. Reading does not extend the window's life.
   */
  recent(room: string, limit: number): Promise<StoredItem[]>;
}
