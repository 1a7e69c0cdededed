// Groups on Redis (cluster mode): a hash that says the group exists (`created`) and a set of
// its members. Adding and removing are Lua scripts, so the existence check, the member cap and
// the change are one atomic step however many admin API processes write at once.

import { timed, type RedisContext } from '../../redis/client.js';
import { defineScript } from '../../redis/script.js';
import { GroupFullError, type Groups } from './index.js';

// KEYS: group, members; ARGV: max, uid1, uid2, ... -> added, -1 no group, -2 full
const GROUP_ADD = `if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local fresh = 0
for i = 2, #ARGV do
  if redis.call('SISMEMBER', KEYS[2], ARGV[i]) == 0 then fresh = fresh + 1 end
end
if redis.call('SCARD', KEYS[2]) + fresh > tonumber(ARGV[1]) then return -2 end
local added = 0
for i = 2, #ARGV do added = added + redis.call('SADD', KEYS[2], ARGV[i]) end
return added`;

// KEYS: group, members; ARGV: uids -> removed, -1 no group
const GROUP_REMOVE = `if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local n = 0
for i = 1, #ARGV do n = n + redis.call('SREM', KEYS[2], ARGV[i]) end
return n`;

export class RedisGroups implements Groups {
  private readonly addScript;
  private readonly removeScript;

  constructor(private readonly ctx: RedisContext) {
    this.addScript = defineScript(ctx.redis, 'danmakuGroupAdd', 2, GROUP_ADD);
    this.removeScript = defineScript(ctx.redis, 'danmakuGroupRemove', 2, GROUP_REMOVE);
  }

  create(id: string): Promise<boolean> {
    const { redis, keys, observer } = this.ctx;
    return timed(observer, 'groups', async () => (await redis.hsetnx(keys.group(id), 'created', Date.now())) === 1);
  }

  delete(id: string): Promise<boolean> {
    const { redis, keys, observer } = this.ctx;
    return timed(observer, 'groups', async () => (await redis.del(keys.group(id), keys.groupMembers(id))) > 0);
  }

  add(id: string, uids: readonly string[], max: number): Promise<number | null> {
    const { keys, observer } = this.ctx;
    return timed(observer, 'groups', async () => {
      const n = (await this.addScript(keys.group(id), keys.groupMembers(id), max, ...new Set(uids))) as number;
      if (n === -2) throw new GroupFullError(`group ${id} would have more than ${max} members`);
      return n === -1 ? null : n;
    });
  }

  remove(id: string, uids: readonly string[]): Promise<number | null> {
    const { keys, observer } = this.ctx;
    return timed(observer, 'groups', async () => {
      const n = (await this.removeScript(keys.group(id), keys.groupMembers(id), ...uids)) as number;
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
}
