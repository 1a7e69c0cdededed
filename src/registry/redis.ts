// The user registry on Redis. Per user, a hash gateway -> connections; per gateway, the set of
// its users (to clean up after it); one sorted set of live gateways scored by expiry. Lookups
// ignore gateways whose heartbeat lapsed, so a dead gateway's users stop being routed to it at
// once; sweep() then deletes its entries, in chunks so that Redis is never blocked for long.
// A gateway's load announcement is one JSON string per gateway with its own PX ttl, listed
// through the sorted set of live gateways (a dead gateway's key just expires).

import { timed, type RedisContext } from '../redis/client.js';
import { chunks, defineScript, LUA_NOW } from '../redis/script.js';
import type { GatewayLoad, Registry } from './index.js';

const CHUNK = 1_000;

// KEYS: gateways, gateway users; ARGV: user key prefix, gateway, ttl, force, uid1, n1, ...
const UPDATE = `${LUA_NOW}
local gw = ARGV[2]
if ARGV[4] ~= '1' then
  local exp = redis.call('ZSCORE', KEYS[1], gw)
  if (not exp) or tonumber(exp) <= now then return 0 end
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), gw)
for i = 5, #ARGV, 2 do
  local uid, n = ARGV[i], tonumber(ARGV[i + 1])
  if n > 0 then
    redis.call('HSET', ARGV[1] .. uid, gw, n)
    redis.call('SADD', KEYS[2], uid)
  else
    redis.call('HDEL', ARGV[1] .. uid, gw)
    redis.call('SREM', KEYS[2], uid)
  end
end
return 1`;

// KEYS: gateways, gateway users, gateway load; ARGV: user key prefix, gateway, only if dead
// (0/1), count. Removes up to `count` of the gateway's users, and its announcement with the
// last of them; -1 if it was to be swept but is alive again.
const CLEAR = `${LUA_NOW}
local gw = ARGV[2]
if ARGV[3] == '1' then
  local exp = redis.call('ZSCORE', KEYS[1], gw)
  if exp and tonumber(exp) > now then return -1 end
end
local uids = redis.call('SPOP', KEYS[2], tonumber(ARGV[4]))
for _, uid in ipairs(uids) do redis.call('HDEL', ARGV[1] .. uid, gw) end
if #uids == 0 then
  redis.call('DEL', KEYS[3])
  if ARGV[3] == '1' then redis.call('ZREM', KEYS[1], gw) end
end
return #uids`;

// KEYS: gateways; ARGV: user key prefix, uid1, uid2, ... -> for each uid, its live gateways
const LOOKUP = `${LUA_NOW}
local alive = {}
local out = {}
for i = 2, #ARGV do
  local live = {}
  for _, gw in ipairs(redis.call('HKEYS', ARGV[1] .. ARGV[i])) do
    local a = alive[gw]
    if a == nil then
      local exp = redis.call('ZSCORE', KEYS[1], gw)
      a = (exp ~= false) and tonumber(exp) > now
      alive[gw] = a
    end
    if a then live[#live + 1] = gw end
  end
  out[i - 1] = live
end
return out`;

// KEYS: gateways; ARGV: load key prefix -> the announcements of the live gateways (JSON)
const LOADS = `${LUA_NOW}
local gws = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
local out = {}
for first = 1, #gws, 500 do
  local keys = {}
  for i = first, math.min(first + 499, #gws) do keys[#keys + 1] = ARGV[1] .. gws[i] end
  for _, v in ipairs(redis.call('MGET', unpack(keys))) do
    if v then out[#out + 1] = v end
  end
end
return out`;

const LAPSED = `${LUA_NOW}
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)`;

export class RedisRegistry implements Registry {
  private readonly updateScript;
  private readonly clearScript;
  private readonly lookupScript;
  private readonly lapsedScript;
  private readonly loadsScript;

  constructor(private readonly ctx: RedisContext) {
    const { redis } = ctx;
    this.updateScript = defineScript(redis, 'danmakuRegUpdate', 2, UPDATE);
    this.clearScript = defineScript(redis, 'danmakuRegClear', 3, CLEAR);
    this.lookupScript = defineScript(redis, 'danmakuRegLookup', 1, LOOKUP);
    this.lapsedScript = defineScript(redis, 'danmakuRegLapsed', 1, LAPSED);
    this.loadsScript = defineScript(redis, 'danmakuRegLoads', 1, LOADS);
  }

  private write(gw: string, entries: [string, number][], ttlMs: number, force: boolean): Promise<boolean> {
    const args: (string | number)[] = [];
    for (const [uid, n] of entries) args.push(uid, n);
    const k = this.ctx.keys;
    return this.updateScript(k.gateways(), k.gatewayUsers(gw), k.userGateways(''), gw, ttlMs, force ? '1' : '0', ...args).then((r) => r === 1);
  }

