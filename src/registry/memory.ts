// In-memory registry for standalone mode, with the same expiry semantics as Redis. Lookups
// only ask whether a gateway holds a user, so a gateway's users are a set (one entry per user
// online, for every user of a standalone server): how many connections each has is not kept.

import type { GatewayLoad, Registry } from './index.js';

export class MemoryRegistry implements Registry {
  /** gateway -> its users */
  private readonly byGateway = new Map<string, Set<string>>();
  /** gateway -> expiry, ms */
  private readonly alive = new Map<string, number>();
  /** gateway -> its last announcement, and when that expires (ms) */
  private readonly loads = new Map<string, { load: GatewayLoad; until: number }>();

  private live(gw: string, now = Date.now()): boolean {
    return (this.alive.get(gw) ?? 0) > now;
  }

  async update(gw: string, changes: ReadonlyMap<string, number>, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    if (!this.live(gw, now)) return false;
    this.alive.set(gw, now + ttlMs);
    const users = this.byGateway.get(gw)!;
    for (const [uid, n] of changes) {
      if (n > 0) users.add(uid);
      else users.delete(uid);
    }
    return true;
  }

  async replace(gw: string, entries: ReadonlyMap<string, number>, ttlMs: number): Promise<void> {
    if (ttlMs === 0 && entries.size === 0) {
      this.alive.delete(gw);
      this.byGateway.delete(gw);
      this.loads.delete(gw);
      return;
    }
    this.alive.set(gw, Date.now() + ttlMs);
    const users = new Set<string>();
    for (const [uid, n] of entries) if (n > 0) users.add(uid);
    this.byGateway.set(gw, users);
  }

  async heartbeat(gw: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    if (!this.live(gw, now)) return false;
    this.alive.set(gw, now + ttlMs);
    return true;
  }

  async lookup(uids: readonly string[]): Promise<Map<string, string[]>> {
    const now = Date.now();
    const out = new Map<string, string[]>();
    for (const [gw, users] of this.byGateway) {
      if (!this.live(gw, now)) continue;
      for (const uid of uids) {
        if (!users.has(uid)) continue;
        const list = out.get(uid);
        if (list) list.push(gw);
        else out.set(uid, [gw]);
      }
    }
    return out;
  }

  async sweep(): Promise<string[]> {
    const now = Date.now();
    const swept: string[] = [];
    for (const [gw, exp] of this.alive) {
      if (exp > now) continue;
      this.alive.delete(gw);
      this.byGateway.delete(gw);
      this.loads.delete(gw);
      swept.push(gw);
    }
    return swept;
  }

  async announce(load: GatewayLoad, ttlMs: number): Promise<void> {
    this.loads.set(load.id, { load: { ...load }, until: Date.now() + ttlMs });
  }

  async gateways(): Promise<GatewayLoad[]> {
    const now = Date.now();
    const out: GatewayLoad[] = [];
    for (const [gw, { load, until }] of this.loads) {
      if (until <= now) this.loads.delete(gw);
      else if (this.live(gw, now)) out.push({ ...load });
    }
    return out;
  }
}
