import t from 'tap';
import type { LocalRoom, RoomHub } from '../../src/gateway/room-hub.js';
import { decode } from '../../src/protocol/codec.js';
import { encodeItem } from '../../src/protocol/items.js';
import { Kind } from '../../src/protocol/kinds.js';
import type { RoomHistory, RoomWindowSnapshot, WindowItem } from '../../src/store/history/index.js';
import { MemoryRoomHistory } from '../../src/store/history/memory.js';
import { testHub } from '../helpers/rooms.js';
import { metricValue } from '../helpers/server.js';

interface Joined {
  room: string;
  online: number;
  seq: number;
  epoch: string;
  recovered?: boolean;
  kept?: boolean;
  replay: { s: number; k: number }[];
}

const danmaku = (s: number, t = Date.now()): WindowItem => ({ seq: s, t, keep: false, data: encodeItem({ s, k: Kind.Danmaku, u: 'a', t, x: `m${s}` }) });
const gift = (s: number, t = Date.now()): WindowItem => ({ seq: s, t, keep: true, data: encodeItem({ s, k: Kind.Gift, u: 'a', t, g: 'rose', a: 1 }) });

function joined(hub: RoomHub, room: LocalRoom, resume: { since: number; epoch: string } | null = null): Joined {
  const [op, rid, body] = decode(hub.joinedFrame(room, 7, resume)) as [number, number, Joined];
  if (op !== 11 || rid !== 7) throw new Error(`not a JOINED for rid 7: ${op} ${rid}`);
  return body;
}

const seqs = (j: Joined) => j.replay.map((r) => r.s);

async function recoveries(hub: { metrics: { registry: { metrics(): Promise<string> } } }, result: string): Promise<number> {
  return metricValue(await hub.metrics.registry.metrics(), 'danmaku_room_recoveries_total', { result });
}

t.test('rooms - a plain JOINED carries the epoch and the last REPLAY_SIZE items; JOIN with since gets what followed it', async (t) => {
  const history = new MemoryRoomHistory();
  for (let s = 1; s <= 20; s++) await history.append('r', s % 5 === 0 ? gift(s) : danmaku(s));
  const h = testHub({ history }, { replaySize: 4 });
  const room = await h.hub.acquire('r');
  h.hub.join(room);
  const epoch = (await history.window('r')).epoch;
  const plain = joined(h.hub, room);
  t.equal(plain.epoch, epoch, 'the store epoch');
  t.equal(plain.seq, 20);
  t.same(seqs(plain), [17, 18, 19, 20]);
  t.notOk('recovered' in plain, 'no recovered flag without since');

  const resumed = joined(h.hub, room, { since: 12, epoch });
  t.equal(resumed.recovered, true);
  t.equal(resumed.kept, true);
  // Everything after 12, and 12 itself back to the margin (all items here share one t).
  t.same(seqs(resumed).filter((s) => s > 12), [13, 14, 15, 16, 17, 18, 19, 20], 'every item after since');
  t.equal(await recoveries(h, 'recovered'), 1);
  const items = await h.metrics.registry.metrics();
  t.match(items, /danmaku_room_recovered_items_sum\S* 8/, 'the items after since are counted');

  t.equal(joined(h.hub, room, { since: 20, epoch }).recovered, true, 'a client that holds everything');
  const other = joined(h.hub, room, { since: 12, epoch: 'another-life' });
  t.equal(other.recovered, false);
  t.equal(other.kept, false);
  t.same(seqs(other), [17, 18, 19, 20], 'another epoch: the plain replay');
  t.equal(await recoveries(h, 'epoch_changed'), 1);
  h.hub.leave(room);
});

t.test('rooms - the margin brings back items at or below since that arrived late', async (t) => {
  const history = new MemoryRoomHistory();
  const now = Date.now();
  await history.append('r', danmaku(1, now - 10_000));
  await history.append('r', danmaku(2, now - 500)); // reached the store after 3 (out of order)
  await history.append('r', danmaku(3, now - 600));
  await history.append('r', danmaku(4, now - 100));
  const h = testHub({ history }, { roomRecoveryMarginMs: 1000 });
  const room = await h.hub.acquire('r');
  h.hub.join(room);
  const { epoch } = await history.window('r');
  t.same(seqs(joined(h.hub, room, { since: 3, epoch })), [2, 3, 4], 'within a second before the since item: sent again, the client de-duplicates');
  h.hub.leave(room);
});

