// The replay window in this process's memory (standalone mode): `capacity` items per room.

import type { RoomHistory, StoredItem } from './index.js';

export interface MemoryHistoryOptions {
  /** items kept per room: REPLAY_SIZE (0 keeps nothing) */
  readonly capacity: number;
}

export class MemoryRoomHistory implements RoomHistory {
  private readonly rooms = new Map<string, StoredItem[]>();
  private readonly capacity: number;

  constructor(opts: MemoryHistoryOptions) {
    this.capacity = opts.capacity;
  }

  async append(room: string, item: StoredItem): Promise<void> {
    if (this.capacity === 0) return;
    let items = this.rooms.get(room);
    if (!items) this.rooms.set(room, (items = []));
    insertBySeq(items, item);
    // Trimmed in steps rather than per item, so that an append is O(1) amortized.
    if (items.length > this.capacity * 2) items.splice(0, items.length - this.capacity);
  }

  async recent(room: string, limit: number): Promise<StoredItem[]> {
    const items = this.rooms.get(room);
    if (!items || limit <= 0) return [];
    return items.slice(-Math.min(limit, this.capacity));
  }
}

/** Inserts in seq order: usually at the end; items from several logic processes may cross. */
function insertBySeq(items: StoredItem[], item: StoredItem): void {
  let i = items.length;
  while (i > 0 && items[i - 1]!.seq > item.seq) i--;
  if (i > 0 && items[i - 1]!.seq === item.seq) return; // already there
  items.splice(i, 0, item);
}
