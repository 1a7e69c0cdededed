// The user registry: which gateways hold a user's connections. Gateways write it (a user
// comes online, goes offline); the logic service reads it to route group and user messages.
// Entries live only while their gateway's heartbeat does, so a dead gateway's users vanish.
// Each gateway also announces its load there, which the entry endpoint (GET /entry, any
// gateway) reads to weight the gateways for clients.
// memory.ts is the standalone implementation, redis.ts the cluster one; both pass
// test/contract/registry-suite.ts.

/** A gateway's announcement: where clients reach it and how loaded it is. */
export interface GatewayLoad {
  readonly id: string;
  /** the ws(s):// URL clients connect to (PUBLIC_URL) */
  readonly url: string;
  readonly connections: number;
  /** MAX_CONNECTIONS; 0: no cap */
  readonly maxConnections: number;
  /** the recent event-loop lag (ms) that admission reads */
  readonly lagMs: number;
  /** bytes waiting in all its send buffers */
  readonly outboundBytes: number;
  /** admission would admit a new connection now */
  readonly open: boolean;
  /** it is being drained: clients should go elsewhere even while it still admits */
  readonly draining: boolean;
  /** when the figures were read (ms since the epoch, the gateway's clock) */
  readonly at: number;
}

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
  /**
   * Publishes the gateway's load, kept for `ttlMs` (a newer announcement replaces it). The
   * announcement is removed with the gateway's entries (replace with ttl 0).
   */
  announce(load: GatewayLoad, ttlMs: number): Promise<void>;
  /**
   * The announcements of the live gateways: announced within their ttl, by a gateway whose
   * heartbeat has not lapsed either (one that lapsed is absent even before a sweep). In no
   * particular order.
   */
  gateways(): Promise<GatewayLoad[]>;
}
