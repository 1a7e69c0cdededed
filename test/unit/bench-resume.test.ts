// The harness's side of resuming a room (bench/lib/resume.ts) and the delivery check by kind
// for viewers that stayed and viewers that came back (bench/lib/loss.ts): pure functions.

import t from 'tap';
import { deliveryPart, mergeDelivery, type Acked, type DeliveryTally } from '../../bench/lib/loss.js';
import { parseOptions } from '../../bench/lib/options.js';
import { joinBody, outcomeOf, positionAfter, reconnectDelayMs, type RoomPosition } from '../../bench/lib/resume.js';
import { SeqSet } from '../../bench/lib/seq-set.js';

const seqs = (xs: number[]) => {
  const s = new SeqSet();
  for (const x of xs) s.add(x);
  return s;
};

t.test('bench resume - a first JOIN is plain; coming back sends since and epoch, only with an epoch', async (t) => {
  t.same(joinBody('hot', null), { room: 'hot' });
  t.same(joinBody('hot', { epoch: 'e1', lastSeq: 42, joinSeq: 7 }), { room: 'hot', since: 42, epoch: 'e1' });
  t.same(joinBody('hot', { epoch: 'e1', lastSeq: 0, joinSeq: 0 }), { room: 'hot', since: 0, epoch: 'e1' }, 'since 0 is a position too');
  t.same(joinBody('hot', { epoch: null, lastSeq: 42, joinSeq: 7 }), { room: 'hot' }, 'a server that gave no epoch: plain');
});

t.test('bench resume - the position starts at JOINED.seq and keeps what was held across a resume', async (t) => {
  const first = positionAfter(null, { seq: 10, epoch: 'e1', replay: [] } as never);
  t.same(first, { epoch: 'e1', lastSeq: 10, joinSeq: 10 });
  t.same(positionAfter({ epoch: 'e1', lastSeq: 25, joinSeq: 10 }, { seq: 30, epoch: 'e1' }), { epoch: 'e1', lastSeq: 30, joinSeq: 10 });
  t.same(positionAfter({ epoch: 'e1', lastSeq: 25, joinSeq: 10 }, { seq: 20, epoch: 'e1' }), { epoch: 'e1', lastSeq: 25, joinSeq: 10 }, 'a gateway behind the viewer does not move it back');
  t.same(positionAfter({ epoch: 'e1', lastSeq: 25, joinSeq: 10 }, { seq: 3, epoch: 'e2' }), { epoch: 'e2', lastSeq: 3, joinSeq: 10 }, 'a new epoch: what was held says nothing');
  t.same(positionAfter(null, { seq: 5 }), { epoch: null, lastSeq: 5, joinSeq: 5 }, 'no epoch (the baseline, an older server)');
  t.same(positionAfter({ epoch: 'e1', lastSeq: 25, joinSeq: 10 }, { seq: 30, epoch: '' }), { epoch: 'e1', lastSeq: 30, joinSeq: 10 }, "epoch '' (window unreadable): keep the one held");
});

t.test('bench resume - outcomes from JOINED', async (t) => {
  const pos: RoomPosition = { epoch: 'e1', lastSeq: 25, joinSeq: 10 };
  t.equal(outcomeOf(pos, { epoch: 'e1', recovered: true, kept: true }), 'recovered');
  t.equal(outcomeOf(pos, { epoch: 'e1', recovered: false, kept: true }), 'kept');
  t.equal(outcomeOf(pos, { epoch: 'e1', recovered: false, kept: false }), 'lost');
  t.equal(outcomeOf(pos, { epoch: 'e2', recovered: false, kept: false }), 'epoch_changed');
  t.equal(outcomeOf(pos, { epoch: '', recovered: false, kept: false }), 'unavailable', 'the gateway could not read the window');
  t.equal(outcomeOf(pos, { epoch: 'e1' }), 'unsupported', 'a server that ignores since');
  t.equal(outcomeOf(null, { epoch: 'e1', recovered: true }), 'unsupported', 'nothing was asked');
  t.equal(outcomeOf({ ...pos, epoch: null }, { recovered: true }), 'unsupported', 'no epoch held: a plain JOIN');
});

