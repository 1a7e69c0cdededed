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
  t.equal(items[1]!.t, 10, 'the earliest receive time, for the delay metric');
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
