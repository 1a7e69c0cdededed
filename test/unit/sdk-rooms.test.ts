// The SDK's rooms and rid-0 frames against a scripted fake WebSocket: a plain JOIN answered with
// epoch '' is sent again with backoff until an epoch comes (and a resume the same way); a->b->a
// resumes `a`; a refused LEAVE is sent again; ERROR 11 to several SENDs rejoins once; an
// unsolicited JOINED (rid 0) resets the room; the heartbeat PING has a rid; a rid-0 ERROR
// SYNCs only while the INBOX push is awaited.

import t from 'tap';
import type { DanmakuClient, JoinInfo } from '../../src/sdk/index.js';
import { FakeSocket, fakeClient, record } from '../helpers/sdk-support.js';
import { sleep, waitFor } from '../helpers/server.js';

const latest = () => FakeSocket.all.at(-1)!;
const ops = (ws: FakeSocket, op: number) => ws.sent.filter((f) => f[0] === op);
const item = (s: number, x = `i${s}`) => ({ s, k: 1, u: 'u', t: s, x });

function joined(c: DanmakuClient, ws: FakeSocket, room: string, body: Record<string, unknown> = {}): Promise<JoinInfo> {
  const p = c.join(room);
  const j = ws.lastRequest(10)!;
  ws.push(11, j[1], { room, online: 1, seq: 0, epoch: 'E', replay: [], ...body });
  return p;
}

t.test("sdk rooms - a plain JOIN answered with epoch '' is sent again, 1 s then 2 s (+-25%), until a JOINED has an epoch; a resume likewise keeps its since", async (t) => {
  const c = fakeClient();
  t.teardown(() => c.close());
  const r = record(c);
  const ws = latest();
  ws.accept();
  const first = await joined(c, ws, 'room', { epoch: '' });
  t.equal(first.epoch, '');
  const t0 = Date.now();
  await waitFor(() => ops(ws, 10).length === 2, 3000, 'the second JOIN');
  const gap1 = Date.now() - t0;
  t.ok(gap1 >= 700 && gap1 <= 1600, `asked again after ${gap1} ms`);
  t.same(ws.lastRequest(10)![2], { room: 'room' }, 'plain: no epoch known');
  ws.push(30, 0, { r: 'room', s: 0, d: [item(5, 'live')] });
  ws.push(11, ws.lastRequest(10)![1], { room: 'room', online: 1, seq: 0, epoch: '', replay: [] });
  const t1 = Date.now();
  await waitFor(() => ops(ws, 10).length === 3, 4000, 'the third JOIN');
  const gap2 = Date.now() - t1;
  t.ok(gap2 >= 1400 && gap2 <= 3000, `then after ${gap2} ms (backoff)`);
  ws.push(11, ws.lastRequest(10)![1], { room: 'room', online: 1, seq: 6, epoch: 'E1', replay: [item(5, 'live'), item(6)] });
  t.same(r.items.map((i) => i.item.x), ['live', 'i6'], 'the live item once');
  await sleep(1400);
  t.equal(ops(ws, 10).length, 3, 'no more JOINs once an epoch came');

  // A resume answered '' keeps its since while live items arrive.
  ws.serverClose(1006);
  await waitFor(() => FakeSocket.all.length === 2, 2000, 'the reconnect');
  const ws2 = latest();
  ws2.accept();
  t.same(ws2.lastRequest(10)![2], { room: 'room', since: 6, epoch: 'E1' });
  ws2.push(11, ws2.lastRequest(10)![1], { room: 'room', online: 1, seq: 0, epoch: '', replay: [] });
  ws2.push(30, 0, { r: 'room', s: 0, d: [item(9)] });
  await waitFor(() => ops(ws2, 10).length === 2, 3000, 'the resume again');
  t.same(ws2.lastRequest(10)![2], { room: 'room', since: 6, epoch: 'E1' }, 'the same since');
  ws2.push(11, ws2.lastRequest(10)![1], { room: 'room', online: 1, seq: 9, epoch: 'E1', recovered: true, kept: true, replay: [item(7), item(8), item(9)] });
  t.same(r.items.map((i) => i.item.x), ['live', 'i6', 'i9', 'i7', 'i8'], 'what the outage hid, once');
});

t.test('sdk rooms - a->b->a resumes a with its since and epoch: nothing emitted twice', async (t) => {
  const c = fakeClient();
  t.teardown(() => c.close());
  const r = record(c);
  const ws = latest();
  ws.accept();
  await joined(c, ws, 'a', { seq: 3, epoch: 'EA', replay: [item(1), item(2), item(3)] });
  await joined(c, ws, 'b', { seq: 1, epoch: 'EB', replay: [item(1, 'b1')] });
  const p = c.join('a');
  t.same(ws.lastRequest(10)![2], { room: 'a', since: 3, epoch: 'EA' }, 'a resume');
  ws.push(11, ws.lastRequest(10)![1], { room: 'a', online: 1, seq: 4, epoch: 'EA', recovered: true, kept: true, replay: [item(2), item(3), item(4)] });
  t.match(await p, { room: 'a', resumed: true, recovered: true, replayed: 1 });
  t.same(r.items.map((i) => `${i.meta.room}:${i.item.x}`), ['a:i1', 'a:i2', 'a:i3', 'b:b1', 'a:i4']);
});