t.test('rooms - past the window: kept while the gifts are all held, partial beyond, never recovered', async (t) => {
  const history = new MemoryRoomHistory({ limits: { size: 5, ageMs: 120_000, keepSize: 3, keepAgeMs: 600_000 } });
  for (let s = 1; s <= 30; s++) await history.append('r', s % 4 === 0 ? gift(s) : danmaku(s));
  // Held: the last 5 ordinary items (25 26 27 29 30) and the last 3 gifts (20 24 28); the
  // floors are the highest seqs that left: 23, and 16 for gifts.
  const h = testHub({ history }, { replaySize: 2, roomRecoverySize: 5, roomRecoveryKeepSize: 3 });
  const room = await h.hub.acquire('r');
  h.hub.join(room);
  const { epoch, floor, keepFloor } = await history.window('r');
  t.same([floor, keepFloor], [23, 16]);

  const kept = joined(h.hub, room, { since: keepFloor, epoch });
  t.equal(kept.recovered, false, 'ordinary items were trimmed after since: not recovered');
  t.equal(kept.kept, true, 'but every gift after since is held');
  t.same(seqs(kept), [20, 24, 28, 29, 30], 'the gifts after since, then the plain replay, by seq');

  const partial = joined(h.hub, room, { since: keepFloor - 1, epoch });
  t.equal(partial.recovered, false);
  t.equal(partial.kept, false);
  t.same(seqs(partial), [29, 30], 'the plain replay');

  t.equal(joined(h.hub, room, { since: floor, epoch }).recovered, true, 'at the floor: recovered');
  t.equal(await recoveries(h, 'kept'), 1);
  t.equal(await recoveries(h, 'partial'), 1);
  h.hub.leave(room);
});

t.test('rooms - items sent go into the window (gifts kept, likes and unsequenced items not)', async (t) => {
  const h = testHub();
  const room = await h.hub.acquire('r');
  h.hub.join(room);
  const { epoch } = joined(h.hub, room);
  const now = Date.now();
  h.hub.roomMessage('r', encodeItem({ s: 1, k: Kind.Danmaku, u: 'a', t: now, x: 'hi' }), true);
  h.hub.roomMessage('r', encodeItem({ s: 2, k: Kind.Like, u: 'a', t: now, a: 1 }), true);
  h.hub.roomMessage('r', encodeItem({ s: 3, k: Kind.Gift, u: 'a', t: now, g: 'rose', a: 1 }), true);
  h.hub.roomMessage('r', encodeItem({ s: 0, k: Kind.Danmaku, u: 'a', t: now, x: 'unsequenced' }), true);
  h.hub.flush(room);
  t.same(seqs(joined(h.hub, room, { since: 0, epoch })), [1, 3]);
  t.same(room.window.items(now).map((i) => [i.seq, i.keep]), [
    [1, false],
    [3, true],
  ]);
  t.equal(joined(h.hub, room).seq, 3, 'JOINED.seq: the highest sent, likes included');
  h.hub.leave(room);
});

/** A store whose window() fails while `down` is set. */
function flaky(inner: RoomHistory): RoomHistory & { down: boolean } {
  return {
    down: true,
    append: (room, item) => inner.append(room, item),
    get: (room, seq) => inner.get(room, seq),
    async window(room): Promise<RoomWindowSnapshot> {
      if (this.down) throw new Error('Redis down');
      return inner.window(room);
    },
    async epoch(room) {
      if (this.down) throw new Error('Redis down');
      return inner.epoch(room);
    },
  };
}

