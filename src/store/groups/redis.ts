// Groups on Redis (cluster mode): a hash that says the group exists (`created`), a set of its
// members, and per user the set of its groups (the reverse index). Adding, removing and
// deleting are Lua scripts, so the existence check, the member cap, the change and the reverse
// index are one atomic step however many admin API processes write at once. The scripts build
// the users' key names from their prefix (one Redis primary, not a Cluster).

import { timed, type RedisContext } from '../../redis/client.js';
import { defineScript } from '../../redis/script.js';
import { GroupFullError, type Groups } from './index.js';

// KEYS: group, members; ARGV: max, the group id, the user-groups prefix, uid1, uid2, ... ->
// added, -1 no group, -2 full
const GROUP_ADD = `if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local fresh = 0
for i = 4, #ARGV do
  if redis.call('SISMEMBER', KEYS[2], ARGV[i]) == 0 then fresh = fresh + 1 end
end
if redis.call('SCARD', KEYS[2]) + fresh > tonumber(ARGV[1]) then return -2 end
local added = 0
for i = 4, #ARGV do
  if redis.call('SADD', KEYS[2], ARGV[i]) == 1 then
    added = added + 1
    redis.call('SADD', ARGV[3] .. ARGV[i], ARGV[2])
  end
end
return added`;

// KEYS: group, members; ARGV: the group id, the user-groups prefix, uids -> removed, -1 no group
const GROUP_REMOVE = `if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local n = 0
for i = 3, #ARGV do
  if redis.call('SREM', KEYS[2], ARGV[i]) == 1 then
    n = n + 1
    redis.call('SREM', ARGV[2] .. ARGV[i], ARGV[1])
  end
end
return n`;

// KEYS: group, members; ARGV: the group id, the user-groups prefix -> 1 deleted, 0 none
const GROUP_DELETE = `local members = redis.call('SMEMBERS', KEYS[2])
for _, uid in ipairs(members) do redis.call('SREM', ARGV[2] .. uid, ARGV[1]) end
return redis.call('DEL', KEYS[1], KEYS[2]) > 0 and 1 or 0`;

export class RedisGroups implements Groups {
  private readonly addScript;
  private readonly removeScript;
  private readonly deleteScript;

  constructor(private readonly ctx: RedisContext) {
    this.addScript = defineScript(ctx.redis, 'danmakuGroupAdd', 2, GROUP_ADD);
    this.removeScript = defineScript(ctx.redis, 'danmakuGroupRemove', 2, GROUP_REMOVE);
    this.deleteScript = defineScript(ctx.redis, 'danmakuGroupDelete', 2, GROUP_DELETE);
  }

  create(id: string): Promise<boolean> {
    const { redis, keys, observer } = this.ctx;
    return timed(observer, 'groups', async () => (await redis.hsetnx(keys.group(id), 'created', Date.now())) === 1);
  }

  delete(id: string): Promise<boolean> {
    const { keys, observer } = this.ctx;
    return timed(observer, 'groups', async () => (await this.deleteScript(keys.group(id), keys.groupMembers(id), id, keys.userGroups(''))) === 1);
  }

  add(id: string, uids: readonly string[], max: number): Promise<number | null> {
    const { keys, observer } = this.ctx;
    return timed(observer, 'groups', async () => {
      const n = (await this.addScript(keys.group(id), keys.groupMembers(id), max, id, keys.userGroups(''), ...new Set(uids))) as number;
      if (n === -2) throw new GroupFullError(`group ${id} would have more than ${max} members`);
      return n === -1 ? null : n;
    });
  }

  remove(id: string, uids: readonly string[]): Promise<number | null> {
    const { keys, observer } = this.ctx;
    return timed(observer, 'groups', async () => {
      const n = (await this.removeScript(keys.group(id), keys.groupMembers(id), id, keys.userGroups(''), ...uids)) as number;
      return n === -1 ? null : n;
    });
  }

  members(id: string): Promise<string[] | null> {
    const { redis, keys, observer } = this.ctx;
    return timed(observer, 'groups', async () => {
      const res = await redis.multi().exists(keys.group(id)).smembers(keys.groupMembers(id)).exec();
      if (!res || res[0]![1] !== 1) return null;
      return res[1]![1] as string[];
    });
  }

  isMember(id: string, uid: string): Promise<boolean> {
    const { redis, keys, observer } = this.ctx;
    return timed(observer, 'groups', async () => (await redis.sismember(keys.groupMembers(id), uid)) === 1);
  }

  groupsOf(uid: string): Promise<string[]> {
    const { redis, keys, observer } = this.ctx;
    return timed(observer, 'groups', () => redis.smembers(keys.userGroups(uid)));
  }

  sizes(ids: readonly string[]): Promise<number[]> {
    const { redis, keys, observer } = this.ctx;
    if (ids.length === 0) return Promise.resolve([]);
    return timed(observer, 'groups', async () => {
      const res = await ids.reduce((m, id) => m.scard(keys.groupMembers(id)), redis.multi()).exec();
      return (res ?? []).map(([err, n]) => {
        if (err) throw err;
        return n as number;
      });
    });
  }
}