t.test('sdk rooms - a LEAVE refused with ERROR 21 is sent again; left once', async (t) => {
  const c = fakeClient();
  t.teardown(() => c.close());
  const lefts: (string | null)[] = [];
  c.on('left', (room) => lefts.push(room));
  const ws = latest();
  ws.accept();
  await joined(c, ws, 'room');
  let done = false;
  const leaving = c.leave().then(() => (done = true));
  ws.push(9, ws.lastRequest(13)![1], { code: 21, reason: 'flood', message: '' });
  await waitFor(() => ops(ws, 13).length === 2, 2000, 'the LEAVE again');
  t.equal(done, false, 'not left yet');
  ws.push(14, ws.lastRequest(13)![1], { room: 'room' });
  await leaving;
  t.same(lefts, ['room']);
  t.equal(c.room, null);
});

t.test('sdk rooms - ERROR 11 to queued SENDs: one JOIN again, then they go in order', async (t) => {
  const c = fakeClient();
  t.teardown(() => c.close());
  const ws = latest();
  ws.accept();
  await joined(c, ws, 'room');
  const sends = [0, 1, 2].map((i) => c.send(`m${i}`));
  ws.push(9, ws.lastRequest(20)![1], { code: 11, reason: 'not_in_room', message: '' });
  await sleep(50);
  t.equal(ops(ws, 10).length, 2, 'one JOIN again');
  ws.push(11, ws.lastRequest(10)![1], { room: 'room', online: 1, seq: 0, epoch: 'E', replay: [] });
  await waitFor(() => ops(ws, 20).length === 2, 2000, 'the SEND again');
  for (let s = 1; s <= 3; s++) ws.push(21, ws.lastRequest(20)![1], { s, t: 1 });
  t.same((await Promise.all(sends)).map((a) => a.s), [1, 2, 3]);
  t.same(ops(ws, 20).map((f) => f[2]?.x), ['m0', 'm0', 'm1', 'm2']);
  t.equal(ops(ws, 10).length, 2, 'still one JOIN again');
});

t.test('sdk rooms - an unsolicited JOINED (rid 0) resets the room: seqs forgotten, its replay shown', async (t) => {
  const c = fakeClient();
  t.teardown(() => c.close());
  const r = record(c);
  const ws = latest();
  ws.accept();
  await joined(c, ws, 'room', { seq: 5, replay: [item(5)] });
  ws.push(30, 0, { r: 'room', s: 0, d: [item(6)] });
  ws.push(11, 0, { room: 'room', online: 3, seq: 2, epoch: 'E2', replay: [item(1, 'new1'), item(2, 'new2')] });
  t.match(r.joins.at(-1), { room: 'room', reset: true, resumed: false, epoch: 'E2', replayed: 2 });
  ws.push(30, 0, { r: 'room', s: 0, d: [item(3, 'new3'), item(5, 'new5')] });
  t.same(r.items.map((i) => i.item.x), ['i5', 'i6', 'new1', 'new2', 'new3', 'new5'], 'seq 5 of the new numbering is not a copy');
  ws.serverClose(1006);
  await waitFor(() => FakeSocket.all.length === 2, 2000, 'the reconnect');
  latest().accept();
  t.same(latest().lastRequest(10)![2], { room: 'room', since: 5, epoch: 'E2' });
});

t.test('sdk rooms - the heartbeat PING has a rid; a rid-0 ERROR SYNCs only while the INBOX push is awaited', async (t) => {
  const c = fakeClient({ token: 'T', inboxCursor: 5, requestTimeoutMs: 5000 });
  t.teardown(() => c.close());
  const r = record(c);
  const ws = latest();
  ws.accept({ heartbeat: 40 });
  await waitFor(() => ops(ws, 1).length >= 1, 2000, 'a heartbeat PING');
  const ping = ops(ws, 1)[0]!;
  t.ok(ping[1] >= 1, `PING rid ${ping[1]}`);
  ws.push(2, ping[1], { t: 1 });
  // The push failed: out_of_retention -> SYNC without a cursor.
  ws.push(9, 0, { code: 40, reason: 'out_of_retention', message: '' });
  await waitFor(() => ops(ws, 40).length === 1, 2000, 'the SYNC');
  t.same(ops(ws, 40)[0]![2], undefined, 'no cursor');
  ws.push(41, ops(ws, 40)[0]![1], { z: 'gzip', d: new Uint8Array(0), n: 0, cursor: 9, more: false });
  // Later rid-0 ERRORs (a refused RECEIVED, flood): an error event, no SYNC.
  ws.push(9, 0, { code: 21, reason: 'flood', message: '' });
  ws.push(9, 0, { code: 3, reason: 'bad_field', message: 'ids' });
  await sleep(100);
  t.equal(ops(ws, 40).length, 1, 'no more SYNC');
  t.same(r.errors.map((e) => (e as { code?: number }).code), [40, 21, 3]);
});
