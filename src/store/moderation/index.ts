// Moderation state shared by every process: mutes (in a room or everywhere), room bans, the
// word lists of the filter, the items held for review, and the filter hits counted for
// auto-mute. Every change to mutes, bans or lists increments one version number, which each
// process polls (MODERATION_POLL_MS) as the safety net of the control subject's events
// (docs/moderation.md). memory.ts (standalone) and redis.ts (cluster) pass
// test/contract/moderation-suite.ts.

import type { ModerationSource } from '../../metric-labels.js';

/** What a mute or a ban covers: a room id, or EVERYWHERE (mutes only). */
export const EVERYWHERE = '*';

export type RestrictionKind = 'mute' | 'ban';

export interface Restriction {
  readonly uid: string;
  /** a room id; for a mute also EVERYWHERE */
  readonly room: string;
  /** ms since the epoch; absent: until lifted */
  readonly until?: number;
  /** who: a moderator's uid, `admin` for the admin API, `auto` for auto-mute */
  readonly by: string;
  readonly source: ModerationSource;
  readonly reason?: string;
  /** when it was set, ms since the epoch */
  readonly at: number;
}

/** A word list as stored: the filter's WordList, kept exactly as the admin API was given it. */
export interface StoredList {
  readonly name: string;
  readonly action: string;
  readonly words: readonly string[];
}

/** A SEND or MSG a hold list stopped: the upstream request as the logic service received it. */
export interface HeldItem {
  readonly id: string;
  /** when it was held, ms since the epoch */
  readonly at: number;
  readonly o: number;
  readonly u: string;
  readonly n: string;
  readonly r: readonly string[];
  readonly room: string;
  readonly b: unknown;
  /** the lists that hit */
  readonly lists: readonly string[];
  /**
   * the idempotency key its publication uses: set when a failed approval puts it back (under a
   * new id), so that a retried approval is a duplicate of the first, never a second publication
   */
  readonly key?: string;
}

export interface ModerationSnapshot {
  readonly version: number;
  /** mutes and bans in force (expired ones left out) */
  readonly mutes: readonly Restriction[];
  readonly bans: readonly Restriction[];
  readonly lists: readonly StoredList[];
}

/** Held items kept at most: past it a held text is refused (ERROR 17) instead. */
export const HELD_MAX = 10_000;

export interface ModerationStore {
  /** The version: 0 before any change; +1 with every change of mutes, bans or lists. */
  version(): Promise<number>;
  /** Everything in force, with the version it belongs to (one atomic read). */
  snapshot(): Promise<ModerationSnapshot>;
  /** Sets (or replaces) the mute or ban of `r.uid` in `r.room`; resolves to the new version. */
  set(kind: RestrictionKind, r: Restriction): Promise<number>;
  /** Lifts it; resolves to the new version, or null when there was none (nothing changes). */
  lift(kind: RestrictionKind, uid: string, room: string): Promise<number | null>;
  /** Stores a list (replacing the one of that name); resolves to the new version. */
  putList(list: StoredList): Promise<number>;
  /** Deletes a list; the new version, or null when there was none. */
  deleteList(name: string): Promise<number | null>;
  /** Stores `lists` only if there are none (FILTER_FILE at start); the new version, or null when some existed. */
  seedLists(lists: readonly StoredList[]): Promise<number | null>;
  /** Holds an item for review; its id, or null when HELD_MAX items are held already. */
  hold(item: Omit<HeldItem, 'id'>): Promise<string | null>;
  /** The held items, oldest first, at most `limit`. */
  held(limit: number): Promise<HeldItem[]>;
  /** Removes a held item and returns it; null when there is none (taken already). Atomic: one taker wins. */
  take(id: string): Promise<HeldItem | null>;
  /** Counts one filter hit for `key` in a window of `windowMs` from its first hit; resolves to the count. */
  hit(key: string, windowMs: number): Promise<number>;
  /** Forgets the hits of `key` (after an auto-mute). */
  clearHits(key: string): Promise<void>;
}

/** The hash field of a restriction: '|' occurs in neither uids nor room ids. */
export function restrictionField(uid: string, room: string): string {
  return `${uid}|${room}`;
}

export function inForce(r: Restriction, now: number): boolean {
  return r.until === undefined || r.until > now;
}
