// A bounded set of recently seen keys (room item seqs, MESSAGE ids) for de-duplication: the
// oldest key is forgotten first once the set is full, so memory stays flat however long the
// client runs.

export class RecentSet<T> {
  private readonly set = new Set<T>();

  constructor(readonly capacity: number) {}

  has(key: T): boolean {
    return this.set.has(key);
  }

  /** Adds `key`; returns false when it was there already. */
  add(key: T): boolean {
    if (this.set.has(key)) return false;
    this.set.add(key);
    if (this.set.size > this.capacity) this.set.delete(this.set.values().next().value as T);
    return true;
  }

  clear(): void {
    this.set.clear();
  }

  get size(): number {
    return this.set.size;
  }
}
