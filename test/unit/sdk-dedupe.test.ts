// De-duplication in the SDK: the bounded RecentSet (src/sdk/recent.ts), and a room's seqs
// (src/sdk/rooms.ts): copies by s within an epoch, s 0 never a copy, an epoch change or a
// JOINED with rid 0 forgets the seqs, the `since` of the next resume, and a resume answered
// with epoch '' kept until one is answered.

import t from 'tap';
import { RecentSet } from '../../src/sdk/recent.js';
import { RoomState } from '../../src/sdk/rooms.js';
import type { RoomItem } from '../../src/sdk/types.js';

const item = (s: number, x = `m${s}`): RoomItem => ({ s, k: 1, u: 'u', n: 'U', t: 1_700_000_000_000 + s, x });

t.test('sdk dedupe - RecentSet keeps the newest `capacity` keys', async (t) => {
  const r = new RecentSet<number>(3);
  t.same([r.add(1), r.add(2), r.add(1), r.add(3)], [true, true, false, true]);
  t.equal(r.size, 3);
  t.equal(r.add(4), true);
  t.equal(r.has(1), false, 'the oldest forgotten');
  t.same([r.has(2), r.has(3), r.has(4)], [true, true, true]);
  r.clear();
  t.equal(r.size, 0);
  const big = new RecentSet<string>(5000);
  for (let i = 0; i < 20_000; i++) big.add(`id-${i}`);
  t.equal(big.size, 5000, 'bounded');
  t.ok(big.has('id-19999') && !big.has('id-14999'));
});

t.test('sdk dedupe - a room drops copies by s, never s 0, and resumes from max(shown, JOINED.seq)', async (t) => {
  const st = new RoomState('lobby');
  t.same(st.joinBody(), { room: 'lobby' }, 'a plain join before any epoch');
  const first = st.joined({ room: 'lobby', online: 3, seq: 10, epoch: 'E1', replay: [item(9), item(10)] }, undefined, false);
  t.match(first.info, { room: 'lobby', online: 3, seq: 10, epoch: 'E1', resumed: false, reset: false, replayed: 2 });
  t.equal(first.info.recovered, undefined, 'recovered only on a resume');
  t.same([st.take(item(10)), st.take(item(11)), st.take(item(11)), st.take(item(0)), st.take(item(0))], [false, true, false, true, true]);
  t.same(st.joinBody(), { room: 'lobby', since: 11, epoch: 'E1' });
  // a resume: the margin replays 11 again, 12 is new; JOINED.seq 20 moves since on (a quiet room)
  const again = st.joined({ room: 'lobby', online: 4, seq: 20, epoch: 'E1', recovered: true, kept: true, replay: [item(11), item(12)] }, 11, false);
  t.match(again.info, { resumed: true, recovered: true, kept: true, reset: false, replayed: 1 });
  t.same(again.fresh.map((i) => i.s), [12]);
  t.same(st.joinBody(), { room: 'lobby', since: 20, epoch: 'E1' });
});

t.test('sdk dedupe - a like a degraded room held comes with an s below items already shown: it is shown, once', async (t) => {
  const st = new RoomState('hot');
  st.joined({ room: 'hot', online: 900, seq: 100, epoch: 'E1', replay: [] }, undefined, false);
  t.same([101, 103, 105].map((s) => st.take(item(s))), [true, true, true], 'danmaku and gifts of later batches');
  const like: RoomItem = { s: 104, k: 2, u: '', t: 1_700_000_000_104, a: 7 };
  t.equal(st.take(like), true, 'the held like (s 104 < 105 shown) is new, not a copy');
  t.equal(st.take(like), false, 'the same like again is a copy');
  t.same(st.joinBody(), { room: 'hot', since: 105, epoch: 'E1' }, 'the resume point stays at the highest shown');
});

t.test('sdk dedupe - a new epoch forgets the seqs', async (t) => {
  const st = new RoomState('r');
  st.joined({ room: 'r', online: 1, seq: 50, epoch: 'E1', replay: [item(50)] }, undefined, false);
  const next = st.joined({ room: 'r', online: 1, seq: 2, epoch: 'E2', recovered: false, kept: false, replay: [item(1), item(2)] }, 50, false);
  t.match(next.info, { reset: true, resumed: true, recovered: false, replayed: 2 });
  t.same(st.joinBody(), { room: 'r', since: 2, epoch: 'E2' }, 'numbering from the new epoch');
  t.equal(st.take(item(50)), true, 'an old seq of the new numbering is new');
});

t.test('sdk dedupe - a JOINED with rid 0: seqs forgotten, but items that came just before it are not shown twice', async (t) => {
  const st = new RoomState('r');
  st.joined({ room: 'r', online: 1, seq: 100, epoch: 'E1', replay: [] }, undefined, false);
  t.equal(st.take(item(101)), true);
  t.equal(st.take(item(1, 'new numbering')), true, 'an item of the new numbering, before the JOINED');
  const reset = st.joined({ room: 'r', online: 1, seq: 1, epoch: 'E2', replay: [item(1, 'new numbering')] }, undefined, true);
  t.match(reset.info, { reset: true, resumed: false, replayed: 0 });
  t.same(reset.fresh, [], 'the replayed copy is not shown again');
  t.equal(st.take(item(1, 'new numbering')), false, 'and is a copy from now on');
  t.same(st.joinBody(), { room: 'r', since: 1, epoch: 'E2' });
});

t.test("sdk dedupe - a resume answered with epoch '' keeps its since until one is answered", async (t) => {
  const st = new RoomState('r');
  st.joined({ room: 'r', online: 1, seq: 5, epoch: 'E1', replay: [item(5)] }, undefined, false);
  const hole = st.joined({ room: 'r', online: 1, seq: 0, epoch: '', recovered: false, kept: false, replay: [] }, 5, false);
  t.match(hole.info, { epoch: '', resumed: true, recovered: false, reset: false });
  t.equal(st.holeSince, 5);
  t.equal(st.take(item(9)), true, 'live items are shown meanwhile');
  t.same(st.joinBody(), { room: 'r', since: 5, epoch: 'E1' }, 'but do not move the since of the resume');
  const answered = st.joined({ room: 'r', online: 1, seq: 9, epoch: 'E1', recovered: true, kept: true, replay: [item(6), item(7), item(8), item(9)] }, 5, false);
  t.same(answered.fresh.map((i) => i.s), [6, 7, 8], '9 was shown already');
  t.equal(st.holeSince, null);
  t.same(st.joinBody(), { room: 'r', since: 9, epoch: 'E1' });
});
