// The intake on Redis (cluster mode): claim, rate limit and sequence number of a message in
// one Lua script, atomic per message, and the admits of one event-loop turn in one script
// call: one round trip before the publish, whatever the number of messages. Settles of one
// turn go out as one pipeline. Redis commands per message: SET NX (the claim), GET and SET
// (the bucket), INCR (the number), then SET (the settle); plus one EVALSHA and one TIME per
// batch. Keys of different messages are touched by one script: one Redis primary, not a
// Redis Cluster (docs/cluster.md).

import { timed, type RedisContext } from '../../redis/client.js';
import { Coalescer } from '../../coalesce.js';
import { defineScript, execPipeline, LUA_NOW } from '../../redis/script.js';
import { IN_FLIGHT_VERDICT, LIMITED, type Intake, type IntakeStep, type IntakeVerdict } from './index.js';

/** Messages per script call: bounds how long one call keeps Redis busy (about 5 commands each). */
const MAX_BATCH = 128;

// KEYS: per message 3: the claim ('' without one), the bucket, the sequence counter.
// ARGV: per message 4: has a claim (1/0), claim ttl ms, rate per second, burst.
// Returns per message 2 integers: verdict (0 accepted, 1 duplicate, 2 in flight, 3 limited)
// and value (the new seq, or the first attempt's seq). A bucket is the string "tokens at".
const ADMIT = `${LUA_NOW}
local out = {}
for i = 0, #KEYS / 3 - 1 do
  local ck, bk, sk = KEYS[i * 3 + 1], KEYS[i * 3 + 2], KEYS[i * 3 + 3]
  local has = ARGV[i * 4 + 1] == '1'
  local ttl, rate, burst = ARGV[i * 4 + 2], tonumber(ARGV[i * 4 + 3]), tonumber(ARGV[i * 4 + 4])
  local verdict, value = 0, 0
  if has and not redis.call('SET', ck, '-1', 'NX', 'PX', ttl) then
    local prior = tonumber(redis.call('GET', ck)) or -1
    if prior == -1 then verdict = 2 else verdict, value = 1, prior end
  else
    local tokens, at = burst, now
    local b = redis.call('GET', bk)
    if b then
      local sp = string.find(b, ' ', 1, true)
      tokens, at = tonumber(string.sub(b, 1, sp - 1)), tonumber(string.sub(b, sp + 1))
    end
    tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
    if tokens >= 1 then
      tokens = tokens - 1
      value = redis.call('INCR', sk)
    else
      verdict = 3
      if has then redis.call('DEL', ck) end
    end
    redis.call('SET', bk, string.format('%.6f %d', tokens, now), 'PX', math.ceil((burst - tokens) * 1000 / rate) + 1000)
  end
  out[#out + 1] = verdict
  out[#out + 1] = value
end
return out`;

interface Settle {
  readonly claim: string;
  readonly seq: number;
  readonly ttlMs: number;
}

export class RedisIntake implements Intake {
  private readonly admitScript;
  private readonly admits: Coalescer<IntakeStep, IntakeVerdict>;
  private readonly settles: Coalescer<Settle, void>;

  constructor(private readonly ctx: RedisContext) {
    this.admitScript = defineScript(ctx.redis, 'danmakuAdmit', null, ADMIT);
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
    const { keys, observer } = this.ctx;
    const args: (string | number)[] = [steps.length * 3];
    for (const s of steps) args.push(s.claim === undefined ? '' : keys.dedupe(s.claim), keys.bucket(s.bucket), keys.seq(s.scope));
    for (const s of steps) args.push(s.claim === undefined ? 0 : 1, s.claimTtlMs, s.rate, s.burst);
    return timed(observer, 'intake', async () => {
      const flat = (await this.admitScript(...args)) as number[];
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
    const { redis, keys, observer } = this.ctx;
    return timed(observer, 'intake', async () => {
      const p = redis.pipeline();
      for (const s of settles) p.set(keys.dedupe(s.claim), s.seq, 'PX', s.ttlMs);
      await execPipeline(p);
      return settles.map(() => undefined);
    });
  }
}