t.test('rooms - an unread window claims nothing, and the next join reads it again', async (t) => {
  const inner = new MemoryRoomHistory();
  for (let s = 1; s <= 3; s++) await inner.append('r', danmaku(s));
  const { epoch } = await inner.window('r');
  const history = flaky(inner);
  const h = testHub({ history });
  const room = await h.hub.acquire('r');
  h.hub.join(room);
  const j = joined(h.hub, room, { since: 3, epoch });
  t.equal(j.epoch, '', 'no epoch while the window is unread');
  t.equal(j.recovered, false, 'never recovered without having read the window');
  t.equal(j.kept, false);
  t.equal(await recoveries(h, 'unavailable'), 1);
  // Live items still flow (stored before they are published, as the logic does).
  await inner.append('r', danmaku(4));
  h.hub.roomMessage('r', danmaku(4).data, true);
  h.hub.flush(room);

  history.down = false;
  const again = await h.hub.acquire('r');
  t.equal(again, room, 'the same room');
  h.hub.join(again);
  const after = joined(h.hub, room, { since: 2, epoch });
  t.equal(after.epoch, epoch);
  t.equal(after.recovered, true);
  t.same(seqs(after).filter((s) => s > 2), [3, 4]);
  h.hub.leave(room);
  h.hub.leave(room);
});

t.test('rooms - what is sent while the window is being read is not lost from it', async (t) => {
  const inner = new MemoryRoomHistory();
  await inner.append('r', danmaku(1));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const history: RoomHistory = { append: (r, i) => inner.append(r, i), get: (r, s) => inner.get(r, s), epoch: (r) => inner.epoch(r), window: async (r) => {
      const snap = await inner.window(r); // read before 2 is stored and sent
      await gate;
      return snap;
    },
  };
  const h = testHub({ history });
  const joining = h.hub.acquire('r');
  await new Promise((r) => setImmediate(r));
  await inner.append('r', danmaku(2));
  h.hub.roomMessage('r', danmaku(2).data, true); // arrives live while the read is under way
  h.hub.flushAll();
  release();
  const room = await joining;
  h.hub.join(room);
  const { epoch } = await inner.window('r');
  t.same(seqs(joined(h.hub, room, { since: 0, epoch })), [1, 2]);
  h.hub.leave(room);
});

t.test('rooms - after a store reconnect, a room whose epoch changed starts its window again', async (t) => {
  const store = { inner: new MemoryRoomHistory() };
  for (let s = 1; s <= 5; s++) await store.inner.append('r', danmaku(s));
  const history: RoomHistory = { append: (r, i) => store.inner.append(r, i), get: (r, s) => store.inner.get(r, s), window: (r) => store.inner.window(r), epoch: (r) => store.inner.epoch(r) };
  const h = testHub({ history });
  const room = await h.hub.acquire('r');
  h.hub.join(room);
  const old = joined(h.hub, room).epoch;

  await h.hub.storeRestored();
  t.equal(joined(h.hub, room).epoch, old, 'the same epoch: nothing changes');
  t.equal(metricValue(await h.metrics.registry.metrics(), 'danmaku_room_epoch_resets_total'), 0);

  // The store lost everything (a Redis restarted empty): the room starts numbering again.
  store.inner = new MemoryRoomHistory();
  await store.inner.append('r', danmaku(1));
  await h.hub.storeRestored();
  const j = joined(h.hub, room);
  t.not(j.epoch, old, 'the new epoch');
  t.equal(j.epoch, await store.inner.epoch('r'));
  t.equal(j.seq, 1, 'JOINED.seq follows the new numbering');
  t.same(seqs(j), [1]);
  t.equal(metricValue(await h.metrics.registry.metrics(), 'danmaku_room_epoch_resets_total'), 1);
  const stale = joined(h.hub, room, { since: 5, epoch: old });
  t.equal(stale.recovered, false, 'a client of the old epoch is not told it recovered');
  h.hub.leave(room);
});

t.test('rooms - items that aged out since the last one was sent are not claimed', async (t) => {
  // Ages count from when an item reached the window (its flush here), not from its own t.
  const h = testHub({}, { roomRecoveryMs: 1000 });
  const room = await h.hub.acquire('r');
  h.hub.join(room);
  const { epoch } = joined(h.hub, room);
  const old = Date.now() - 5_000;
  for (const s of [1, 2, 3]) h.hub.roomMessage('r', danmaku(s, old).data, true);
  h.hub.flush(room);
  t.equal(joined(h.hub, room, { since: 1, epoch }).recovered, true, 'still held: an old t does not age an item that just arrived');
  await new Promise((r) => setTimeout(r, 1_100));
  const j = joined(h.hub, room, { since: 1, epoch });
  t.equal(j.recovered, false, 'past ROOM_RECOVERY_MS with nothing sent since: trimmed as of the join');
  t.same(seqs(j), [], 'and not in the plain replay either');
  h.hub.leave(room);
});

