// Rooms over real WebSocket connections against the real server process.

import t from 'tap';
import type { DanmakuClient } from '../../src/client/client.js';
import { Kind } from '../../src/protocol/kinds.js';
import { metricValue, sleep, startServer, waitFor } from '../helpers/server.js';

interface Item {
  s: number;
  k: number;
  u: string;
  x?: string;
  a?: number;
}

function collect(c: DanmakuClient): { items: Item[]; batches: { r: string; s: number }[] } {
  const out = { items: [] as Item[], batches: [] as { r: string; s: number }[] };
  c.on('batch', (b: { r: string; s: number; d: Item[] }) => {
    out.batches.push({ r: b.r, s: b.s });
    out.items.push(...b.d);
  });
  return out;
}

t.test('rooms - messages reach exactly their room, once each, in sequence order', async (t) => {
  const srv = await startServer({ USER_MESSAGE_RATE: '1000', USER_MESSAGE_BURST: '1000', CONN_FRAME_RATE: '1000' });
  t.teardown(() => srv.stop());
  const roomA = await Promise.all(['a1', 'a2', 'a3'].map((u) => srv.connect(u)));
  const roomB = await Promise.all(['b1', 'b2', 'b3'].map((u) => srv.connect(u)));
  for (const c of roomA) await c.join('room-a');
  for (const c of roomB) await c.join('room-b');
  const gotA = roomA.map(collect);
  const gotB = roomB.map(collect);
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < 30; i++) {
    sends.push(roomA[i % 3]!.send({ k: Kind.Danmaku, x: `A${i}`, id: `a-${i}` }));
    sends.push(roomB[i % 3]!.send({ k: Kind.Danmaku, x: `B${i}`, id: `b-${i}` }));
  }
  const acks = await Promise.all(sends);
  t.equal(acks.length, 60, 'every send acknowledged');
  await waitFor(() => [...gotA, ...gotB].every((g) => g.items.length >= 30), 5000, 'all deliveries');
  await sleep(150);
  for (const g of gotA) {
    t.same(g.items.map((i) => i.s), Array.from({ length: 30 }, (_, i) => i + 1), 'room-a: every seq once, in order');
    t.ok(g.items.every((i) => i.x!.startsWith('A')), 'room-a gets nothing of room-b');
    t.ok(g.batches.every((b) => b.r === 'room-a'));
  }
  for (const g of gotB) {
    t.same(g.items.map((i) => i.s), Array.from({ length: 30 }, (_, i) => i + 1));
    t.ok(g.items.every((i) => i.x!.startsWith('B')));
  }
  t.ok(gotA[0]!.batches.length < 30, `merged into ${gotA[0]!.batches.length} frames`);
  for (const c of [...roomA, ...roomB]) c.close();
});

t.test('rooms - after a switch is acknowledged, nothing of the old room arrives', async (t) => {
  const srv = await startServer({ USER_MESSAGE_RATE: '10000', USER_MESSAGE_BURST: '10000', CONN_FRAME_RATE: '10000', CONN_FRAME_BURST: '10000', MERGE_WINDOW_MS: '5' });
  t.teardown(() => srv.stop());
  const sender = await srv.connect('sender');
  await sender.join('old');
  const viewers = await Promise.all(Array.from({ length: 5 }, (_, i) => srv.connect(`v${i}`)));
  for (const v of viewers) await v.join('old');
  let stop = false;
  const pump = (async () => {
    let i = 0;
    while (!stop) {
      await Promise.all(Array.from({ length: 10 }, () => sender.send({ k: Kind.Danmaku, x: `m${i++}` })));
    }
  })();
  await sleep(100);
  const leaks: string[] = [];
  await Promise.all(
    viewers.map(async (v, i) => {
      await v.switchTo(`new-${i}`);
      // From here on, any frame about "old" is a leak.
      v.on('batch', (b: { r: string }) => {
        if (b.r === 'old') leaks.push(`v${i}`);
      });
    }),
  );
  await sleep(300);
  stop = true;
  await pump;
  t.same(leaks, [], 'no old-room batch after the switch reply');
  for (const v of viewers) v.close();
  sender.close();
});

t.test('rooms - a late joiner gets the replay window in the join reply', async (t) => {
  const srv = await startServer({ REPLAY_SIZE: '5', USER_MESSAGE_RATE: '100', USER_MESSAGE_BURST: '100' });
  t.teardown(() => srv.stop());
  const sender = await srv.connect('sender');
  await sender.join('live');
  for (let i = 1; i <= 8; i++) await sender.send({ k: Kind.Danmaku, x: `d${i}` });
  await sender.send({ k: Kind.Like });
  await sleep(200); // past the merge window: the replay holds what was sent, pending items come in the next batch
  const late = await srv.connect();
  const joined = await late.join('live');
  const replay = joined.body.replay as Item[];
  t.same(replay.map((i) => i.x), ['d4', 'd5', 'd6', 'd7', 'd8'], 'the last five danmaku, oldest first; likes are not replayed');
  t.equal(joined.body.seq, 9, 'the last sequence the gateway has seen');
  // a room that was already loaded at this gateway answers from its own window too
  const later = await srv.connect();
  t.same(((await later.join('live')).body.replay as Item[]).map((i) => i.s), [4, 5, 6, 7, 8]);
  for (const c of [sender, late, later]) c.close();
});

