// The recovery windows in this process's memory (standalone mode): a RecoveryWindow per room.
// Bounded twice, as Redis is by its expiry: rooms are kept least recently written first, so that
// idle rooms (HISTORY_IDLE_MS, as in Redis) and rooms beyond the cap are forgotten oldest first,
// at O(1) per forgotten room. Without the bound a long-running server with many short-lived
// rooms grows for ever. A forgotten room's epoch goes with it: its next window gets a new one,
// so a client that held the old one is told it was not recovered rather than given a window
// that silently lacks what was forgotten.

import { HISTORY_IDLE_MS, type RoomHistory, type RoomWindowSnapshot } from './index.js';
import { DEFAULT_WINDOW_LIMITS, newEpoch, RecoveryWindow, type WindowItem, type WindowLimits } from './window.js';

export interface MemoryHistoryOptions {
  /** the window's bounds per room (ROOM_RECOVERY_*) */
  readonly limits?: WindowLimits;
  /** rooms kept at most; beyond it the least recently written room is forgotten */
  readonly maxRooms?: number;
  /** a room without a new item for this long is forgotten */
  readonly idleMs?: number;
}

/** Enough for every live room of one standalone process; the oldest window goes first. */
export const DEFAULT_MAX_ROOMS = 10_000;

interface Room {
  readonly window: RecoveryWindow;
  writtenAt: number;
}

export class MemoryRoomHistory implements RoomHistory {
  /** room -> window, in the order of their last write (Map order), least recent first */
  private readonly rooms = new Map<string, Room>();
  private readonly limits: WindowLimits;
  private readonly maxRooms: number;
  private readonly idleMs: number;

  constructor(opts: MemoryHistoryOptions = {}) {
    this.limits = opts.limits ?? DEFAULT_WINDOW_LIMITS;
    this.maxRooms = opts.maxRooms ?? DEFAULT_MAX_ROOMS;
    this.idleMs = opts.idleMs ?? HISTORY_IDLE_MS;
  }

  /** How many rooms have a window (for tests of the bound). */
  get size(): number {
    return this.rooms.size;
  }

  async append(room: string, item: WindowItem): Promise<void> {
    const now = Date.now();
    let r = this.live(room, now);
    if (r) this.rooms.delete(room); // re-inserted below: the most recently written room is last
    else r = { window: new RecoveryWindow(this.limits, newEpoch()), writtenAt: now };
    r.writtenAt = now;
    this.rooms.set(room, r);
    r.window.add(item, now);
    this.evict(now);
  }

  async window(room: string): Promise<RoomWindowSnapshot> {
    const now = Date.now();
    let r = this.live(room, now);
    if (!r) {
      // The epoch a joiner is told must hold for the next joiner too: it is stored, and lives
      // for an idle expiry unless an append extends it (as the Redis meta key does).
      r = { window: new RecoveryWindow(this.limits, newEpoch()), writtenAt: now };
      this.rooms.set(room, r);
      this.evict(now);
    }
    const w = r.window;
    const items = w.items(now);
    return { epoch: w.epoch, floor: w.floor, keepFloor: w.keepFloor, items };
  }

  async epoch(room: string): Promise<string | null> {
    return this.live(room, Date.now())?.window.epoch ?? null;
  }

  /** The room's window unless it is idle past its expiry (then gone, as its keys in Redis). */
  private live(room: string, now: number): Room | undefined {
    const r = this.rooms.get(room);
    if (r && now - r.writtenAt >= this.idleMs) {
      this.rooms.delete(room);
      return undefined;
    }
    return r;
  }

  /** Forgets rooms from the least recently written while they are idle or over the cap. */
  private evict(at: number): void {
    for (const [room, r] of this.rooms) {
      if (this.rooms.size <= this.maxRooms && at - r.writtenAt < this.idleMs) return;
      this.rooms.delete(room);
    }
  }
}