t.test('rooms - a resume confirms the epoch with the store when it was not confirmed within a second', async (t) => {
  const store = { inner: new MemoryRoomHistory() };
  for (let s = 1; s <= 5; s++) await store.inner.append('r', danmaku(s));
  let epochReads = 0;
  const history: RoomHistory = {
    append: (r, i) => store.inner.append(r, i),
    get: (r, s) => store.inner.get(r, s),
    window: (r) => store.inner.window(r),
    epoch: (r) => {
      epochReads++;
      return store.inner.epoch(r);
    },
  };
  const h = testHub({ history });
  const room = await h.hub.acquire('r');
  h.hub.join(room);
  const old = joined(h.hub, room).epoch;
  t.equal(h.hub.confirmEpoch(room), null, 'just read: nothing to confirm');
  const later = Date.now() + 1500;
  await h.hub.confirmEpoch(room, later);
  t.equal(epochReads, 1, 'one read of the epoch');
  t.equal(h.hub.confirmEpoch(room, later), null, 'confirmed');

  store.inner = new MemoryRoomHistory(); // flushed, with no reconnect to tell
  const check = h.hub.confirmEpoch(room, Date.now() + 3000);
  t.equal(h.hub.confirmEpoch(room, Date.now() + 3000), check, 'resumes at the same moment share one check');
  await check;
  const j = joined(h.hub, room, { since: 5, epoch: old });
  t.not(j.epoch, old, 'the store epoch changed: the window was read again');
  t.equal(j.recovered, false);
  t.equal(metricValue(await h.metrics.registry.metrics(), 'danmaku_room_epoch_resets_total'), 1);
  h.hub.leave(room);
});

t.test('rooms - danmaku shed by the display cap are in the window: a resume on this gateway is complete', async (t) => {
  const h = testHub({}, { roomDisplayCap: 2 });
  const room = await h.hub.acquire('r');
  h.hub.join(room);
  const { epoch } = joined(h.hub, room);
  for (let s = 1; s <= 6; s++) h.hub.roomMessage('r', danmaku(s).data, true);
  h.hub.roomMessage('r', gift(7).data, true);
  h.hub.flush(room);
  const batch = h.sent.find((b) => b.d)!;
  t.equal(batch.d!.length, 3, 'two danmaku and the gift sent');
  t.equal(batch.s, 4, 'four shed');
  const j = joined(h.hub, room, { since: 0, epoch });
  t.equal(j.recovered, true);
  t.same(seqs(j), [1, 2, 3, 4, 5, 6, 7], 'the shed items too (a client that followed the room elsewhere may not have them)');
  t.same(room.window.items(Date.now()).filter((i) => i.keep).map((i) => i.seq), [7], 'shed danmaku are ordinary items');
  h.hub.leave(room);
});

t.test('rooms - a reset of the numbering is told to every member: a JOINED with rid 0, the new epoch, not recovered', async (t) => {
  const store = { inner: new MemoryRoomHistory() };
  for (let s = 1; s <= 5; s++) await store.inner.append('r', danmaku(s));
  const history: RoomHistory = { append: (r, i) => store.inner.append(r, i), window: (r) => store.inner.window(r), epoch: (r) => store.inner.epoch(r), get: (r, s) => store.inner.get(r, s) };
  const h = testHub({ history });
  const room = await h.hub.acquire('r');
  h.hub.join(room);
  const old = joined(h.hub, room).epoch;
  await h.hub.storeRestored();
  t.equal(h.sent.length, 0, 'the same epoch: nothing is sent');
  store.inner = new MemoryRoomHistory();
  await store.inner.append('r', danmaku(1));
  await h.hub.storeRestored();
  const told = h.sent as unknown as Joined[];
  t.equal(told.length, 1, 'one frame to the room');
  t.equal(told[0]!.epoch, await store.inner.epoch('r'), 'the new epoch');
  t.not(told[0]!.epoch, old);
  t.equal(told[0]!.recovered, false);
  t.equal(told[0]!.seq, 1);
  t.same(told[0]!.replay.map((r) => r.s), [1], 'the new numbering\'s replay');
  h.hub.leave(room);
});

