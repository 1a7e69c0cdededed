// Online counts on Redis (cluster mode): per gateway a hash room -> members that expires with
// the report, and one sorted set of gateways scored by report expiry (Redis' clock), so that
// totals read only current reports. Both are Lua scripts, so a report is replaced atomically.

import { timed, type RedisContext } from '../../redis/client.js';
import { chunks, defineScript, LUA_NOW } from '../../redis/script.js';
import type { PresenceCounts } from './index.js';

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

/** Rooms per TOTALS call, so that one call never blocks Redis for long. */
const CHUNK = 500;

export class RedisPresenceCounts implements PresenceCounts {
  private readonly reportScript;
  private readonly totalsScript;

  constructor(private readonly ctx: RedisContext) {
    this.reportScript = defineScript(ctx.redis, 'danmakuReport', 2, REPORT);
    this.totalsScript = defineScript(ctx.redis, 'danmakuTotals', 1, TOTALS);
  }

  report(gatewayId: string, counts: ReadonlyMap<string, number>, ttlMs: number): Promise<void> {
    const { keys, observer } = this.ctx;
    return timed(observer, 'presence', async () => {
      const args: (string | number)[] = [];
      for (const [room, n] of counts) args.push(room, n);
      await this.reportScript(keys.onlineReport(gatewayId), keys.onlineGateways(), ttlMs, gatewayId, ...args);
    });
  }

  totals(rooms: readonly string[]): Promise<Map<string, number>> {
    const { keys, observer } = this.ctx;
    return timed(observer, 'presence', async () => {
      const out = new Map<string, number>();
      for (const part of chunks(rooms, CHUNK)) {
        if (part.length === 0) continue;
        const sums = (await this.totalsScript(keys.onlineGateways(), keys.onlineReport(''), ...part)) as number[];
        part.forEach((r, i) => out.set(r, sums[i] ?? 0));
      }
      return out;
    });
  }
}
