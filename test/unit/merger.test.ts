import t from 'tap';
import { RoomMerger, type PendingItem } from '../../src/gateway/merger.js';
import { decode } from '../../src/protocol/codec.js';
import { checkItem, encodeItem, type ItemHead, type RoomItem } from '../../src/protocol/items.js';
import { Kind, KINDS } from '../../src/protocol/kinds.js';

function push(m: RoomMerger, item: RoomItem): void {
  const data = encodeItem(item);
  m.push({ head: (checkItem(data, 100) as { head: ItemHead }).head, data });
}

t.test('merger - under the cap everything is sent in sequence order', async (t) => {
  const m = new RoomMerger(60, 0);
  push(m, { s: 3, k: Kind.Danmaku, u: 'a', t: 1, x: 'c' });
  push(m, { s: 1, k: Kind.Danmaku, u: 'a', t: 1, x: 'a' });
  push(m, { s: 2, k: Kind.Gift, u: 'b', t: 1, g: 'rose', a: 1 });
  const out = m.drain(0);
  t.equal(out.shed, 0);
  t.same(out.kept.map((k) => (decode(k.data) as RoomItem).s), [1, 2, 3]);
  t.equal(m.size, 0);
});

t.test('merger - over the cap sheds danmaku evenly but never gifts or notices', async (t) => {
  const m = new RoomMerger(10, 0); // a bucket of 10
  let seq = 0;
  for (let i = 0; i < 100; i++) {
    push(m, { s: ++seq, k: Kind.Danmaku, u: `u${i}`, t: 0, x: 'x' });
    if (i % 10 === 0) push(m, { s: ++seq, k: Kind.Gift, u: 'g', t: 0, g: 'rocket', a: 1 });
  }
  push(m, { s: ++seq, k: Kind.Notice, u: '', t: 0, x: 'hello' });
  const out = m.drain(0);
  const items = out.kept.map((k) => decode(k.data) as RoomItem);
  t.equal(items.filter((i) => i.k === Kind.Gift).length, 10, 'all gifts kept');
  t.equal(items.filter((i) => i.k === Kind.Notice).length, 1, 'notice kept');
  const danmaku = items.filter((i) => i.k === Kind.Danmaku);
  t.equal(danmaku.length, 10, 'danmaku capped at the bucket');
  t.equal(out.shed, 90);
  t.equal(out.shedItems.length, 90, 'the shed items are handed back');
  const all = [...out.kept, ...out.shedItems].filter((p) => p.head.kind === Kind.Danmaku).map((p) => p.head.seq);
  t.equal(new Set(all).size, 100, 'kept and shed split the danmaku: each once');
  t.ok(out.shedItems.every((p) => p.head.kind === Kind.Danmaku), 'only danmaku are shed');
  const senders = new Set(danmaku.map((d) => d.u));
  t.equal(senders.size, 10, 'sampled across the batch, not the first ten');
  t.ok(!senders.has('u1') || !senders.has('u2'), 'not simply the head of the batch');
});

t.test('merger - the cap refills over time', async (t) => {
  const m = new RoomMerger(10, 0);
  for (let i = 1; i <= 10; i++) push(m, { s: i, k: Kind.Danmaku, u: 'u', t: 0, x: 'x' });
  t.equal(m.drain(0).shed, 0);
  push(m, { s: 11, k: Kind.Danmaku, u: 'u', t: 0, x: 'x' });
  t.equal(m.drain(50).shed, 1, 'half a token after 50 ms at 10/s');
  push(m, { s: 12, k: Kind.Danmaku, u: 'u', t: 0, x: 'x' });
  t.equal(m.drain(150).shed, 0, 'a token after 150 ms');
});

t.test('merger - likes are aggregated into one item with the total and the highest seq', async (t) => {
  const m = new RoomMerger(60, 0);
  push(m, { s: 1, k: Kind.Like, u: 'a', t: 10, a: 1 });
  push(m, { s: 2, k: Kind.Like, u: 'b', t: 11, a: 5 });
  push(m, { s: 3, k: Kind.Danmaku, u: 'c', t: 12, x: 'x' });
  push(m, { s: 4, k: Kind.Like, u: 'd', t: 13, a: 2 });
  const items = m.drain(20).kept.map((k) => decode(k.data) as RoomItem);
  t.same(items.map((i) => [i.s, i.k]), [[3, Kind.Danmaku], [4, Kind.Like]]);
  t.equal(items[1]!.a, 8);
  t.equal(items[1]!.t, 13, 'the newest receive time: the total as of t (and the delay metric measures from it)');
  // a single like is passed through as it was
  push(m, { s: 5, k: Kind.Like, u: 'e', t: 30, a: 1 });
  const one = m.drain(40).kept.map((k) => decode(k.data) as RoomItem);
  t.equal(one[0]!.u, 'e');
});

