import t from 'tap';
import { encodeItem } from '../../src/protocol/items.js';
import { Kind } from '../../src/protocol/kinds.js';
import { testHub } from '../helpers/rooms.js';
import { metricValue } from '../helpers/server.js';

async function hubWith(members: Record<string, number>) {
  const h = testHub({}, { mergeWindowMs: 50, mergeMaxMessages: 64, roomDisplayCap: 60 });
  const rooms = new Map<string, Awaited<ReturnType<typeof h.hub.acquire>>>();
  for (const [id, n] of Object.entries(members)) {
    for (let i = 0; i < n; i++) {
      const room = await h.hub.acquire(id);
      h.hub.join(room);
      rooms.set(id, room);
    }
  }
  let seq = 0;
  const push = (room: string, k: number) => h.hub.roomMessage(room, encodeItem(k === Kind.Like ? { s: ++seq, k, u: 'u', t: Date.now(), a: 2 } : k === Kind.Gift ? { s: ++seq, k, u: 'u', t: Date.now(), g: 'rose', a: 1 } : { s: ++seq, k, u: 'u', t: Date.now(), x: 'x' }), false);
  return { ...h, rooms, push };
}

t.test('rooms - the level applies to hot rooms only, and level 0 restores the configured window', async (t) => {
  const { hub, rooms } = await hubWith({ hot: 3, cold: 1 });
  const hot = rooms.get('hot')!;
  const cold = rooms.get('cold')!;
  t.equal(hub.degrade(3, 2), 1, 'one room is hot');
  t.same([hot.level, hot.mergeWindowMs, hot.mergeMaxMessages], [3, 400, 512]);
  t.same([cold.level, cold.mergeWindowMs, cold.mergeMaxMessages], [0, 50, 64], 'a room under DEGRADE_MIN_MEMBERS runs as configured');
  t.equal(hub.degrade(1, 2), 1);
  t.same([hot.level, hot.mergeWindowMs], [1, 100], 'a step down narrows the window');
  t.equal(hub.degrade(0, 2), 0);
  t.same([hot.level, hot.mergeWindowMs, hot.mergeMaxMessages], [0, 50, 64], 'back to the configuration');
});

t.test('rooms - a degraded room holds likes across batches; gifts go out in every batch; flushAll sends what is held', async (t) => {
  const { hub, rooms, sent, push, metrics } = await hubWith({ hot: 2 });
  const hot = rooms.get('hot')!;
  hub.degrade(3, 2);
  for (let i = 0; i < 3; i++) {
    push('hot', Kind.Like);
    push('hot', Kind.Gift);
    hub.flush(hot);
  }
  const kinds = () => sent.flatMap((b) => (b.d ?? []).map((d) => d.k));
  t.same(kinds(), [Kind.Gift, Kind.Gift, Kind.Gift], 'three batches, each with its gift, no like yet');
  t.ok(hot.holdTimer, 'a flush is due when the likes are');
  hub.flushAll();
  const likes = sent.flatMap((b) => (b.d ?? []) as { k: number; a?: number }[]).filter((d) => d.k === Kind.Like);
  t.same(likes.map((l) => l.a), [6], 'one like item with the three likes\' total');
  t.equal(hot.level, 0, 'flushAll (shutdown) leaves the rooms as configured');
  // the lowered cap's shedding is counted apart from the configured cap's
  hub.degrade(3, 2);
  for (let i = 0; i < 100; i++) push('hot', Kind.Danmaku);
  hub.flush(hot);
  const m = await metrics.registry.metrics();
  t.equal(metricValue(m, 'danmaku_dropped_total', { reason: 'degraded' }), 45, 'the configured 60 would have shown 45 more than the 15');
  t.equal(metricValue(m, 'danmaku_dropped_total', { reason: 'shed' }), 40);
  t.equal(sent.at(-1)!.s, 85, 'the BATCH says how many were shed');
  hub.flushAll();
});

t.test('rooms - a degraded room gets its online count every other interval', async (t) => {
  const { hub, sent } = await hubWith({ hot: 2, cold: 1 });
  hub.degrade(1, 2);
  for (let i = 1; i <= 4; i++) hub.pushOnline(new Map([['hot', 10 + i], ['cold', 20 + i]]));
  const online = (r: string) => sent.filter((b) => b.r === r && b.n !== undefined).map((b) => b.n);
  t.same(online('cold'), [21, 22, 23, 24], 'every interval');
  t.same(online('hot'), [11, 13], 'every other one, with the count of that moment');
  hub.flushAll();
});
