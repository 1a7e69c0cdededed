// A real redis-server on a free loopback port, and seams built on connections to it: each
// instance() opens its own connection, as a separate process would.

import type { Redis } from 'ioredis';
import { createLogger } from '../../src/log.js';
import { closeRedis, connectRedis, type RedisContext } from '../../src/redis/client.js';
import { keys } from '../../src/redis/keys.js';
import type { Fixture } from '../contract/fixture.js';
import { startRedis, type ServiceProcess } from './infra.js';
import { nullRedisObserver } from './observers.js';

const log = createLogger('silent');

export interface RedisFixture<T> extends Fixture<T> {
  readonly server: ServiceProcess;
}

export async function redisFixture<T>(build: (ctx: RedisContext) => T): Promise<RedisFixture<T>> {
  const server = await startRedis();
  const conns: Redis[] = [];
  return {
    server,
    instance: async () => {
      const redis = await connectRedis({ url: `redis://127.0.0.1:${server.port}`, name: 'test', observer: nullRedisObserver, log });
      conns.push(redis);
      return build({ redis, keys: keys('test:'), observer: nullRedisObserver });
    },
    close: async () => {
      await Promise.all(conns.map(closeRedis));
      await server.dispose();
    },
  };
}
