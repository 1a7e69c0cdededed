// The user registry: which gateways hold a user's connections. Gateways write it (a user
// comes online, goes offline); the logic service reads it to route group and user messages.
// Entries live only while their gateway's heartbeat does, so a dead gateway's users vanish.
// memory.ts is the standalone implementation, redis.ts the cluster one; both pass
// test/contract/registry-suite.ts.

export interface Registry {
  /**
   * Sets how many connections of each user the gateway holds (0 removes the user from it) and
   * keeps the gateway alive for `ttlMs`. Resolves false, writing nothing, if the gateway had
   * lapsed or was never registered: the caller must then replace() all its entries.
   */
  update(gatewayId: string, changes: ReadonlyMap<string, number>, ttlMs: number): Promise<boolean>;
  /** Replaces every entry of the gateway; `ttlMs` 0 with no entries unregisters it (shutdown). */
  replace(gatewayId: string, entries: ReadonlyMap<string, number>, ttlMs: number): Promise<void>;
  /** Keeps the gateway alive for `ttlMs`; false if it had lapsed or is unknown (call replace). */
  heartbeat(gatewayId: string, ttlMs: number): Promise<boolean>;
  /** The live gateways holding each user; users held by none are absent from the map. */
  lookup(uids: readonly string[]): Promise<Map<string, string[]>>;
  /** Removes the entries of gateways whose heartbeat lapsed; resolves to their ids. */
  sweep(): Promise<string[]>;
}