  /** Removes the gateway's entries chunk by chunk; false if a sweep found it alive again. */
  private async clear(gw: string, onlyIfDead: boolean): Promise<boolean> {
    const k = this.ctx.keys;
    for (;;) {
      const n = (await this.clearScript(k.gateways(), k.gatewayUsers(gw), k.gatewayLoad(gw), k.userGateways(''), gw, onlyIfDead ? '1' : '0', CHUNK)) as number;
      if (n < 0) return false;
      if (n === 0) return true;
    }
  }

  update(gw: string, changes: ReadonlyMap<string, number>, ttlMs: number): Promise<boolean> {
    return timed(this.ctx.observer, 'registry', async () => {
      const list = [...changes];
      if (list.length <= CHUNK) return this.write(gw, list, ttlMs, false);
      // Only the first chunk may find the gateway lapsed; the rest follow it.
      const [first, ...rest] = chunks(list, CHUNK);
      if (!(await this.write(gw, first!, ttlMs, false))) return false;
      for (const part of rest) await this.write(gw, part, ttlMs, true);
      return true;
    });
  }

  replace(gw: string, entries: ReadonlyMap<string, number>, ttlMs: number): Promise<void> {
    return timed(this.ctx.observer, 'registry', async () => {
      if (ttlMs === 0 && entries.size === 0) {
        await this.ctx.redis.zrem(this.ctx.keys.gateways(), gw); // lookups ignore it from here on
        await this.clear(gw, false);
        return;
      }
      // Alive first, so that a concurrent sweep leaves the entries written below alone. Then
      // the new entries, then the removal of stale ones: the gateway's users stay findable
      // throughout a rewrite, which happens after every failed write.
      await this.write(gw, [], ttlMs, true);
      const live = [...entries].filter(([, n]) => n > 0);
      for (const part of chunks(live, CHUNK)) await this.write(gw, part, ttlMs, true);
      const keep = new Set(live.map(([uid]) => uid));
      const stale = (await this.ctx.redis.smembers(this.ctx.keys.gatewayUsers(gw))).filter((uid) => !keep.has(uid));
      for (const part of chunks(stale, CHUNK)) await this.write(gw, part.map((uid) => [uid, 0] as [string, number]), ttlMs, true);
    });
  }

  heartbeat(gw: string, ttlMs: number): Promise<boolean> {
    return timed(this.ctx.observer, 'registry', () => this.write(gw, [], ttlMs, false));
  }

  lookup(uids: readonly string[]): Promise<Map<string, string[]>> {
    return timed(this.ctx.observer, 'registry', async () => {
      const out = new Map<string, string[]>();
      const parts = chunks([...new Set(uids)], 500);
      const results = await Promise.all(parts.map((part) => this.lookupScript(this.ctx.keys.gateways(), this.ctx.keys.userGateways(''), ...part) as Promise<string[][]>));
      parts.forEach((part, i) =>
        part.forEach((uid, j) => {
          const gws = results[i]![j];
          if (gws && gws.length > 0) out.set(uid, gws);
        }),
      );
      return out;
    });
  }

  sweep(): Promise<string[]> {
    return timed(this.ctx.observer, 'registry', async () => {
      const lapsed = (await this.lapsedScript(this.ctx.keys.gateways())) as string[];
      const swept: string[] = [];
      for (const gw of lapsed) if (await this.clear(gw, true)) swept.push(gw);
      return swept;
    });
  }

  announce(load: GatewayLoad, ttlMs: number): Promise<void> {
    return timed(this.ctx.observer, 'registry', async () => {
      await this.ctx.redis.set(this.ctx.keys.gatewayLoad(load.id), JSON.stringify(load), 'PX', ttlMs);
    });
  }

  gateways(): Promise<GatewayLoad[]> {
    return timed(this.ctx.observer, 'registry', async () => {
      const raw = (await this.loadsScript(this.ctx.keys.gateways(), this.ctx.keys.gatewayLoad(''))) as string[];
      const out: GatewayLoad[] = [];
      for (const json of raw) {
        const load = readLoad(json);
        if (load) out.push(load);
      }
      return out;
    });
  }
}

/** An announcement read back; null when it is not one (written by something else): skipped. */
export function readLoad(json: string): GatewayLoad | null {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return null; // not JSON: not an announcement of ours
  }
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  const num = (k: string) => typeof o[k] === 'number' && Number.isFinite(o[k]) && (o[k] as number) >= 0;
  if (typeof o.id !== 'string' || typeof o.url !== 'string' || typeof o.open !== 'boolean' || typeof o.draining !== 'boolean') return null;
  if (!['connections', 'maxConnections', 'lagMs', 'outboundBytes', 'at'].every(num)) return null;
  return { id: o.id, url: o.url, connections: o.connections as number, maxConnections: o.maxConnections as number, lagMs: o.lagMs as number, outboundBytes: o.outboundBytes as number, open: o.open, draining: o.draining, at: o.at as number };
}
