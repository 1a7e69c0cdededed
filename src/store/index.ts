// Storage seams, one narrow interface per responsibility. memory.ts is the standalone
// implementation, redis.ts the cluster one; both pass test/contract/store-suite.ts.

export interface StoredItem {
  readonly seq: number;
  readonly data: Uint8Array;
}

/** The room replay window: the last items of a room, for late joiners. */
export interface RoomHistory {
  append(room: string, item: StoredItem): Promise<void>;
  /** Up to `limit` most recent items, oldest first. */
  recent(room: string, limit: number): Promise<StoredItem[]>;
}

/**
 * Server-side sequence numbers, strictly increasing per scope, starting at 1. Rejects when
 * the store is unavailable (fallback.ts turns that into 0: "unsequenced").
 */
export interface Sequencer {
  next(scope: string): Promise<number>;
}

/** Room online counts aggregated across gateways. */
export interface PresenceCounts {
  /** Replaces this gateway's contribution; it lapses after ttlMs without a new report. */
  report(gatewayId: string, counts: ReadonlyMap<string, number>, ttlMs: number): Promise<void>;
  totals(rooms: readonly string[]): Promise<Map<string, number>>;
}

/** Token-bucket rate limit shared by every logic instance. */
export interface RateLimiter {
  /** Takes one token from the bucket `key` (rate per second, burst capacity); false if empty. */
  allow(key: string, ratePerSec: number, burst: number): Promise<boolean>;
}

/** De-duplication of client retries by client message id. */
export interface Deduper {
  /**
   * Claims `key` for `ttlMs` (keep it short: a claim whose holder died must lapse). Returns
   * undefined when this is the first claim; otherwise the sequence number recorded for the
   * first one (0: accepted unsequenced), or IN_FLIGHT while it is still being processed.
   */
  claim(key: string, ttlMs: number): Promise<number | undefined>;
  /** Records the outcome of a claimed key (its sequence number) for `ttlMs`. */
  settle(key: string, seq: number, ttlMs: number): Promise<void>;
  /** Forgets a claim whose message was rejected, so that a retry is processed anew. */
  release(key: string): Promise<void>;
}

/** Chat groups and their members, managed by the admin API. */
export interface Groups {
  /** Creates the group; resolves false if it existed already (nothing changes). */
  create(id: string): Promise<boolean>;
  /** Deletes the group and its member list; false if there was none. */
  delete(id: string): Promise<boolean>;
  /**
   * Adds members; resolves to how many were new, or null if the group does not exist.
   * Rejects with GroupFullError, adding nobody, if the group would pass `max` members.
   */
  add(id: string, uids: readonly string[], max: number): Promise<number | null>;
  /** Removes members; resolves to how many were members, or null if the group does not exist. */
  remove(id: string, uids: readonly string[]): Promise<number | null>;
  /** The members, or null if the group does not exist. */
  members(id: string): Promise<string[] | null>;
  isMember(id: string, uid: string): Promise<boolean>;
}

export class GroupFullError extends Error {
  override name = 'GroupFullError';
}

/** What Deduper.claim answers while the first attempt with the key is still being processed. */
export const IN_FLIGHT = -1;

export interface Store {
  readonly history: RoomHistory;
  readonly sequencer: Sequencer;
  readonly presence: PresenceCounts;
  readonly limiter: RateLimiter;
  readonly deduper: Deduper;
  readonly groups: Groups;
  close(): Promise<void>;
}
