// Role sets shared between identities. Every connection keeps its identity for its whole life,
// and most users have one of a few role sets (none, or ["moderator"]): one frozen array per
// distinct set, instead of an array per connection.

/** The roles of an identity without any (guests, and most users). */
export const NO_ROLES: readonly string[] = Object.freeze([]);

/** Distinct role sets kept; past this a set gets a frozen array of its own. */
const MAX_SETS = 1_000;

export class RoleSets {
  private readonly sets = new Map<string, readonly string[]>();

  constructor(private readonly max = MAX_SETS) {}

  /** The shared frozen array equal to `roles` (same names in the same order). */
  intern(roles: readonly string[]): readonly string[] {
    if (roles.length === 0) return NO_ROLES;
    const key = JSON.stringify(roles); // unambiguous whatever the names hold
    const known = this.sets.get(key);
    if (known) return known;
    const own = Object.freeze([...roles]);
    if (this.sets.size < this.max) this.sets.set(key, own);
    return own;
  }

  get size(): number {
    return this.sets.size;
  }
}
