import t from 'tap';
import { RedisRegistry } from '../../src/registry/redis.js';
import { redisFixture } from '../helpers/redis-fixture.js';
import { registryContract } from './registry-suite.js';

registryContract(t, async () => {
  // Two connections to one Redis: a gateway and a logic process.
  const f = await redisFixture((ctx) => new RedisRegistry(ctx));
  return { registry: f.instance, close: f.close };
});
