// The fallback (cluster mode) over a Redis that was killed after the logic process connected.
// Its documented semantics: the intake keeps working from this process's memory with numbers
// 0 ("unsequenced"), so it still passes the intake suite as one process (one instance: limits
// are per process, not shared); the sequencer answers 0 too.

import t from 'tap';
import type { RedisContext } from '../../src/redis/client.js';
import { FallbackStore } from '../../src/store/fallback.js';
import { MemoryIntake } from '../../src/store/intake/memory.js';
import { RedisIntake } from '../../src/store/intake/redis.js';
import { MemoryDeduper, MemoryRateLimiter } from '../../src/store/limits/memory.js';
import { RedisSequencer } from '../../src/store/sequence/redis.js';
import { redisFixture } from '../helpers/redis-fixture.js';
import type { Fixture } from './fixture.js';
import { intakeContract } from './intake-suite.js';

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
    const primary = { sequencer: new RedisSequencer(ctx), intake: new RedisIntake(ctx) };
    const local = { intake: new MemoryIntake(new MemoryDeduper(), new MemoryRateLimiter(), async () => 0) };
    const store = new FallbackStore(primary, local, { coolDownMs: 50, observer: { storeFallback: (op) => fallbacks.push(op) }, onStateChange: (d) => states.push(d) });
    return { store, fallbacks, states };
  });
  const one = await f.instance();
  await f.server.stop();
  return { instance: async () => one, close: () => f.close() };
}

intakeContract(
  t,
  async () => {
    const f = await killedRedis();
    return { instance: async () => (await f.instance()).store.intake, close: () => f.close() };
  },
  { sequenced: false },
);

t.test('fallback - with Redis down the sequencer answers 0 (unsequenced), and each fallback is counted', async (t) => {
  const f = await killedRedis();
  t.teardown(() => f.close());
  const { store, fallbacks, states } = await f.instance();
  t.same(await Promise.all([store.sequencer.next('room:x'), store.sequencer.next('room:x')]), [0, 0]);
  t.same(await store.intake.admit({ claim: 'u|m1', claimTtlMs: 1_000, bucket: 'u:u', rate: 1, burst: 1, scope: 'room:x' }), { seq: 0 }, 'the local intake answers, unsequenced');
  t.same(states, [true], 'degraded, reported once');
  t.same(fallbacks, ['sequence', 'sequence', 'intake']);
});
