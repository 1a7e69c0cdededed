// In-memory storage for standalone mode (one process). Bounded: the replay window keeps
// `capacity` items per room, expiring maps are swept on a timer.

import { GroupFullError, IN_FLIGHT, type Deduper, type Groups, type PresenceCounts, type RateLimiter, type RoomHistory, type Sequencer, type Store, type StoredItem } from './index.js';

export class MemoryRoomHistory implements RoomHistory {
  private readonly rooms = new Map<string, StoredItem[]>();
  constructor(private readonly capacity: number) {}

  async append(room: string, item: StoredItem): Promise<void> {
    if (this.capacity === 0) return;
    let list = this.rooms.get(room);
    if (!list) this.rooms.set(room, (list = []));
    list.push(item);
    if (list.length > this.capacity * 2) list.splice(0, list.length - this.capacity);
  }

  async recent(room: string, limit: number): Promise<StoredItem[]> {
    const list = this.rooms.get(room);
    if (!list || limit <= 0) return [];
    return list.slice(-Math.min(limit, this.capacity));
  }
}

export class MemorySequencer implements Sequencer {
  private readonly seqs = new Map<string, number>();
  async next(scope: string): Promise<number> {
    const n = (this.seqs.get(scope) ?? 0) + 1;
    this.seqs.set(scope, n);
    return n;
  }
}

interface Report {
  counts: ReadonlyMap<string, number>;
  expires: number;
}

export class MemoryPresenceCounts implements PresenceCounts {
  private readonly reports = new Map<string, Report>();

  async report(gatewayId: string, counts: ReadonlyMap<string, number>, ttlMs: number): Promise<void> {
    this.reports.set(gatewayId, { counts: new Map(counts), expires: Date.now() + ttlMs });
  }

  async totals(rooms: readonly string[]): Promise<Map<string, number>> {
    const now = Date.now();
    const out = new Map<string, number>(rooms.map((r) => [r, 0]));
    for (const [gw, rep] of this.reports) {
      if (rep.expires <= now) {
        this.reports.delete(gw);
        continue;
      }
      for (const r of rooms) {
        const n = rep.counts.get(r);
        if (n) out.set(r, (out.get(r) ?? 0) + n);
      }
    }
    return out;
  }
}

interface Bucket {
  tokens: number;
  at: number;
  /** when the bucket will be full again; after that it carries no state */
  fullAt: number;
}

export class MemoryRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  async allow(key: string, ratePerSec: number, burst: number): Promise<boolean> {
    const now = Date.now();
    let b = this.buckets.get(key);
    if (!b) this.buckets.set(key, (b = { tokens: burst, at: now, fullAt: now }));
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) * ratePerSec) / 1000);
    b.at = now;
    const ok = b.tokens >= 1;
    if (ok) b.tokens -= 1;
    b.fullAt = now + ((burst - b.tokens) * 1000) / ratePerSec;
    return ok;
  }

  /** Drops buckets that have refilled completely: a new full bucket is the same. */
  sweep(): void {
    const now = Date.now();
    for (const [k, b] of this.buckets) if (b.fullAt <= now) this.buckets.delete(k);
  }
}

export class MemoryDeduper implements Deduper {
  private readonly seen = new Map<string, { seq: number; expires: number }>();

  async claim(key: string, ttlMs: number): Promise<number | undefined> {
    const now = Date.now();
    const hit = this.seen.get(key);
    if (hit && hit.expires > now) return hit.seq;
    this.seen.set(key, { seq: IN_FLIGHT, expires: now + ttlMs });
    return undefined;
  }

  async settle(key: string, seq: number, ttlMs: number): Promise<void> {
    this.seen.set(key, { seq, expires: Date.now() + ttlMs });
  }

  async release(key: string): Promise<void> {
    this.seen.delete(key);
  }

  sweep(): void {
    const now = Date.now();
    for (const [k, v] of this.seen) if (v.expires <= now) this.seen.delete(k);
  }
}

export class MemoryGroups implements Groups {
  private readonly groups = new Map<string, Set<string>>();

  async create(id: string): Promise<boolean> {
    if (this.groups.has(id)) return false;
    this.groups.set(id, new Set());
    return true;
  }

  async delete(id: string): Promise<boolean> {
    return this.groups.delete(id);
  }

  async add(id: string, uids: readonly string[], max: number): Promise<number | null> {
    const g = this.groups.get(id);
    if (!g) return null;
    const fresh = new Set(uids.filter((u) => !g.has(u)));
    if (g.size + fresh.size > max) throw new GroupFullError(`group ${id} would have more than ${max} members`);
    for (const u of fresh) g.add(u);
    return fresh.size;
  }

  async remove(id: string, uids: readonly string[]): Promise<number | null> {
    const g = this.groups.get(id);
    if (!g) return null;
    let n = 0;
    for (const u of new Set(uids)) if (g.delete(u)) n++;
    return n;
  }

  async members(id: string): Promise<string[] | null> {
    const g = this.groups.get(id);
    return g ? [...g] : null;
  }

  async isMember(id: string, uid: string): Promise<boolean> {
    return this.groups.get(id)?.has(uid) ?? false;
  }
}

export class MemoryStore implements Store {
  readonly history: MemoryRoomHistory;
  readonly sequencer = new MemorySequencer();
  readonly presence = new MemoryPresenceCounts();
  readonly limiter = new MemoryRateLimiter();
  readonly deduper = new MemoryDeduper();
  readonly groups = new MemoryGroups();
  private readonly timer: NodeJS.Timeout;

  constructor(opts: { replaySize: number }) {
    this.history = new MemoryRoomHistory(opts.replaySize);
    this.timer = setInterval(() => {
      this.limiter.sweep();
      this.deduper.sweep();
    }, 10_000);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
  }
}
