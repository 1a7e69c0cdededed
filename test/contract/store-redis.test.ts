import t from 'tap';
import { createLogger } from '../../src/log.js';
import { keys } from '../../src/store/keys.js';
import { connectRedis } from '../../src/store/redis-client.js';
import { RedisStore } from '../../src/store/redis.js';
import { startRedis } from '../helpers/infra.js';
import { nullRedisObserver } from '../helpers/observers.js';
import { storeContract } from './store-suite.js';

const log = createLogger('silent');

storeContract(t, async ({ replaySize }) => {
  const redis = await startRedis();
  const stores: RedisStore[] = [];
  return {
    // Two connections to one Redis: two logic processes.
    store: async () => {
      const conn = await connectRedis({ url: `redis://127.0.0.1:${redis.port}`, name: 'test', observer: nullRedisObserver, log });
      const s = new RedisStore(conn, { replaySize, keys: keys('test:'), observer: nullRedisObserver });
      stores.push(s);
      return s;
    },
    close: async () => {
      await Promise.all(stores.map((s) => s.close()));
      await redis.dispose();
    },
  };
});
