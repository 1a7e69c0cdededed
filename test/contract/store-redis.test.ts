// Every storage contract against the Redis implementations (cluster mode), on a real
// redis-server; two instances are two connections, as two processes would have.

import t from 'tap';
import { RedisChatStore } from '../../src/store/chat/redis.js';
import { RedisGroups } from '../../src/store/groups/redis.js';
import type { RedisContext } from '../../src/redis/client.js';
import { DEFAULT_WINDOW_LIMITS, HISTORY_IDLE_MS } from '../../src/store/history/index.js';
import { RedisRoomHistory } from '../../src/store/history/redis.js';
import { RedisIntake } from '../../src/store/intake/redis.js';
import { RedisPresenceCounts } from '../../src/store/presence/redis.js';
import { RedisSequencer } from '../../src/store/sequence/redis.js';
import { redisFixture } from '../helpers/redis-fixture.js';
import { chatContract } from './chat-suite.js';
import { groupsContract } from './groups-suite.js';
import { historyContract } from './history-suite.js';
import { intakeContract } from './intake-suite.js';
import { presenceContract } from './presence-suite.js';
import { sequenceContract } from './sequence-suite.js';

historyContract(
  t,
  (limits) => redisFixture((ctx) => new RedisRoomHistory(ctx, limits)),
  (limits) => redisFixture((ctx) => ({ history: new RedisRoomHistory(ctx, limits), intake: new RedisIntake(ctx) })),
);
sequenceContract(t, () => redisFixture((ctx) => new RedisSequencer(ctx)));
presenceContract(t, () => redisFixture((ctx) => new RedisPresenceCounts(ctx)));
intakeContract(t, () => redisFixture((ctx) => new RedisIntake(ctx)));
groupsContract(t, () => redisFixture((ctx) => new RedisGroups(ctx)));
chatContract(t, (limits) => redisFixture((ctx) => new RedisChatStore(ctx, limits)));

t.test('history - Redis: a room\'s keys expire together after HISTORY_IDLE_MS; losing them gives a new epoch', async (t) => {
  let ctx: RedisContext | undefined;
  const f = await redisFixture((c) => {
    ctx = c;
    return new RedisRoomHistory(c, DEFAULT_WINDOW_LIMITS);
  });
  t.teardown(() => f.close());
  const h = await f.instance();
  const { redis, keys } = ctx!;
  const now = Date.now();
  await h.append('r', { seq: 1, t: now, keep: false, data: Buffer.from('a') });
  await h.append('r', { seq: 2, t: now, keep: true, data: Buffer.from('b') });
  for (const key of [keys.recoveryOrdinary('r'), keys.recoveryKept('r'), keys.recoveryMeta('r')]) {
    const ttl = await redis.pttl(key);
    t.ok(ttl > HISTORY_IDLE_MS - 60_000 && ttl <= HISTORY_IDLE_MS, `${key} expires in a day (${ttl})`);
  }
  t.equal(await redis.zcard(keys.recoveryOrdinary('r')), 1);
  const [member] = await redis.zrangeBuffer(keys.recoveryKept('r'), '0', '-1');
  t.equal(member!.toString(), `${String(now).padStart(13, '0')}b`, 'a member is the 13-digit t and the bytes');
  const first = (await h.window('r')).epoch;
  await h.window('read-only');
  const ttl = await redis.pttl(keys.recoveryMeta('read-only'));
  t.ok(ttl > HISTORY_IDLE_MS - 60_000 && ttl <= HISTORY_IDLE_MS, 'an epoch created by a read expires after a day, as a room with items');
  // One bad member (a prefix that is no number, written by something else) breaks nothing.
  // It is at the low end, where every trim looks (before, the script failed on it for good).
  await redis.zadd(keys.recoveryOrdinary('r'), 0, Buffer.from('garbage!'));
  await h.append('r', { seq: 4, t: Date.now(), keep: false, data: Buffer.from('d') });
  t.same((await h.window('r')).items.map((i) => i.seq), [1, 2, 4], 'the bad member was trimmed as oldest; the window still works');
  await h.append('r', { seq: 5, t: 1e16, keep: false, data: Buffer.from('e') });
  const [top] = await redis.zrangebyscoreBuffer(keys.recoveryOrdinary('r'), 5, 5);
  t.equal(top!.toString('latin1', 0, 13), '9999999999999', 'a t beyond 13 digits is clamped');
  await redis.flushall(); // Redis restarted without its data
  t.equal(await h.epoch('r'), null);
  const w = await h.window('r');
  t.not(w.epoch, first, 'a new epoch');
  t.same([w.floor, w.keepFloor, w.items], [0, 0, []]);
});
