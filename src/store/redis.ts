// Storage on Redis (cluster mode): every logic process and gateway shares it. Multi-key
// updates are Lua scripts, so each is atomic. Keys come from keys.ts.

import type { Redis } from 'ioredis';
import { GroupFullError, type Deduper, type Groups, type PresenceCounts, type RateLimiter, type RoomHistory, type Sequencer, type Store, type StoredItem } from './index.js';
import type { Keys } from './keys.js';
import { chunks, defineScript, LUA_NOW, timed, type RedisObserver } from './redis-client.js';

/** A room's replay window expires after a day without new items. */
const HISTORY_TTL_MS = 86_400_000;

const BUCKET = `${LUA_NOW}
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tk', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local ok = 0
if tokens >= 1 then tokens = tokens - 1; ok = 1 end
redis.call('HSET', KEYS[1], 'tk', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return ok`;

// -> -2 first claim, -1 (IN_FLIGHT) while in flight, else the settled seq
const CLAIM = `if redis.call('SET', KEYS[1], '-1', 'NX', 'PX', ARGV[1]) then return -2 end
return tonumber(redis.call('GET', KEYS[1])) or -1`;

// KEYS: report, gateways; ARGV: ttl, gateway, room1, n1, room2, n2, ...
const REPORT = `${LUA_NOW}
redis.call('DEL', KEYS[1])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if #ARGV > 2 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[1]), ARGV[2])
return 1`;

// KEYS: gateways; ARGV: report key prefix, room1, room2, ...
const TOTALS = `${LUA_NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local out = {}
for i = 2, #ARGV do out[i - 1] = 0 end
for _, gw in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local vals = redis.call('HMGET', ARGV[1] .. gw, unpack(ARGV, 2))
  for i, v in ipairs(vals) do
    if v then out[i] = out[i] + tonumber(v) end
  end
end
return out`;

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

export interface RedisStoreOptions {
  readonly replaySize: number;
  readonly keys: Keys;
  readonly observer: RedisObserver;
}

export class RedisStore implements Store {
  readonly history: RoomHistory;
  readonly sequencer: Sequencer;
  readonly presence: PresenceCounts;
  readonly limiter: RateLimiter;
  readonly deduper: Deduper;
  readonly groups: Groups;

  constructor(
    private readonly redis: Redis,
    opts: RedisStoreOptions,
  ) {
    const { keys: k, observer: o, replaySize } = opts;
    const bucket = defineScript(redis, 'danmakuBucket', 1, BUCKET);
    const claim = defineScript(redis, 'danmakuClaim', 1, CLAIM);
    const report = defineScript(redis, 'danmakuReport', 2, REPORT);
    const totals = defineScript(redis, 'danmakuTotals', 1, TOTALS);
    const groupAdd = defineScript(redis, 'danmakuGroupAdd', 2, GROUP_ADD);
    const groupRemove = defineScript(redis, 'danmakuGroupRemove', 2, GROUP_REMOVE);

    this.history = {
      append: (room, item) =>
        timed(o, 'history', async () => {
          if (replaySize === 0) return;
          const key = k.history(room);
          await redis.multi().zadd(key, item.seq, Buffer.from(item.data)).zremrangebyrank(key, 0, -(replaySize + 1)).pexpire(key, HISTORY_TTL_MS).exec();
        }),
      recent: (room, limit) =>
        timed(o, 'history', async () => {
          const n = Math.min(limit, replaySize);
          if (n <= 0) return [];
          const flat = await redis.zrangeBuffer(k.history(room), -n, '-1', 'WITHSCORES');
          const out: StoredItem[] = [];
          for (let i = 0; i + 1 < flat.length; i += 2) out.push({ seq: Number(flat[i + 1]!.toString()), data: flat[i]! });
          return out;
        }),
    };
    this.sequencer = { next: (scope) => timed(o, 'sequence', () => redis.incr(k.seq(scope))) };
    this.presence = {
      report: (gw, counts, ttlMs) =>
        timed(o, 'presence', async () => {
          const args: (string | number)[] = [];
          for (const [room, n] of counts) args.push(room, n);
          await report(k.onlineReport(gw), k.onlineGateways(), ttlMs, gw, ...args);
        }),
      totals: (rooms) =>
        timed(o, 'presence', async () => {
          const out = new Map<string, number>();
          for (const part of chunks(rooms, 500)) {
            if (part.length === 0) continue;
            const sums = (await totals(k.onlineGateways(), k.onlineReport(''), ...part)) as number[];
            part.forEach((r, i) => out.set(r, sums[i] ?? 0));
          }
          return out;
        }),
    };
    this.limiter = {
      allow: (key, rate, burst) => timed(o, 'ratelimit', async () => (await bucket(k.bucket(key), rate, burst)) === 1),
    };
    this.deduper = {
      claim: (key, ttlMs) =>
        timed(o, 'dedupe', async () => {
          const v = (await claim(k.dedupe(key), ttlMs)) as number;
          return v === -2 ? undefined : v;
        }),
      settle: (key, seq, ttlMs) => timed(o, 'dedupe', async () => void (await redis.set(k.dedupe(key), seq, 'PX', ttlMs))),
      release: (key) => timed(o, 'dedupe', async () => void (await redis.del(k.dedupe(key)))),
    };
    this.groups = {
      create: (id) => timed(o, 'groups', async () => (await redis.hsetnx(k.group(id), 'created', Date.now())) === 1),
      delete: (id) => timed(o, 'groups', async () => (await redis.del(k.group(id), k.groupMembers(id))) > 0),
      add: (id, uids, max) =>
        timed(o, 'groups', async () => {
          const n = (await groupAdd(k.group(id), k.groupMembers(id), max, ...new Set(uids))) as number;
          if (n === -2) throw new GroupFullError(`group ${id} would have more than ${max} members`);
          return n === -1 ? null : n;
        }),
      remove: (id, uids) =>
        timed(o, 'groups', async () => {
          const n = (await groupRemove(k.group(id), k.groupMembers(id), ...uids)) as number;
          return n === -1 ? null : n;
        }),
      members: (id) =>
        timed(o, 'groups', async () => {
          const res = await redis.multi().exists(k.group(id)).smembers(k.groupMembers(id)).exec();
          if (!res || res[0]![1] !== 1) return null;
          return res[1]![1] as string[];
        }),
      isMember: (id, uid) => timed(o, 'groups', async () => (await redis.sismember(k.groupMembers(id), uid)) === 1),
    };
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