t.test('rooms - shedding keeps every gift and notice, aggregates likes, counts what it drops', async (t) => {
  const srv = await startServer({ ROOM_DISPLAY_CAP: '5', USER_MESSAGE_RATE: '10000', USER_MESSAGE_BURST: '10000', CONN_FRAME_RATE: '10000', CONN_FRAME_BURST: '10000', MERGE_WINDOW_MS: '100' });
  t.teardown(() => srv.stop());
  const sender = await srv.connect('sender', { roles: ['admin'] });
  await sender.join('hot');
  const viewer = await srv.connect();
  await viewer.join('hot');
  const got = collect(viewer);
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < 100; i++) {
    sends.push(sender.send({ k: Kind.Danmaku, x: `d${i}` }));
    sends.push(sender.send({ k: Kind.Like, a: 2 }));
    if (i % 10 === 0) sends.push(sender.send({ k: Kind.Gift, g: 'rocket', a: 1 }));
  }
  sends.push(sender.send({ k: Kind.Notice, x: 'stream starts now' }));
  await Promise.all(sends);
  await waitFor(() => got.items.filter((i) => i.k === Kind.Gift).length === 10 && got.items.some((i) => i.k === Kind.Notice), 5000, 'gifts');
  await sleep(300);
  const danmaku = got.items.filter((i) => i.k === Kind.Danmaku).length;
  const shed = got.batches.reduce((n, b) => n + b.s, 0);
  t.equal(got.items.filter((i) => i.k === Kind.Gift).length, 10, 'all gifts delivered');
  t.ok(danmaku < 100, `danmaku capped: ${danmaku} shown`);
  t.equal(danmaku + shed, 100, 'shown + shed (from the batches) accounts for every danmaku');
  const likes = got.items.filter((i) => i.k === Kind.Like);
  t.equal(likes.reduce((n, l) => n + (l.a ?? 0), 0), 200, 'every like counted');
  t.ok(likes.length < 100, `likes aggregated into ${likes.length} items`);
  const m = await srv.metrics();
  t.equal(metricValue(m, 'danmaku_dropped_total', { reason: 'shed' }), shed, 'shed counted in the metric');
  sender.close();
  viewer.close();
});

t.test('rooms - online counts are pushed to members', async (t) => {
  const srv = await startServer({ ONLINE_INTERVAL_MS: '100' });
  t.teardown(() => srv.stop());
  const cs = await Promise.all([srv.connect(), srv.connect(), srv.connect()]);
  for (const c of cs) await c.join('counted');
  const seen = await new Promise<{ r: string; n: number }>((resolve) => cs[0]!.on('online', (o: { r: string; n: number }) => o.n === 3 && resolve(o)));
  t.same(seen, { r: 'counted', n: 3 });
  cs[2]!.close();
  const after = await new Promise<number>((resolve) => cs[0]!.on('online', (o: { n: number }) => o.n === 2 && resolve(o.n)));
  t.equal(after, 2, 'a leaving viewer is no longer counted');
  cs[0]!.close();
  cs[1]!.close();
});

t.test('rooms - in a busy room the online count rides on a BATCH, and an unchanged count is not repeated', async (t) => {
  const srv = await startServer({ ONLINE_INTERVAL_MS: '100', MERGE_WINDOW_MS: '150', USER_MESSAGE_RATE: '1000', USER_MESSAGE_BURST: '1000', CONN_FRAME_RATE: '1000', CONN_FRAME_BURST: '1000' });
  t.teardown(() => srv.stop());
  const sender = await srv.connect('sender');
  await sender.join('busy');
  let stop = false;
  const pump = (async () => {
    while (!stop) {
      await sender.send({ k: Kind.Like });
      await sleep(10);
    }
  })();
  await sleep(300);
  const viewer = await srv.connect();
  const announced: { via: string; n: number }[] = [];
  viewer.on('frame', (f: { op: number; body: { n?: number } }) => {
    if (f.op === 31) announced.push({ via: 'online', n: f.body.n! });
    if (f.op === 30 && typeof f.body.n === 'number') announced.push({ via: 'batch', n: f.body.n });
  });
  await viewer.join('busy');
  await sleep(1500); // about 15 intervals
  stop = true;
  await pump;
  t.ok(announced.some((a) => a.via === 'batch' && a.n === 2), `the new count came in a BATCH (${JSON.stringify(announced)})`);
  t.equal(announced.filter((a) => a.via === 'online').length, 0, 'no separate ONLINE frame while items were pending');
  t.ok(announced.length <= 2, 'an unchanged count is not announced again every interval');
  viewer.close();
  sender.close();
});

t.test('rooms - a joiner counts itself in JOINED online', async (t) => {
  const srv = await startServer({ ONLINE_INTERVAL_MS: '60000' });
  t.teardown(() => srv.stop());
  const a = await srv.connect('a1');
  t.equal((await a.join('fresh')).body.online, 1, 'the first joiner sees itself');
  const b = await srv.connect('b1');
  t.equal((await b.join('fresh')).body.online, 2, 'the second sees both');
  a.close();
  b.close();
});
