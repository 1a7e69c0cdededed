// Server-side sequence numbers. Their own concern rather than part of the room history:
// every conversation is sequenced (rooms, groups, pairs of users, a user's notices) while only
// rooms have a replay window, and the offline inbox, conversation history and unread counts
// to come all number by the same scopes. memory.ts (standalone) and redis.ts (cluster) pass
// test/contract/sequence-suite.ts; fallback.ts (cluster) answers 0 while Redis is down.

export interface Sequencer {
  /**
   * The next number of `scope` (`room:<id>`, `group:<id>`, `dm:<a>|<b>`, `notice:<uid>`):
   * strictly increasing per scope, shared by every logic process. A caller may assume that a
   * later answer for a scope is larger than every earlier one (in standalone mode: for the
   * life of the process). It may not assume contiguous numbers, nor that every scope starts
   * at 1: both start at 1 and Redis skips only numbers taken by messages rejected afterwards,
   * but memory resumes a scope it forgot (idle, or beyond its cap) above its last number, and
   * may then start a new scope above 1 (memory.ts says why).
   * Rejects when the store is unavailable (fallback.ts turns that into 0: "unsequenced").
   */
  next(scope: string): Promise<number>;
  /**
   * The last number `next` gave in `scope` (0 when none): the next answer will be larger. A
   * gateway anchors its sanity bound on items' seqs to it. Rejects when the store is
   * unavailable (there is no fallback: a caller must do without).
   */
  current(scope: string): Promise<number>;
}

/** Sequence scopes of conversations. uids never contain '|'. */
export const scopes = {
  room: (id: string) => `room:${id}`,
  group: (g: string) => `group:${g}`,
  direct: (a: string, b: string) => `dm:${a < b ? `${a}|${b}` : `${b}|${a}`}`,
  notices: (uid: string) => `notice:${uid}`,
};
