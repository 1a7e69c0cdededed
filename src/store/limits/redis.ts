// Rate limits and de-duplication on Redis (cluster mode), so that they hold across every logic
// process. Each operation is one command or one Lua script, hence atomic; every key expires on
// its own (a bucket once full again, a claim after its ttl).

import { timed, type RedisContext } from '../../redis/client.js';
import { defineScript, LUA_NOW } from '../../redis/script.js';
import type { Deduper, RateLimiter } from './index.js';

// KEYS: bucket; ARGV: rate, burst -> 1 allowed, 0 empty
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

// KEYS: claim; ARGV: ttl -> -2 first claim, -1 (IN_FLIGHT) while in flight, else the settled seq
const CLAIM = `if redis.call('SET', KEYS[1], '-1', 'NX', 'PX', ARGV[1]) then return -2 end
return tonumber(redis.call('GET', KEYS[1])) or -1`;

export class RedisRateLimiter implements RateLimiter {
  private readonly bucketScript;

  constructor(private readonly ctx: RedisContext) {
    this.bucketScript = defineScript(ctx.redis, 'danmakuBucket', 1, BUCKET);
  }

  allow(key: string, ratePerSec: number, burst: number): Promise<boolean> {
    const { keys, observer } = this.ctx;
    return timed(observer, 'ratelimit', async () => (await this.bucketScript(keys.bucket(key), ratePerSec, burst)) === 1);
  }
}

export class RedisDeduper implements Deduper {
  private readonly claimScript;

  constructor(private readonly ctx: RedisContext) {
    this.claimScript = defineScript(ctx.redis, 'danmakuClaim', 1, CLAIM);
  }

  claim(key: string, ttlMs: number): Promise<number | undefined> {
    const { keys, observer } = this.ctx;
    return timed(observer, 'dedupe', async () => {
      const v = (await this.claimScript(keys.dedupe(key), ttlMs)) as number;
      return v === -2 ? undefined : v;
    });
  }

  settle(key: string, seq: number, ttlMs: number): Promise<void> {
    const { redis, keys, observer } = this.ctx;
    return timed(observer, 'dedupe', async () => void (await redis.set(keys.dedupe(key), seq, 'PX', ttlMs)));
  }

  release(key: string): Promise<void> {
    const { redis, keys, observer } = this.ctx;
    return timed(observer, 'dedupe', async () => void (await redis.del(keys.dedupe(key))));
  }
}
