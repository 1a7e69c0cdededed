// Moderation state in this process's memory (standalone mode). Bounded by what the admin API
// and the moderators set; held items by HELD_MAX, hit counters expire with their window.

import { HELD_MAX, inForce, restrictionField, type HeldItem, type ModerationSnapshot, type ModerationStore, type Restriction, type RestrictionKind, type StoredList } from './index.js';

export class MemoryModerationStore implements ModerationStore {
  private ver = 0;
  private readonly restrictions: Record<RestrictionKind, Map<string, Restriction>> = { mute: new Map(), ban: new Map() };
  private readonly lists = new Map<string, StoredList>();
  private readonly heldItems = new Map<string, HeldItem>();
  private heldSeq = 0;
  private readonly hits = new Map<string, { n: number; expires: number }>();
  private sweptAt = Date.now();

  async version(): Promise<number> {
    return this.ver;
  }

  async snapshot(): Promise<ModerationSnapshot> {
    const now = Date.now();
    const current = (kind: RestrictionKind) => {
      const map = this.restrictions[kind];
      for (const [k, r] of map) if (!inForce(r, now)) map.delete(k);
      return [...map.values()];
    };
    return { version: this.ver, mutes: current('mute'), bans: current('ban'), lists: [...this.lists.values()] };
  }

  async set(kind: RestrictionKind, r: Restriction): Promise<number> {
    this.restrictions[kind].set(restrictionField(r.uid, r.room), r);
    return ++this.ver;
  }

  async lift(kind: RestrictionKind, uid: string, room: string): Promise<number | null> {
    return this.restrictions[kind].delete(restrictionField(uid, room)) ? ++this.ver : null;
  }

  async putList(list: StoredList): Promise<number> {
    this.lists.set(list.name, list);
    return ++this.ver;
  }

  async deleteList(name: string): Promise<number | null> {
    return this.lists.delete(name) ? ++this.ver : null;
  }

  async seedLists(lists: readonly StoredList[]): Promise<number | null> {
    if (this.lists.size > 0) return null;
    for (const l of lists) this.lists.set(l.name, l);
    return ++this.ver;
  }

  async hold(item: Omit<HeldItem, 'id'>): Promise<string | null> {
    if (this.heldItems.size >= HELD_MAX) return null;
    const id = String(++this.heldSeq);
    this.heldItems.set(id, { id, ...item });
    return id;
  }

  async held(limit: number): Promise<HeldItem[]> {
    return [...this.heldItems.values()].slice(0, limit);
  }

  async take(id: string): Promise<HeldItem | null> {
    const item = this.heldItems.get(id);
    if (!item) return null;
    this.heldItems.delete(id);
    return item;
  }

  async hit(key: string, windowMs: number): Promise<number> {
    const now = Date.now();
    if (now - this.sweptAt >= 10_000) {
      this.sweptAt = now;
      for (const [k, v] of this.hits) if (v.expires <= now) this.hits.delete(k);
    }
    const h = this.hits.get(key);
    if (h && h.expires > now) return ++h.n;
    this.hits.set(key, { n: 1, expires: now + windowMs });
    return 1;
  }

  async clearHits(key: string): Promise<void> {
    this.hits.delete(key);
  }
}
