// The room recovery window: the recent items of each room, so that a late joiner sees what was
// just said, a client that lost its connection gets what it missed (JOIN with `since`), and a
// gateway that was cut off from the bus can refill what its members missed. The window's shape
// (two classes, floors, epoch) is in window.ts. memory.ts (standalone) and redis.ts (cluster)
// both pass test/contract/history-suite.ts.

import type { WindowItem } from './window.js';

export { DEFAULT_WINDOW_LIMITS, newEpoch, RecoveryWindow, type WindowItem, type WindowLimits } from './window.js';

/**
 * A room's window, its floors and its epoch are forgotten together after this long without an
 * append, in both implementations: a window nobody adds to is stale and only costs memory. The
 * room then gets a new epoch, so a client holding the old one is told it was not recovered.
 */
export const HISTORY_IDLE_MS = 86_400_000;

/**
 * An intake claim (store/intake) to settle in the same atomic step as an append: the claim is
 * set to the item's seq for `ttlMs`, exactly as Intake.settle would. "Stored in the window" and
 * "a retry is told dup" are then one fact, never two steps one of which can fail or be cut
 * short by a dying process or a command timeout.
 */
export interface ClaimSettle {
  readonly claim: string;
  readonly ttlMs: number;
}

/** A room's window as stored: see RecoveryWindow for what the floors promise. */
export interface RoomWindowSnapshot {
  readonly epoch: string;
  readonly floor: number;
  readonly keepFloor: number;
  /** held items, both classes, by seq */
  readonly items: WindowItem[];
}

export interface RoomHistory {
  /**
   * Adds an item to its room's window (atomically with the trim and the floors it raises),
   * creates the room's epoch if it has none, and restarts the room's idle expiry. Items may
   * arrive slightly out of seq order (several logic processes); the window stays sorted. When
   * the promise resolves the item is stored: a window() that starts after it sees it (or a
   * floor past it). With `settle`, the claim is settled to the item's seq in the same atomic
   * step: a rejected or timed-out append may or may not have done both, never one of them.
   */
  append(room: string, item: WindowItem, settle?: ClaimSettle): Promise<void>;
  /**
   * The room's window, trimmed by age as of now; creates (and stores) an epoch if the room has
   * none, so that what a joiner is told stays true for the next one. Reading does not extend
   * the window's life, and an epoch created by a read (a room with nothing stored) lives only
   * ROOM_RECOVERY_KEEP_MS (the limits' keepAgeMs) unless an append extends it: a read of a room
   * nobody writes to must not hold state for a day.
   */
  window(room: string): Promise<RoomWindowSnapshot>;
  /** The stored bytes of the item `seq` of the room (either class), or null if not held. */
  get(room: string, seq: number): Promise<Uint8Array | null>;
  /** The room's epoch, or null if none is stored (no side effect). */
  epoch(room: string): Promise<string | null>;
}
