import { mock } from 'node:test';
import t, { type Test } from 'tap';
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

// The hold of likes in time: node's mock timers drive setTimeout and Date.now (the merge
// windows, the hold timer and the merger's clock).

const W3 = 400; // the level-3 window of a 50 ms configuration
const likes = (sent: { d?: { k: number; a?: number }[] }[]) => sent.flatMap((b) => (b.d ?? []).filter((d) => d.k === Kind.Like));

function fakeTime(t: Test): void {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  t.teardown(() => mock.timers.reset());
}

t.test('rooms - held likes go out when due by the hold timer, within a second of the first like, not of the drain that held it', async (t) => {
  const h = await hubWith({ hot: 2 });
  fakeTime(t);
  const hot = h.rooms.get('hot')!;
  h.hub.degrade(3, 2);
  const t0 = Date.now();
  h.push('hot', Kind.Like);
  mock.timers.tick(W3); // the window closes: the like is held
  t.equal(h.sent.length, 0, 'nothing sent with the window');
  t.ok(hot.holdTimer, 'a hold timer runs');
  mock.timers.tick(1000 - W3 - 1);
  t.equal(likes(h.sent).length, 0, 'not before a second after the like');
  mock.timers.tick(1);
  t.same(likes(h.sent).map((l) => l.a), [2], 'sent a second after the like arrived');
  t.equal(Date.now() - t0, 1000);
  t.equal(hot.holdTimer, null);
  h.hub.flushAll();
});

t.test('rooms - a hold timer due while a window runs waits for its end: one frame, at most one window late', async (t) => {
  const h = await hubWith({ hot: 2 });
  fakeTime(t);
  h.hub.degrade(3, 2);
  const t0 = Date.now();
  h.push('hot', Kind.Like);
  mock.timers.tick(W3); // held
  mock.timers.tick(700 - W3);
  h.push('hot', Kind.Gift); // a window from 700 to 1100
  mock.timers.tick(300); // 1000: the hold timer fires during the window
  t.equal(h.sent.length, 0, 'no extra frame when the likes are due');
  mock.timers.tick(100); // 1100: the window's end
  t.equal(h.sent.length, 1, 'one frame');
  t.same(h.sent[0]!.d!.map((d) => d.k), [Kind.Like, Kind.Gift], 'the likes with the window\'s gift');
  t.equal(Date.now() - t0, 1100, 'within a second and one window of the like');
  h.hub.flushAll();
});

t.test('rooms - a released room holding likes leaves no timer and sends nothing after; acquired again, it starts afresh', async (t) => {
  const h = await hubWith({ hot: 2 });
  fakeTime(t);
  const hot = h.rooms.get('hot')!;
  h.hub.degrade(3, 2);
  h.push('hot', Kind.Like);
  mock.timers.tick(W3);
  t.ok(hot.holdTimer, 'likes held');
  h.hub.leave(hot);
  h.hub.leave(hot);
  t.equal(hot.holdTimer, null, 'the hold timer is stopped');
  t.equal(hot.timer, null);
  t.equal(hot.merger.size, 0, 'what it held is dropped with the room');
  mock.timers.tick(5000);
  t.equal(h.sent.length, 0, 'nothing sent after the release');
  const again = await h.hub.acquire('hot');
  h.hub.join(again);
  h.hub.join(again);
  t.not(again, hot, 'a new room');
  t.equal(again.level, 0, 'as configured until the next degrade()');
  t.equal(h.hub.degrade(3, 2), 1, 'degraded again');
  h.push('hot', Kind.Like);
  mock.timers.tick(1000);
  t.same(likes(h.sent).map((l) => l.a), [2], 'its own like only, when due');
  h.hub.flushAll();
});

t.test('rooms - a drop to level 0 while likes are held: they go out with the next batch, totals exact', async (t) => {
  const h = await hubWith({ hot: 2 });
  fakeTime(t);
  const hot = h.rooms.get('hot')!;
  h.hub.degrade(3, 2);
  for (let i = 0; i < 3; i++) {
    h.push('hot', Kind.Like);
    mock.timers.tick(W3 / 2);
  }
  h.push('hot', Kind.Like); // pending in the window under way
  t.equal(likes(h.sent).length, 0, 'held');
  h.hub.degrade(0, 2);
  t.equal(hot.holdTimer, null, 'no hold timer at level 0');
  t.equal(hot.level, 0);
  mock.timers.tick(W3);
  t.same(likes(h.sent).map((l) => l.a), [8], 'the four likes as one item with their total');
  mock.timers.tick(2000);
  t.equal(likes(h.sent).length, 1, 'nothing more');
  h.push('hot', Kind.Like);
  mock.timers.tick(50);
  t.same(likes(h.sent).map((l) => l.a), [8, 2], 'a new like goes with the configured window');
});

t.test('rooms - the drain\'s flush sends held likes and keeps the level; shutdown\'s resets it', async (t) => {
  const h = await hubWith({ hot: 2 });
  fakeTime(t);
  const hot = h.rooms.get('hot')!;
  h.hub.degrade(3, 2);
  h.push('hot', Kind.Like);
  mock.timers.tick(W3);
  h.push('hot', Kind.Like);
  h.push('hot', Kind.Gift);
  h.hub.flushNow();
  t.equal(h.sent.length, 1, 'one frame at once');
  t.same(h.sent[0]!.d!.map((d) => [d.k, (d as { a?: number }).a]), [[Kind.Like, 4], [Kind.Gift, 1]], 'held and pending likes as one item, and the gift');
  t.same([hot.level, hot.mergeWindowMs, hot.mergeMaxMessages], [3, W3, 512], 'still degraded');
  t.equal(hot.holdTimer, null, 'nothing held, no hold timer');
  t.equal(hot.timer, null);
  h.push('hot', Kind.Like);
  mock.timers.tick(W3);
  t.equal(h.sent.length, 1, 'a like after it is held again');
  t.equal(h.hub.degrade(3, 2), 1, 'the monitor\'s next tick finds nothing to change');
  h.hub.flushAll();
  t.equal(hot.level, 0, 'shutdown\'s flush sets the rooms back');
  t.same(likes(h.sent).map((l) => l.a), [4, 2]);
});
