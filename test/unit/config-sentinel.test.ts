// REDIS_SENTINELS, REDIS_SENTINEL_NAME and REDIS_SENTINEL_PASSWORD (src/config.ts): Redis
// found through Sentinel instead of REDIS_URL's address.

import t from 'tap';
import { loadConfig } from '../../src/config.js';

const NATS = { NATS_URL: 'nats://127.0.0.1:4222' };

t.test('config - sentinels: cluster mode without REDIS_URL, the master name defaults to mymaster', async (t) => {
  const c = loadConfig({ ...NATS, REDIS_SENTINELS: '10.0.0.1:26379, sentinel-b.example:26380,[::1]:26381' });
  t.same(c.redisSentinel, {
    sentinels: [
      { host: '10.0.0.1', port: 26379 },
      { host: 'sentinel-b.example', port: 26380 },
      { host: '::1', port: 26381 },
    ],
    name: 'mymaster',
    password: null,
  });
  t.equal(c.redisUrl, null, 'REDIS_URL is not needed');
  t.equal(c.drainWindowMs, 30_000, 'and it is cluster mode');
  const named = loadConfig({ ...NATS, REDIS_URL: 'redis://:pw@ignored:1/2', REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_NAME: 'danmaku-1', REDIS_SENTINEL_PASSWORD: 'sentinel-pw' });
  t.same([named.redisSentinel?.name, named.redisSentinel?.password, named.redisUrl], ['danmaku-1', 'sentinel-pw', 'redis://:pw@ignored:1/2'], 'REDIS_URL kept for its password and db');
  t.equal(loadConfig({ ...NATS, REDIS_URL: 'redis://127.0.0.1:6379' }).redisSentinel, null, 'no sentinels: REDIS_URL alone');
});

t.test('config - sentinels: bad values fail at boot with the variable named', async (t) => {
  for (const raw of ['s', 's:', ':26379', 's:0', 's:65536', 's:26379,', 's:26379;t:1', 'a b:1', '[zz]:1', 's:-1']) {
    t.throws(() => loadConfig({ ...NATS, REDIS_SENTINELS: raw }), { name: 'ConfigError', message: /REDIS_SENTINELS must be host:port pairs/ }, JSON.stringify(raw));
  }
  t.throws(() => loadConfig({ ...NATS, REDIS_SENTINELS: 's:1', REDIS_SENTINEL_NAME: 'a b' }), { message: /REDIS_SENTINEL_NAME must match/ });
  t.throws(() => loadConfig({ ...NATS, REDIS_URL: 'redis://x:1', REDIS_SENTINEL_NAME: 'm' }), { message: /REDIS_SENTINEL_NAME is set but REDIS_SENTINELS is not/ });
  t.throws(() => loadConfig({ REDIS_SENTINELS: 's:1' }), { message: /cluster mode needs both NATS_URL and REDIS_URL \(or REDIS_SENTINELS\)/ }, 'sentinels without NATS');
  t.throws(() => loadConfig(NATS), { message: /cluster mode needs both/ }, 'NATS without any Redis');
});

t.test('config - REDIS_WAIT_REPLICAS and REDIS_WAIT_TIMEOUT_MS', async (t) => {
  const off = loadConfig({ ...NATS, REDIS_URL: 'redis://127.0.0.1:6379' });
  t.same([off.redisWaitReplicas, off.redisWaitTimeoutMs], [0, 500], 'off by default; 500 ms');
  const on = loadConfig({ ...NATS, REDIS_SENTINELS: 's:26379', REDIS_WAIT_REPLICAS: '2', REDIS_WAIT_TIMEOUT_MS: '1000' });
  t.same([on.redisWaitReplicas, on.redisWaitTimeoutMs], [2, 1000]);
  t.throws(() => loadConfig({ REDIS_WAIT_REPLICAS: '1' }), { name: 'ConfigError', message: /REDIS_WAIT_REPLICAS needs cluster mode/ }, 'standalone: refused, not ignored');
  t.throws(() => loadConfig({ ...NATS, REDIS_URL: 'redis://x:1', REDIS_WAIT_REPLICAS: '-1' }), { name: 'ConfigError' });
  t.throws(() => loadConfig({ ...NATS, REDIS_URL: 'redis://x:1', REDIS_WAIT_TIMEOUT_MS: '0' }), { name: 'ConfigError' });
  t.throws(() => loadConfig({ ...NATS, REDIS_URL: 'redis://x:1', REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '1500' }), { name: 'ConfigError', message: /must be under half of UPSTREAM_TIMEOUT_MS \(3000\)/ }, 'a send may wait two rounds: within the gateway timeout');
  t.equal(loadConfig({ ...NATS, REDIS_URL: 'redis://x:1', REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '1500', UPSTREAM_TIMEOUT_MS: '5000' }).redisWaitTimeoutMs, 1500);
});
