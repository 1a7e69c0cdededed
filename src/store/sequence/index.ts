// Server-side sequence numbers. Their own concern rather than part of the room history:
// every conversation is sequenced (rooms, groups, pairs of users, a user's notices) while only
// rooms have a replay window, and the offline inbox, conversation history and unread counts
// to come all number by the same scopes. memory.ts (standalone) and redis.ts (cluster) pass
// test/contract/sequence-suite.ts; fallback.ts (cluster) answers 0 while Redis is down.

export interface Sequencer {
  /**
   * The next number of `scope` (`room:<id>`, `group:<id>`, `dm:<a>|<b>`, `notice:<uid>`):
   * strictly increasing per scope, shared by every logic process. A caller may assume that a
   * later answer for a scope is larger than every earlier one; not that numbers are contiguous
   * (numbers taken by messages rejected afterwards are skipped), nor that they survive a
   * standalone restart. A new scope starts at 1.
   * Rejects when the store is unavailable (fallback.ts turns that into 0: "unsequenced").
   */
  next(scope: string): Promise<number>;
}
