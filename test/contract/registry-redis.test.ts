import t from 'tap';
import type { Redis } from 'ioredis';
import { createLogger } from '../../src/log.js';
import { RedisRegistry } from '../../src/registry/redis.js';
import { keys } from '../../src/store/keys.js';
import { connectRedis } from '../../src/store/redis-client.js';
import { startRedis } from '../helpers/infra.js';
import { nullRedisObserver } from '../helpers/observers.js';
import { registryContract } from './registry-suite.js';

const log = createLogger('silent');

registryContract(t, async () => {
  const redis = await startRedis();
  const conns: Redis[] = [];
  return {
    registry: async () => {
      const conn = await connectRedis({ url: `redis://127.0.0.1:${redis.port}`, name: 'test', observer: nullRedisObserver, log });
      conns.push(conn);
      return new RedisRegistry(conn, keys('test:'), nullRedisObserver);
    },
    close: async () => {
      await Promise.all(conns.map((c) => c.quit()));
      await redis.dispose();
    },
  };
});
