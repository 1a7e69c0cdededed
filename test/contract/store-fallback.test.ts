// The fallback (cluster mode) over a Redis that answers: it must be indistinguishable from
// Redis for the seams it wraps, across processes. Each instance is one logic process: its
// own connection and its own local memory.

import t from 'tap';
import type { RedisContext } from '../../src/redis/client.js';
import { FallbackStore } from '../../src/store/fallback.js';
import { MemoryDeduper, MemoryRateLimiter } from '../../src/store/limits/memory.js';
import { RedisDeduper, RedisRateLimiter } from '../../src/store/limits/redis.js';
import { RedisSequencer } from '../../src/store/sequence/redis.js';
import { redisFixture } from '../helpers/redis-fixture.js';
import { limitsContract } from './limits-suite.js';
import { sequenceContract } from './sequence-suite.js';

function fallbackOver(ctx: RedisContext, onFallback: () => void): FallbackStore {
  const primary = { sequencer: new RedisSequencer(ctx), limiter: new RedisRateLimiter(ctx), deduper: new RedisDeduper(ctx) };
  const local = { limiter: new MemoryRateLimiter(), deduper: new MemoryDeduper() };
  return new FallbackStore(primary, local, { observer: { storeFallback: onFallback }, onStateChange: () => undefined });
}

let fallbacks = 0;
const counted = () => fallbacks++;
sequenceContract(t, () => redisFixture((ctx) => fallbackOver(ctx, counted).sequencer));
limitsContract(t, () => redisFixture((ctx) => fallbackOver(ctx, counted)));
// Subtests run in order: this one checks the suites above.
t.test('fallback - while Redis answers, nothing is served by the fallback', async (t) => {
  t.equal(fallbacks, 0);
});