t.test('rooms - JOINED.seq covers the floors: in a quiet room whose items aged out, a resume from it is recovered', async (t) => {
  const history = new MemoryRoomHistory({ limits: { size: 500, ageMs: 1_000, keepSize: 1000, keepAgeMs: 600_000 } });
  const old = Date.now() - 10_000;
  for (let s = 1; s <= 5; s++) await history.append('r', danmaku(s, old));
  const h = testHub({ history }, { roomRecoveryMs: 1_000 });
  const room = await h.hub.acquire('r');
  h.hub.join(room);
  const plain = joined(h.hub, room);
  t.same(seqs(plain), [], 'nothing held');
  t.equal(plain.seq, 5, 'the floor');
  const j = joined(h.hub, room, { since: plain.seq, epoch: plain.epoch });
  t.equal(j.recovered, true, 'since = max(highest shown, JOINED.seq): nothing was missed');
  h.hub.leave(room);
});

t.test('rooms - a resume reply says how many items it replays (the frame budget charges for them)', async (t) => {
  const history = new MemoryRoomHistory();
  const now = Date.now();
  for (let s = 1; s <= 250; s++) await history.append('r', danmaku(s, now - (250 - s) * 10));
  const h = testHub({ history }, { replaySize: 10, roomRecoveryMarginMs: 0 });
  const room = await h.hub.acquire('r');
  h.hub.join(room);
  const { epoch } = joined(h.hub, room);
  t.equal(h.hub.joinedReply(room, 1, null).replayed, 0, 'a plain JOINED costs its one token');
  t.equal(h.hub.joinedReply(room, 1, { since: 0, epoch }).replayed, 250);
  t.equal(h.hub.joinedReply(room, 1, { since: 240, epoch }).replayed, 11, 'the since item (margin 0) and the ten after it');
  h.hub.leave(room);
});

t.test('rooms - an item whose seq the window holds (a stored copy published again after a dup) is not sent twice', async (t) => {
  const h = testHub();
  const room = await h.hub.acquire('r');
  h.hub.join(room);
  h.hub.roomMessage('r', gift(1).data, false);
  h.hub.flush(room);
  h.hub.roomMessage('r', gift(1).data, false); // the republish
  h.hub.roomMessage('r', gift(2).data, false);
  h.hub.flush(room);
  t.same(h.sent.filter((b) => b.d).map((b) => b.d!.map((d) => d.s)), [[1], [2]], 'gift 1 once, gift 2 after it');
  const text = await h.metrics.registry.metrics();
  t.match(text, /danmaku_dropped_total\{[^}]*reason="duplicate"[^}]*\} 1/, 'counted as a duplicate');
  h.hub.leave(room);
});

t.test('rooms - resumes with the same since share one reply while the window is unchanged, and see what it gains', async (t) => {
  const h = testHub({}, { roomRecoveryMarginMs: 0 });
  const room = await h.hub.acquire('r');
  h.hub.join(room);
  const { epoch } = joined(h.hub, room);
  for (const s of [1, 2, 3]) h.hub.roomMessage('r', danmaku(s).data, false);
  h.hub.flush(room);
  const a = joined(h.hub, room, { since: 1, epoch });
  const b = joined(h.hub, room, { since: 1, epoch });
  // (the items of the since item's own flush come too: they reached the window with it)
  t.same([seqs(a).filter((s) => s > 1), a.recovered], [[2, 3], true]);
  t.same(b, a, 'the second is the same answer');
  t.ok(seqs(joined(h.hub, room, { since: 3, epoch })).includes(3), 'another since: its own answer');
  t.equal(joined(h.hub, room, { since: 1, epoch: 'another-life' }).recovered, false, 'another epoch is not served from it');
  h.hub.roomMessage('r', gift(4).data, false);
  h.hub.flush(room);
  t.same(seqs(joined(h.hub, room, { since: 1, epoch })).filter((s) => s > 1), [2, 3, 4], 'an item added since is in the next answer');
  h.hub.leave(room);
});
