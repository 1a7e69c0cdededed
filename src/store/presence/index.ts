// Room online counts ("viewers now") aggregated across gateways: each gateway reports its
// local member counts every ONLINE_INTERVAL_MS and reads the totals back to push them to its
// members. memory.ts (standalone) and redis.ts (cluster) pass test/contract/presence-suite.ts.

export interface PresenceCounts {
  /**
   * Replaces this gateway's whole contribution (rooms absent from `counts` count 0 for it).
   * The report lapses `ttlMs` after it was made unless a new one replaces it, so that a dead
   * gateway's viewers disappear on their own; a gateway must report more often than `ttlMs`.
   */
  report(gatewayId: string, counts: ReadonlyMap<string, number>, ttlMs: number): Promise<void>;
  /**
   * The sum of every current report for each of `rooms` (0 for a room nobody reports). A
   * snapshot of what gateways reported (their members: connections), not of distinct users.
   */
  totals(rooms: readonly string[]): Promise<Map<string, number>>;
}