t.test('bench resume - reconnect backoff: 100 ms doubling to 2 s, jitter up to half', async (t) => {
  t.equal(reconnectDelayMs(0, 0), 100);
  t.equal(reconnectDelayMs(0, 1), 150);
  t.equal(reconnectDelayMs(3, 0), 800);
  t.equal(reconnectDelayMs(10, 0), 2000);
  t.equal(reconnectDelayMs(10, 1), 3000);
});

t.test('bench resume - delivery by kind: stayed and came back apart, gifts exact by seq, danmaku net of shed', async (t) => {
  // Room "hot": acknowledged danmaku 1-6, gifts 7 and 8; likes 4 acknowledged in all.
  const acked: Acked = { seqs: { hot: seqs([1, 2, 3, 4, 5, 6, 7, 8]).bits }, unsequenced: {}, gifts: { hot: seqs([7, 8]).bits } };
  const expected = { hot: { danmaku: 6, likes: 4, gifts: 2 } };
  const v = (o: Partial<DeliveryTally> & { seen: SeqSet }): DeliveryTally => ({ room: 'hot', open: true, moved: false, danmaku: 0, shed: 0, likes: 4, gifts: 0, ...o });
  const part = deliveryPart(
    [
      v({ seen: seqs([1, 2, 3, 4, 5, 6, 7, 8]) }), // everything
      v({ seen: seqs([1, 2, 3, 5, 7, 8]), shed: 1 }), // 2 danmaku missing, 1 of them shed: 1 lost
      v({ seen: seqs([1, 2, 3, 4, 5, 6, 7]), moved: true, likes: 1 }), // came back: gift 8 and 3 likes missing
      v({ seen: seqs([1]), open: false, moved: true }), // closed and not back: not checked
      v({ seen: seqs([]), room: 'quiet' }), // a room without traffic
    ],
    acked,
    expected,
  );
  t.same(part.stayed, { viewers: 2, danmaku: 1, likes: 0, gifts: 0, chat: 0, expectedGifts: 4, expectedDanmaku: 12, expectedChat: 0 });
  t.same(part.resumed, { viewers: 1, danmaku: 0, likes: 3, gifts: 1, chat: 0, expectedGifts: 2, expectedDanmaku: 6, expectedChat: 0 });
  t.equal(part.notBack, 1);
  const other = deliveryPart([v({ seen: seqs([1, 2, 3, 4, 5, 6]), moved: true })], acked, expected); // lacks both gifts
  const all = mergeDelivery([part, other], acked);
  t.equal(all.giftsAcked, 2);
  t.equal(all.giftsLost, 2, 'distinct gifts some viewer lacks, over the threads');
  t.equal(all.resumed.viewers, 2);
  t.equal(all.resumed.gifts, 3, '(viewer, gift) pairs');
  // A chat group: its sequenced items are messages, checked by seq with no shedding.
  const chat = deliveryPart([v({ seen: seqs([1, 2, 3, 5, 6, 7, 8]), moved: true, shed: 5 })], acked, expected, true);
  t.same([chat.resumed.chat, chat.resumed.expectedChat, chat.resumed.danmaku], [1, 6, 0], 'message 4 missing; a shed count does not hide it');
});

t.test('bench resume - options: resume follows --faults, faults only known ones within the window', async (t) => {
  t.equal(parseOptions([]).resume, false);
  t.equal(parseOptions(['--resume']).resume, true);
  const o = parseOptions(['--faults', 'kill-gateway', '--duration', '8']);
  t.same(o.faults, ['kill-gateway']);
  t.equal(o.resume, true, 'on with a fault');
  t.equal(o.faultAtS, 4, 'half of the window');
  t.equal(parseOptions(['--faults', 'kill-gateway', '--no-resume']).resume, false);
  t.equal(parseOptions(['--resume']).since, true, 'coming back with since by default');
  t.equal(parseOptions(['--resume', '--no-since']).since, false, 'or plainly, for comparison');
  t.throws(() => parseOptions(['--faults', 'kill-nats']), /unknown fault/);
  t.throws(() => parseOptions(['--faults', 'kill-gateway', '--duration', '4', '--fault-at', '4']), /within the measured window/);
});
