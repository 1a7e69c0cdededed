// Chat groups and their members, managed by the admin API and read by the logic service to
// expand a group message into recipients. Nothing here expires: a group lives until deleted.
// memory.ts (standalone) and redis.ts (cluster) pass test/contract/groups-suite.ts.

export class GroupFullError extends Error {
  override name = 'GroupFullError';
}

export interface Groups {
  /** Creates the group, empty; resolves false if it existed already (nothing changes). */
  create(id: string): Promise<boolean>;
  /** Deletes the group and its member list; false if there was none. */
  delete(id: string): Promise<boolean>;
  /**
   * Adds members (a uid given twice counts once); resolves to how many were new, or null if
   * the group does not exist. Rejects with GroupFullError, adding nobody, if the group would
   * pass `max` members. Atomic: concurrent adds never pass `max` together.
   */
  add(id: string, uids: readonly string[], max: number): Promise<number | null>;
  /** Removes members; resolves to how many were members, or null if the group does not exist. */
  remove(id: string, uids: readonly string[]): Promise<number | null>;
  /** The members in no particular order, or null if the group does not exist. */
  members(id: string): Promise<string[] | null>;
  /** Whether `uid` is a member; false also when the group does not exist. */
  isMember(id: string, uid: string): Promise<boolean>;
  /**
   * The groups `uid` is a member of, in no particular order (a reverse index kept with every
   * add, remove and delete, atomically): the big groups whose unread a user's total includes.
   */
  groupsOf(uid: string): Promise<string[]>;
  /** Member counts of groups, in the order given; 0 for a group that does not exist. */
  sizes(ids: readonly string[]): Promise<number[]>;
}
