// The fallback (cluster mode) over a Redis that was killed after the logic process connected.
// Its documented semantics: the limiter and the de-duplicator keep working from this
// process's memory, so they still pass the limits suite as one process (one instance: limits
// are per process, not shared); the sequencer answers 0 ("unsequenced").

import t from 'tap';
import type { RedisContext } from '../../src/redis/client.js';
import { FallbackStore } from '../../src/store/fallback.js';
import { MemoryDeduper, MemoryRateLimiter } from '../../src/store/limits/memory.js';
import { RedisDeduper, RedisRateLimiter } from '../../src/store/limits/redis.js';
import { RedisSequencer } from '../../src/store/sequence/redis.js';
import { redisFixture } from '../helpers/redis-fixture.js';
import type { Fixture } from './fixture.js';
import { limitsContract } from './limits-suite.js';

interface Observed {
  readonly store: FallbackStore;
  readonly fallbacks: string[];
  readonly states: boolean[];
}

/** One logic process whose Redis is killed once it has connected. */
async function killedRedis(): Promise<Fixture<Observed>> {
  const f = await redisFixture((ctx: RedisContext): Observed => {
    const fallbacks: string[] = [];
    const states: boolean[] = [];
    const primary = { sequencer: new RedisSequencer(ctx), limiter: new RedisRateLimiter(ctx), deduper: new RedisDeduper(ctx) };
    const local = { limiter: new MemoryRateLimiter(), deduper: new MemoryDeduper() };
    const store = new FallbackStore(primary, local, { coolDownMs: 50, observer: { storeFallback: (op) => fallbacks.push(op) }, onStateChange: (d) => states.push(d) });
    return { store, fallbacks, states };
  });
  const one = await f.instance();
  await f.server.stop();
  return { instance: async () => one, close: () => f.close() };
}

limitsContract(t, async () => {
  const f = await killedRedis();
  return { instance: async () => (await f.instance()).store, close: () => f.close() };
});

t.test('fallback - with Redis down the sequencer answers 0 (unsequenced), and each fallback is counted', async (t) => {
  const f = await killedRedis();
  t.teardown(() => f.close());
  const { store, fallbacks, states } = await f.instance();
  t.same(await Promise.all([store.sequencer.next('room:x'), store.sequencer.next('room:x')]), [0, 0]);
  t.equal(await store.limiter.allow('u:1', 1, 1), true, 'the local limiter answers');
  t.equal(await store.deduper.claim('u:m1', 1_000), undefined, 'the local deduper answers');
  t.same(states, [true], 'degraded, reported once');
  t.same(fallbacks, ['sequence', 'sequence', 'ratelimit', 'dedupe']);
});
