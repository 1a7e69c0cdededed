// The recovery windows in this process's memory (standalone mode): a RecoveryWindow per room.
// Bounded twice, as Redis is by its expiry: rooms are kept least recently written first, so that
// idle rooms (HISTORY_IDLE_MS, as in Redis) and rooms beyond the cap are forgotten oldest first,
// at O(1) per forgotten room. Without the bound a long-running server with many short-lived
// rooms grows for ever. A forgotten room's epoch goes with it: its next window gets a new one,
// so a client that held the old one is told it was not recovered rather than given a window
// that silently lacks what was forgotten. A window created by a read (a room with nothing
// stored) is kept apart, in a small map of its own, for ROOM_RECOVERY_KEEP_MS: joins of rooms
// nobody writes to must not push out the windows that hold items.

import type { Intake } from '../intake/index.js';
import { HISTORY_IDLE_MS, type ClaimSettle, type RoomHistory, type RoomWindowSnapshot } from './index.js';
import { DEFAULT_WINDOW_LIMITS, newEpoch, RecoveryWindow, type WindowItem, type WindowLimits } from './window.js';

export interface MemoryHistoryOptions {
  /** the window's bounds per room (ROOM_RECOVERY_*) */
  readonly limits?: WindowLimits;
  /** rooms kept at most; beyond it the least recently written room is forgotten */
  readonly maxRooms?: number;
  /** a room without a new item for this long is forgotten */
  readonly idleMs?: number;
  /** read-created (empty) windows kept at most; beyond it the oldest is forgotten */
  readonly maxReadRooms?: number;
  /**
   * The intake whose claims appends settle (standalone: the send path's memory intake). Needed
   * only by callers that pass a claim to append.
   */
  readonly claims?: Pick<Intake, 'settle'>;
}

/** Enough for every live room of one standalone process; the oldest window goes first. */
export const DEFAULT_MAX_ROOMS = 10_000;

/** Epochs of rooms only read (joined, nothing stored) kept at once. */
export const DEFAULT_MAX_READ_ROOMS = 10_000;

interface Room {
  readonly window: RecoveryWindow;
  writtenAt: number;
}

export class MemoryRoomHistory implements RoomHistory {
  /** room -> window, in the order of their last write (Map order), least recent first */
  private readonly rooms = new Map<string, Room>();
  /** room -> empty window created by a read, in creation order (they all live the idle time) */
  private readonly readRooms = new Map<string, Room>();
  private readonly limits: WindowLimits;
  private readonly maxRooms: number;
  private readonly maxReadRooms: number;
  private readonly idleMs: number;
  private readonly claims: Pick<Intake, 'settle'> | undefined;

  constructor(opts: MemoryHistoryOptions = {}) {
    this.limits = opts.limits ?? DEFAULT_WINDOW_LIMITS;
    this.maxRooms = opts.maxRooms ?? DEFAULT_MAX_ROOMS;
    this.maxReadRooms = opts.maxReadRooms ?? DEFAULT_MAX_READ_ROOMS;
    this.idleMs = opts.idleMs ?? HISTORY_IDLE_MS;
    this.claims = opts.claims;
  }

  /** How many rooms have a window (for tests of the bound). */
  get size(): number {
    return this.rooms.size;
  }

  append(room: string, item: WindowItem, settle?: ClaimSettle): Promise<void> {
    if (settle && !this.claims) return Promise.reject(new Error('MemoryRoomHistory: an append with a claim needs the claims option'));
    const now = Date.now();
    // A room only read so far keeps its epoch: joiners were told it.
    let r = this.live(room, now) ?? this.liveRead(room, now);
    this.readRooms.delete(room);
    if (r) this.rooms.delete(room); // re-inserted below: the most recently written room is last
    else r = { window: new RecoveryWindow(this.limits, newEpoch()), writtenAt: now };
    r.writtenAt = now;
    this.rooms.set(room, r);
    r.window.add(item, now);
    this.evict(now);
    // In the same synchronous step as the add: nothing can run between the two.
    return settle ? this.claims!.settle(settle.claim, item.seq, settle.ttlMs) : Promise.resolve();
  }

  async window(room: string): Promise<RoomWindowSnapshot> {
    const now = Date.now();
    let r = this.live(room, now) ?? this.liveRead(room, now);
    if (!r) {
      // The epoch a joiner is told must hold for the next joiner too, and for the room's first
      // item (an epoch that lapsed while viewers hold it turns their resumes into
      // `epoch_changed`): it is stored, apart from the rooms with items (so reads of other room
      // ids cannot evict windows that hold items), for the idle time, as the Redis meta key.
      r = { window: new RecoveryWindow(this.limits, newEpoch()), writtenAt: now };
      this.readRooms.set(room, r);
      for (const [old, o] of this.readRooms) {
        if (this.readRooms.size <= this.maxReadRooms && now - o.writtenAt < this.idleMs) break;
        this.readRooms.delete(old);
      }
    }
    const w = r.window;
    const items = w.items(now);
    return { epoch: w.epoch, floor: w.floor, keepFloor: w.keepFloor, items };
  }

  async get(room: string, seq: number): Promise<Uint8Array | null> {
    const now = Date.now();
    return this.live(room, now)?.window.get(seq, now)?.data ?? null;
  }

  async epoch(room: string): Promise<string | null> {
    const now = Date.now();
    return (this.live(room, now) ?? this.liveRead(room, now))?.window.epoch ?? null;
  }

  /** How many read-created windows are kept (for tests of the bound). */
  get readSize(): number {
    return this.readRooms.size;
  }

  /** The room's window unless it is idle past its expiry (then gone, as its keys in Redis). */
  private live(room: string, now: number): Room | undefined {
    return liveIn(this.rooms, room, now, this.idleMs);
  }

  /** The read-created window of a room, with the same expiry. */
  private liveRead(room: string, now: number): Room | undefined {
    return liveIn(this.readRooms, room, now, this.idleMs);
  }

  /** Forgets rooms from the least recently written while they are idle or over the cap. */
  private evict(at: number): void {
    for (const [room, r] of this.rooms) {
      if (this.rooms.size <= this.maxRooms && at - r.writtenAt < this.idleMs) return;
      this.rooms.delete(room);
    }
  }
}

/** `rooms`' entry for `room` unless it was last written `idleMs` ago or more (then dropped). */
function liveIn(rooms: Map<string, Room>, room: string, now: number, idleMs: number): Room | undefined {
  const r = rooms.get(room);
  if (r && now - r.writtenAt >= idleMs) {
    rooms.delete(room);
    return undefined;
  }
  return r;
}
