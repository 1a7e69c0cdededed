// The moderation store's contract against Redis (cluster mode), on a real redis-server; two
// instances are two connections, as two processes would have.

import t from 'tap';
import { RedisModerationStore } from '../../src/store/moderation/redis.js';
import { redisFixture } from '../helpers/redis-fixture.js';
import { moderationContract } from './moderation-suite.js';

moderationContract(t, () => redisFixture((ctx) => new RedisModerationStore(ctx)));

t.test('redis moderation store - malformed entries are skipped (with a warning), never coerced nor deleted', async (t) => {
  let redisConn: import('ioredis').Redis | undefined;
  const warnings: unknown[] = [];
  const warnLog = { warn: (o: unknown) => warnings.push(o), child: () => warnLog } as never;
  const fx = await redisFixture((ctx) => {
    redisConn = ctx.redis;
    return new RedisModerationStore(ctx, warnLog);
  });
  t.teardown(() => fx.close());
  const store = await fx.instance();
  await store.set('mute', { uid: 'ok', room: 'r', by: 'a', source: 'admin', at: 1 });
  const { keys } = await import('../../src/redis/keys.js');
  const k = keys('test:');
  await redisConn!.hset(k.modMutes(), 'bad|r', JSON.stringify({ uid: 'bad', room: 'r', by: 'a', source: 'admin', at: 'yesterday' }));
  await redisConn!.hset(k.modMutes(), 'other|r', JSON.stringify({ uid: 'x', room: 'r', by: 'a', source: 'admin', at: 1 }));
  await redisConn!.hset(k.modBans(), 'junk|r', 'not json');
  await redisConn!.hset(k.modLists(), 'l', JSON.stringify({ name: 'l', action: 'reject', words: [1] }));
  const s = await store.snapshot();
  t.same(s.mutes.map((r) => r.uid), ['ok']);
  t.same(s.bans, []);
  t.same(s.lists, []);
  t.equal(warnings.length, 4, 'each said');
  t.equal(await redisConn!.hlen(k.modMutes()), 3, 'nothing deleted');
});