t.test('merger - unsequenced items (s 0) come after the sequenced ones, in arrival order', async (t) => {
  const m = new RoomMerger(60, 0);
  push(m, { s: 0, k: Kind.Gift, u: 'backend', t: 1, g: 'first', a: 1 });
  push(m, { s: 5, k: Kind.Danmaku, u: 'a', t: 1, x: 'five' });
  push(m, { s: 0, k: Kind.Danmaku, u: 'a', t: 1, x: 'second' });
  push(m, { s: 4, k: Kind.Danmaku, u: 'a', t: 1, x: 'four' });
  const out = m.drain(0);
  t.same(out.kept.map((k) => (decode(k.data) as RoomItem).s), [4, 5, 0, 0]);
  t.same(out.kept.slice(2).map((k) => (decode(k.data) as RoomItem).g ?? (decode(k.data) as RoomItem).x), ['first', 'second']);
});

t.test('merger - a shed-first kind gets only the budget the sampled kinds left; a new never-shed kind is one row', async (t) => {
  // A table with two more rows: join notices (shed first) and a paid "super chat" (never shed).
  const kinds = (id: number) =>
    id === 8
      ? { ...KINDS[0]!, id: 8, name: 'enter', display: 'shed_first' as const }
      : id === 9
        ? { ...KINDS[0]!, id: 9, name: 'super_chat', display: 'keep' as const }
        : KINDS.find((k) => k.id === id);
  const m = new RoomMerger(10, 0, kinds);
  const item = (s: number, k: number): PendingItem => ({ head: { seq: s, kind: k, time: 1, amount: 1 }, data: encodeItem({ s, k, u: 'a', t: 1, x: `${k}` }) });
  let s = 0;
  for (let i = 0; i < 6; i++) m.push(item(++s, Kind.Danmaku));
  for (let i = 0; i < 8; i++) m.push(item(++s, 8));
  for (let i = 0; i < 20; i++) m.push(item(++s, 9));
  const { kept, shed } = m.drain(0);
  const count = (k: number) => kept.filter((p) => p.head.kind === k).length;
  t.equal(count(Kind.Danmaku), 6, 'danmaku first, under the cap');
  t.equal(count(8), 4, 'the shed-first kind takes what is left of the budget of 10');
  t.equal(count(9), 20, 'the never-shed kind is all there, over the cap');
  t.equal(shed, 4);
  m.push(item(++s, 8));
  t.equal(m.drain(0).kept.length, 0, 'with the budget spent, a shed-first item is shed before anything else');
});

/** Pushes `n` items of `kind` from seq `from`; returns the next seq. */
function fill(m: RoomMerger, kind: number, n: number, from: number, t = 0): number {
  for (let i = 0; i < n; i++) m.push({ head: { seq: from + i, kind, time: t, amount: 1 }, data: encodeItem(kind === Kind.Gift ? { s: from + i, k: kind, u: 'g', t, g: 'rose', a: 1 } : kind === Kind.Like ? { s: from + i, k: kind, u: 'l', t, a: 1 } : { s: from + i, k: kind, u: 'd', t, x: 'x' }) });
  return from + n;
}

const count = (items: readonly PendingItem[], kind: number) => items.filter((p) => p.head.kind === kind).length;

t.test('merger - degraded at level 3 (cap / 4): gifts and notices all kept, danmaku shed to the lower cap and counted as degraded', async (t) => {
  const m = new RoomMerger(60, 0);
  m.setDegrade({ capPerSec: 15, sumLikes: true, windowMs: 400 }, 1000, 0);
  let s = fill(m, Kind.Danmaku, 100, 1);
  s = fill(m, Kind.Gift, 40, s);
  push(m, { s: s++, k: Kind.Notice, u: '', t: 0, x: 'notice' });
  const out = m.drain(0);
  t.equal(count(out.kept, Kind.Gift), 40, 'every gift');
  t.equal(count(out.kept, Kind.Notice), 1, 'the notice');
  t.equal(count(out.kept, Kind.Danmaku), 15, 'danmaku at the lowered cap');
  t.equal(out.shed, 85);
  t.equal(out.degraded, 45, 'the configured cap (60) would have kept 45 more: those are shed by the degradation');
  t.equal(out.shedItems.length, 85);
});

