// Groups in this process's memory (standalone mode). Bounded by what the admin API creates:
// groups are deleted explicitly and members are capped per group (GROUP_MAX_MEMBERS).

import { GroupFullError, type Groups } from './index.js';

export class MemoryGroups implements Groups {
  private readonly groups = new Map<string, Set<string>>();
  /** uid -> its groups (an entry only while the user is in one) */
  private readonly byUser = new Map<string, Set<string>>();

  async create(id: string): Promise<boolean> {
    if (this.groups.has(id)) return false;
    this.groups.set(id, new Set());
    return true;
  }

  async delete(id: string): Promise<boolean> {
    const g = this.groups.get(id);
    if (!g) return false;
    for (const u of g) this.unlink(u, id);
    return this.groups.delete(id);
  }

  async add(id: string, uids: readonly string[], max: number): Promise<number | null> {
    const g = this.groups.get(id);
    if (!g) return null;
    const fresh = new Set(uids.filter((u) => !g.has(u)));
    if (g.size + fresh.size > max) throw new GroupFullError(`group ${id} would have more than ${max} members`);
    for (const u of fresh) {
      g.add(u);
      let mine = this.byUser.get(u);
      if (!mine) this.byUser.set(u, (mine = new Set()));
      mine.add(id);
    }
    return fresh.size;
  }

  async remove(id: string, uids: readonly string[]): Promise<number | null> {
    const g = this.groups.get(id);
    if (!g) return null;
    let n = 0;
    for (const u of new Set(uids)) {
      if (!g.delete(u)) continue;
      this.unlink(u, id);
      n++;
    }
    return n;
  }

  private unlink(uid: string, id: string): void {
    const mine = this.byUser.get(uid);
    mine?.delete(id);
    if (mine?.size === 0) this.byUser.delete(uid);
  }

  async members(id: string): Promise<string[] | null> {
    const g = this.groups.get(id);
    return g ? [...g] : null;
  }

  async isMember(id: string, uid: string): Promise<boolean> {
    return this.groups.get(id)?.has(uid) ?? false;
  }

  async groupsOf(uid: string): Promise<string[]> {
    return [...(this.byUser.get(uid) ?? [])];
  }

  async sizes(ids: readonly string[]): Promise<number[]> {
    return ids.map((id) => this.groups.get(id)?.size ?? 0);
  }
}
