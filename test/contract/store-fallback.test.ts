// The fallback (cluster mode) over a Redis that answers: it must be indistinguishable from
// Redis for the seams it wraps, across processes. Each instance is one logic process: its
// own connection and its own local memory.

import t from 'tap';
import type { RedisContext } from '../../src/redis/client.js';
import { FallbackStore } from '../../src/store/fallback.js';
import { MemoryIntake } from '../../src/store/intake/memory.js';
import { RedisIntake } from '../../src/store/intake/redis.js';
import { MemoryDeduper, MemoryRateLimiter } from '../../src/store/limits/memory.js';
import { RedisSequencer } from '../../src/store/sequence/redis.js';
import { redisFixture } from '../helpers/redis-fixture.js';
import { intakeContract } from './intake-suite.js';
import { sequenceContract } from './sequence-suite.js';

function fallbackOver(ctx: RedisContext, onFallback: () => void): FallbackStore {
  const primary = { sequencer: new RedisSequencer(ctx), intake: new RedisIntake(ctx) };
  const local = { intake: new MemoryIntake(new MemoryDeduper(), new MemoryRateLimiter(), async () => 0) };
  return new FallbackStore(primary, local, { observer: { storeFallback: onFallback }, onStateChange: () => undefined });
}

let fallbacks = 0;
const counted = () => fallbacks++;
sequenceContract(t, () => redisFixture((ctx) => fallbackOver(ctx, counted).sequencer));
intakeContract(t, () => redisFixture((ctx) => fallbackOver(ctx, counted).intake));
// Subtests run in order: this one checks the suites above.
t.test('fallback - while Redis answers, nothing is served by the fallback', async (t) => {
  t.equal(fallbacks, 0);
});