t.test('merger - degraded: likes are summed over a second, not per batch, and the total is kept', async (t) => {
  let clock = 0;
  const m = new RoomMerger(60, 0, undefined, () => clock);
  m.setDegrade({ capPerSec: 60, sumLikes: true, windowMs: 100 }, 1000, 0);
  let s = 1;
  let total = 0;
  const likes: PendingItem[] = [];
  // likes arrive from 50 ms on, drains every 100 ms (the window), the first at 100
  for (let at = 100; at < 1100; at += 100) {
    clock = at - 50;
    s = fill(m, Kind.Like, 3, s, clock);
    total += 3;
    s = fill(m, Kind.Danmaku, 1, s, clock);
    if (at === 100) t.equal(m.heldUntil, null, 'nothing held before the first drain');
    clock = at;
    const out = m.drain(at);
    t.equal(count(out.kept, Kind.Danmaku), 1, `the danmaku of ${at} ms goes out at once`);
    const like = out.kept.filter((p) => p.head.kind === Kind.Like);
    if (at < 1000) {
      t.equal(like.length, 0, `no like item at ${at} ms`);
      t.equal(m.heldUntil, 1050, 'held until a second after the first like arrived (50 ms), not after the drain that held it');
      t.ok(m.size > 0, 'the held likes count as waiting');
    } else likes.push(...like);
  }
  // the drain at 1000 is within one window (100 ms) of 1050: the next would be 50 ms late
  t.equal(likes.length, 1, 'one like item for the second, at the last drain before it is due');
  t.equal((decode(likes[0]!.data) as RoomItem).a, total, 'the total of the second');
  t.equal(likes[0]!.head.time, 950, 'the newest like\'s receive time: the total as of t');
  t.equal((decode(likes[0]!.data) as RoomItem).t, 950);
  t.equal(likes[0]!.head.seq, s - 2, 'the highest seq of its likes');
  t.equal(m.heldUntil, null);
  t.equal(m.size, 0);
  // the next hold starts with the next like's arrival
  clock = 1500;
  fill(m, Kind.Like, 1, s, 1500);
  t.equal(m.drain(1550).kept.length, 0);
  t.equal(m.heldUntil, 2500);
  t.equal(m.drain(2399).kept.length, 0, 'a drain more than a window before it is due keeps them');
  t.equal(m.drain(2400).kept.length, 1, 'a drain one window before it is due sends them');
});

t.test('merger - degraded: a drain with release sends held likes at once, and the room stays degraded', async (t) => {
  let clock = 0;
  const m = new RoomMerger(60, 0, undefined, () => clock);
  m.setDegrade({ capPerSec: 15, sumLikes: true, windowMs: 400 }, 1000, 0);
  let s = fill(m, Kind.Like, 4, 1);
  t.equal(m.drain(0).kept.length, 0, 'held');
  s = fill(m, Kind.Like, 2, s);
  const out = m.drain(10, true);
  t.equal(out.kept.length, 1, 'held and pending likes as one item');
  t.equal((decode(out.kept[0]!.data) as RoomItem).a, 6);
  t.equal(m.heldUntil, null);
  fill(m, Kind.Danmaku, 30, s);
  t.equal(count(m.drain(20).kept, Kind.Danmaku), 15, 'still at the lowered cap');
  clock = 30;
  fill(m, Kind.Like, 1, 100);
  t.equal(m.drain(30).kept.length, 0, 'likes are held again');
});

t.test('merger - degraded: shed-first kinds are shed entirely, even with budget left', async (t) => {
  const kinds = (id: number) => (id === 8 ? { ...KINDS[0]!, id: 8, name: 'enter', display: 'shed_first' as const } : KINDS.find((k) => k.id === id));
  const m = new RoomMerger(60, 0, kinds);
  m.setDegrade({ capPerSec: 60, sumLikes: true, windowMs: 100 }, 1000, 0);
  for (let i = 1; i <= 5; i++) m.push({ head: { seq: i, kind: 8, time: 0, amount: 1 }, data: encodeItem({ s: i, k: Kind.Danmaku, u: 'a', t: 0, x: 'x' }) });
  const out = m.drain(0);
  t.equal(out.kept.length, 0);
  t.equal(out.shed, 5);
  t.equal(out.degraded, 5, 'the configured cap had room for them: all five are the degradation\'s');
});

t.test('merger - back to normal: held likes go out with the next drain, the configured bucket returns as it would stand', async (t) => {
  const m = new RoomMerger(60, 0, undefined, () => 0);
  m.setDegrade({ capPerSec: 15, sumLikes: true, windowMs: 400 }, 1000, 0);
  let s = fill(m, Kind.Like, 4, 1);
  s = fill(m, Kind.Danmaku, 10, s);
  const first = m.drain(0);
  t.equal(count(first.kept, Kind.Like), 0, 'likes held');
  t.equal(count(first.kept, Kind.Danmaku), 10, 'lowered bucket: 15 -> 5; the configured one: 60 -> 50');
  // 100 ms later: the lowered bucket would hold 6.5, the configured one 56
  m.setDegrade(null, 1000, 100);
  s = fill(m, Kind.Danmaku, 60, s);
  const out = m.drain(100);
  t.equal(count(out.kept, Kind.Like), 1, 'the held likes, with the next drain');
  t.equal((decode(out.kept.find((p) => p.head.kind === Kind.Like)!.data) as RoomItem).a, 4);
  t.equal(count(out.kept, Kind.Danmaku), 56, 'the configured bucket as it would stand (not the lowered one, not a full one)');
  t.equal(out.degraded, 0);
  // a second later the bucket holds the configured 60 again
  fill(m, Kind.Danmaku, 70, s);
  const after = m.drain(2000);
  t.equal(count(after.kept, Kind.Danmaku), 60);
  t.equal(after.degraded, 0);
});

t.test('merger - level 1 keeps the configured cap: nothing is counted as degraded shedding', async (t) => {
  const m = new RoomMerger(10, 0);
  m.setDegrade({ capPerSec: 10, sumLikes: true, windowMs: 100 }, 1000, 0);
  fill(m, Kind.Danmaku, 30, 1);
  const out = m.drain(0);
  t.equal(out.shed, 20);
  t.equal(out.degraded, 0, 'the configured cap sheds the same');
});
