// Groups in this process's memory (standalone mode). Bounded by what the admin API creates:
// groups are deleted explicitly and members are capped per group (GROUP_MAX_MEMBERS).

import { GroupFullError, type Groups } from './index.js';

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
