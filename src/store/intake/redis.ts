// The intake on Redis (cluster mode): claim, rate limit and sequence number of a message in
// one Lua script, atomic per message, and the admits of one event-loop turn in one script
// call: one round trip before the publish, whatever the number of messages. The settles of
// one turn are one script call too. Each call carries its messages as one MessagePack
// argument (unpacked by Redis' built-in cmsgpack) and builds the key names from the prefixes
// of keys.ts: hundreds of separate arguments cost the logic process more CPU to write than
// Redis spends running the script. Redis commands per message: SET NX (the claim), GET and
// SET (the bucket), INCR (the number), then SET (the settle); plus per batch one EVALSHA and
// one TIME, and one EVALSHA for the settles. The scripts touch keys they are not given in
// KEYS: one Redis primary, not a Redis Cluster (docs/cluster.md).

import { encode } from '../../protocol/codec.js';
import { timed, type RedisContext } from '../../redis/client.js';
import { Coalescer } from '../../coalesce.js';
import { asBuffer, defineScript, LUA_NOW } from '../../redis/script.js';
import { IN_FLIGHT_VERDICT, LIMITED, type Intake, type IntakeStep, type IntakeVerdict } from './index.js';

/** Messages per script call: bounds how long one call keeps Redis busy (about 5 commands each). */
const MAX_BATCH = 128;

// ARGV[1]: the key prefixes of claims, buckets and counters; ARGV[2]: MessagePack array of
// steps [claim ('' without one), claim ttl ms, bucket, rate per second, burst, scope].
// Returns per step 2 integers: verdict (0 accepted, 1 duplicate, 2 in flight, 3 limited) and
// value (the new seq, or the first attempt's seq). A bucket is the string "tokens at".
const ADMIT = `${LUA_NOW}
local pre = cmsgpack.unpack(ARGV[1])
local steps = cmsgpack.unpack(ARGV[2])
local out = {}
for i = 1, #steps do
  local st = steps[i]
  local claim, ttl, rate, burst = st[1], st[2], st[4], st[5]
  local ck = pre[1] .. claim
  local verdict, value = 0, 0
  if claim ~= '' and not redis.call('SET', ck, '-1', 'NX', 'PX', ttl) then
    local prior = tonumber(redis.call('GET', ck)) or -1
    if prior == -1 then verdict = 2 else verdict, value = 1, prior end
  else
    local bk = pre[2] .. st[3]
    local tokens, at = burst, now
    local b = redis.call('GET', bk)
    if b then
      local sp = string.find(b, ' ', 1, true)
      tokens, at = tonumber(string.sub(b, 1, sp - 1)), tonumber(string.sub(b, sp + 1))
    end
    tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
    if tokens >= 1 then
      tokens = tokens - 1
      value = redis.call('INCR', pre[3] .. st[6])
    else
      verdict = 3
      if claim ~= '' then redis.call('DEL', ck) end
    end
    redis.call('SET', bk, string.format('%.6f %d', tokens, now), 'PX', math.ceil((burst - tokens) * 1000 / rate) + 1000)
  end
  out[#out + 1] = verdict
  out[#out + 1] = value
end
return out`;

// ARGV[1]: the claims' key prefix; ARGV[2]: MessagePack array of [claim, seq, ttl ms].
const SETTLE = `local pre = ARGV[1]
local settles = cmsgpack.unpack(ARGV[2])
for i = 1, #settles do
  local s = settles[i]
  redis.call('SET', pre .. s[1], s[2], 'PX', s[3])
end
return #settles`;

interface Settle {
  readonly claim: string;
  readonly seq: number;
  readonly ttlMs: number;
}

export class RedisIntake implements Intake {
  private readonly admitScript;
  private readonly settleScript;
  private readonly admits: Coalescer<IntakeStep, IntakeVerdict>;
  private readonly settles: Coalescer<Settle, void>;
  /** the key prefixes the scripts build key names from */
  private readonly prefixes: Buffer;

  constructor(private readonly ctx: RedisContext) {
    this.admitScript = defineScript(ctx.redis, 'danmakuAdmit', 0, ADMIT);
    this.settleScript = defineScript(ctx.redis, 'danmakuSettle', 0, SETTLE);
    const { keys } = ctx;
    this.prefixes = asBuffer(encode([keys.dedupe(''), keys.bucket(''), keys.seq('')]));
    this.admits = new Coalescer((steps) => this.admitBatch(steps), MAX_BATCH);
    this.settles = new Coalescer((s) => this.settleBatch(s), MAX_BATCH * 4);
  }

  admit(step: IntakeStep): Promise<IntakeVerdict> {
    return this.admits.call(step);
  }

  settle(claim: string, seq: number, ttlMs: number): Promise<void> {
    return this.settles.call({ claim, seq, ttlMs });
  }

  release(claim: string): Promise<void> {
    const { redis, keys, observer } = this.ctx;
    return timed(observer, 'intake', async () => void (await redis.del(keys.dedupe(claim))));
  }

  private admitBatch(steps: IntakeStep[]): Promise<IntakeVerdict[]> {
    const packed = encode(steps.map((s) => [s.claim ?? '', s.claimTtlMs, s.bucket, s.rate, s.burst, s.scope]));
    return timed(this.ctx.observer, 'intake', async () => {
      const flat = (await this.admitScript(this.prefixes, asBuffer(packed))) as number[];
      const out: IntakeVerdict[] = [];
      for (let i = 0; i < steps.length; i++) {
        const verdict = flat[i * 2]!;
        const value = flat[i * 2 + 1]!;
        out.push(verdict === 0 ? { seq: value } : verdict === 1 ? { dup: value } : verdict === 2 ? IN_FLIGHT_VERDICT : LIMITED);
      }
      return out;
    });
  }

  private settleBatch(settles: Settle[]): Promise<void[]> {
    const packed = encode(settles.map((s) => [s.claim, s.seq, s.ttlMs]));
    return timed(this.ctx.observer, 'intake', async () => {
      await this.settleScript(this.ctx.keys.dedupe(''), asBuffer(packed));
      return settles.map(() => undefined);
    });
  }
}
