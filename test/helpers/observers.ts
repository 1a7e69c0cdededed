import type { RedisObserver } from '../../src/redis/client.js';

export const nullRedisObserver: RedisObserver = {
  redisCommand: () => undefined,
  redisConnected: () => undefined,
  redisEvent: () => undefined,
};
