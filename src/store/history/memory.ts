// The replay window in this process's memory (standalone mode). Bounded: `capacity` items per
// room, and rooms are kept least recently written first, so that idle rooms (HISTORY_IDLE_MS,
// as in Redis) and rooms beyond the cap are forgotten oldest first, at O(1) per forgotten room.
// Without the bound a long-running server with many short-lived rooms grows for ever.

import { HISTORY_IDLE_MS, type RoomHistory, type StoredItem } from './index.js';

export interface MemoryHistoryOptions {
  /** items kept per room: REPLAY_SIZE (0 keeps nothing) */
  readonly capacity: number;
  /** rooms kept at most; beyond it the least recently written room is forgotten */
  readonly maxRooms?: number;
  /** a room without a new item for this long is forgotten */
  readonly idleMs?: number;
}

/** Enough for every live room of one standalone process; the oldest window goes first. */
export const DEFAULT_MAX_ROOMS = 10_000;

interface Window {
  readonly items: StoredItem[];
  writtenAt: number;
}

export class MemoryRoomHistory implements RoomHistory {
  /** room -> window, in the order of their last write (Map order), least recent first */
  private readonly rooms = new Map<string, Window>();
  private readonly capacity: number;
  private readonly maxRooms: number;
  private readonly idleMs: number;

  constructor(opts: MemoryHistoryOptions) {
    this.capacity = opts.capacity;
    this.maxRooms = opts.maxRooms ?? DEFAULT_MAX_ROOMS;
    this.idleMs = opts.idleMs ?? HISTORY_IDLE_MS;
  }

  /** How many rooms have a window (for tests of the bound). */
  get size(): number {
    return this.rooms.size;
  }

  async append(room: string, item: StoredItem): Promise<void> {
    if (this.capacity === 0) return;
    const now = Date.now();
    let w = this.rooms.get(room);
    if (w) this.rooms.delete(room); // re-inserted below: the most recently written room is last
    // An expired window is gone, as its key is in Redis: the room starts a new one.
    if (!w || now - w.writtenAt >= this.idleMs) w = { items: [], writtenAt: now };
    w.writtenAt = now;
    this.rooms.set(room, w);
    insertBySeq(w.items, item);
    // Trimmed in steps rather than per item, so that an append is O(1) amortized.
    if (w.items.length > this.capacity * 2) w.items.splice(0, w.items.length - this.capacity);
    this.evict(now);
  }

  async recent(room: string, limit: number): Promise<StoredItem[]> {
    const w = this.rooms.get(room);
    if (!w || limit <= 0 || Date.now() - w.writtenAt >= this.idleMs) return [];
    return w.items.slice(-Math.min(limit, this.capacity));
  }

  /** Forgets rooms from the least recently written while they are idle or over the cap. */
  private evict(at: number): void {
    for (const [room, w] of this.rooms) {
      if (this.rooms.size <= this.maxRooms && at - w.writtenAt < this.idleMs) return;
      this.rooms.delete(room);
    }
  }
}

/** Inserts in seq order: usually at the end; items from several logic processes may cross. */
function insertBySeq(items: StoredItem[], item: StoredItem): void {
  let i = items.length;
  while (i > 0 && items[i - 1]!.seq > item.seq) i--;
  if (i > 0 && items[i - 1]!.seq === item.seq) return; // already there
  items.splice(i, 0, item);
}
