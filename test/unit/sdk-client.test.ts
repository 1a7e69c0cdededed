// The SDK client against a scripted fake WebSocket (no server): the connect URL (token, since),
// close-code handling (reconnect to the next URL with backoff, 'failed' without a reconnect),
// the WELCOME timeout, BATCH frames of another room ignored, ERROR 15 on a superseded JOIN,
// and copies of a room item and of a MESSAGE emitted once.

import t from 'tap';
import type { DanmakuClient } from '../../src/sdk/index.js';
import { FakeSocket, fakeClient, record } from '../helpers/sdk-support.js';
import { waitFor } from '../helpers/server.js';

function client(opts: Record<string, unknown> = {}): DanmakuClient {
  return fakeClient(opts);
}

const latest = () => FakeSocket.all.at(-1)!;

t.test('sdk client - the URL carries token and since (latest, then the cursor); guests neither', async (t) => {
  const c = client({ token: () => 'TOK' });
  t.teardown(() => c.close());
  await waitFor(() => FakeSocket.all.length === 1, 1000, 'a socket');
  const u = new URL(latest().url);
  t.same([u.host, u.searchParams.get('token'), u.searchParams.get('since')], ['a.test', 'TOK', 'latest']);
  latest().accept();
  t.equal(c.state, 'open');
  latest().serverClose(1012);
  t.equal(c.state, 'reconnecting');
  await waitFor(() => FakeSocket.all.length === 2, 1000, 'the reconnect');
  t.equal(new URL(latest().url).host, 'b.test', 'the next URL');
  const guest = client({ inboxCursor: 42 });
  t.teardown(() => guest.close());
  t.same([...new URL(latest().url).searchParams.keys()], [], 'a guest: no token, no since');
  const kept = client({ token: 'T', inboxCursor: 1_767_225_600_124 });
  t.teardown(() => kept.close());
  t.equal(new URL(latest().url).searchParams.get('since'), '1767225600124');
});

t.test("sdk client - 4502 with a static token, 4503, 1003: 'failed', no reconnect; with a token function 4502 reconnects", async (t) => {
  for (const code of [4502, 4501, 4503, 4504, 1003, 1009]) {
    const c = client({ token: 'static' });
    const r = record(c);
    latest().serverClose(code, 'why');
    t.equal(c.state, 'failed', `${code}: failed`);
    t.same(r.states.at(-1), { state: 'failed', detail: { code, reason: 'why' } });
    await new Promise((res) => setTimeout(res, 60));
    t.equal(FakeSocket.all.length, 1, `${code}: no reconnect`);
    c.close();
  }
  let calls = 0;
  const c = client({ token: () => `t${++calls}` });
  await waitFor(() => FakeSocket.all.length === 1, 1000, 'a socket');
  latest().serverClose(4502);
  await waitFor(() => FakeSocket.all.length === 2, 1000, 'the reconnect');
  t.equal(calls, 2);
  t.equal(new URL(latest().url).searchParams.get('token'), 't2', 'with the new token');
  c.close();
});

t.test('sdk client - no WELCOME within requestTimeoutMs: dropped, the next URL tried', async (t) => {
  const c = client({ requestTimeoutMs: 50 });
  t.teardown(() => c.close());
  const r = record(c);
  await waitFor(() => FakeSocket.all.length === 2, 2000, 'the second try');
  t.match(r.states[0], { state: 'reconnecting', detail: { reason: 'no WELCOME within 50 ms' } });
  t.equal(new URL(latest().url).host, 'b.test');
});

t.test('sdk client - rooms: a superseded JOIN, an old room BATCH ignored, copies by s dropped, online', async (t) => {
  const c = client({ token: 'T' });
  t.teardown(() => c.close());
  const r = record(c);
  const ws = latest();
  ws.accept();
  const first = c.join('a').catch((e: unknown) => e);
  const second = c.join('b');
  const joinA = ws.sent.find((f) => f[0] === 10 && f[2]?.room === 'a')!;
  const joinB = ws.lastRequest(10)!;
  t.same(joinB[2], { room: 'b' });
  t.match(await first, { code: 15 }, 'join(a) superseded by join(b)');
  ws.push(9, joinA[1], { code: 15, reason: 'superseded', message: 'x' });
  ws.push(30, 0, { r: 'a', s: 0, d: [{ s: 1, k: 1, u: 'x', t: 1, x: 'old room' }] });
  ws.push(11, joinB[1], { room: 'b', online: 2, seq: 4, epoch: 'EPOCH', replay: [{ s: 4, k: 1, u: 'x', t: 1, x: 'replayed' }] });
  const info = await second;
  t.match(info, { room: 'b', online: 2, seq: 4, epoch: 'EPOCH', resumed: false, replayed: 1 });
  ws.push(30, 0, { r: 'b', s: 3, n: 7, d: [{ s: 4, k: 1, u: 'x', t: 1, x: 'replayed' }, { s: 5, k: 3, u: 'x', t: 2, g: 'rose', a: 1 }, { s: 0, k: 9, u: 'x', t: 3 }] });
  t.same(r.items.map((i) => [i.item.s, i.meta.room, i.meta.replay]), [[4, 'b', true], [5, 'b', false], [0, 'b', false]], 'the old room ignored, the copy dropped, an unknown kind passed as item');
  t.equal(c.online, 7);
  // after a drop: the resume carries since and epoch
  ws.serverClose(1006);
  await waitFor(() => FakeSocket.all.length === 2, 1000, 'the reconnect');
  latest().accept();
  t.same(latest().lastRequest(10)![2], { room: 'b', since: 5, epoch: 'EPOCH' });
});

t.test('sdk client - a MESSAGE resent is emitted once and acknowledged every time; SEND retried with its id after ERROR 30', async (t) => {
  const c = client({ token: 'T', ackDelayMs: 5 });
  t.teardown(() => c.close());
  const r = record(c);
  const ws = latest();
  ws.accept();
  const msg = { to: 'alice', s: 1, u: 'bob', n: 'Bob', t: 1, x: 'hi', id: 'MSGID0123456789A' };
  ws.push(32, 0, msg);
  ws.push(32, 0, msg);
  await waitFor(() => ws.sent.some((f) => f[0] === 33), 1000, 'the RECEIVED');
  t.same(ws.lastRequest(33)![2], { ids: ['MSGID0123456789A'] }, 'one id for both copies');
  ws.push(32, 0, msg);
  await waitFor(() => ws.sent.filter((f) => f[0] === 33).length === 2, 1000, 'a RECEIVED for the later copy');
  t.same(r.messages.map((m) => [m.m.x, m.via]), [['hi', 'live']]);

  c.join('room').catch(() => undefined);
  const join = ws.lastRequest(10)!;
  ws.push(11, join[1], { room: 'room', online: 1, seq: 0, epoch: 'E', replay: [] });
  await new Promise((res) => setTimeout(res, 0));
  const sent = c.send('x', { id: 'fixed-1' });
  await waitFor(() => ws.sent.some((f) => f[0] === 20), 1000, 'the SEND');
  const s1 = ws.lastRequest(20)!;
  t.same(s1[2], { k: 1, x: 'x', id: 'fixed-1', room: 'room' }, 'absent fields absent');
  ws.push(9, s1[1], { code: 30, reason: 'unavailable', message: 'later' });
  await waitFor(() => ws.sent.filter((f) => f[0] === 20).length === 2, 5000, 'the retry');
  const s2 = ws.lastRequest(20)!;
  t.equal(s2[2]?.id, 'fixed-1', 'the same id');
  ws.push(21, s2[1], { s: 9, t: 5, id: 'fixed-1', dup: true });
  t.same(await sent, { s: 9, t: 5, id: 'fixed-1', dup: true, attempts: 2 });
  const refused = c.send('y');
  await waitFor(() => ws.sent.filter((f) => f[0] === 20).length === 3, 1000, 'the third SEND');
  ws.push(9, ws.lastRequest(20)![1], { code: 13, reason: 'forbidden', message: 'no' });
  await t.rejects(refused, { name: 'RequestError', code: 13, reason: 'forbidden' });
  const pending = c.send('z');
  c.close();
  await t.rejects(pending, { name: 'ClientClosedError' });
});

t.test('sdk client - GOAWAY: the next reconnect waits its reconnectMs (capped at 30 s) instead of the backoff, to the next URL; later ones back off again', async (t) => {
  const c = client({ backoff: { baseMs: 5000, maxMs: 5000 } });
  t.teardown(() => c.close());
  const delays: (number | undefined)[] = [];
  c.on('state', (s, d) => s === 'reconnecting' && delays.push(d.delayMs));
  await waitFor(() => FakeSocket.all.length === 1, 1000, 'a socket');
  latest().accept();
  latest().push(5, 0, { reconnectMs: 40, reason: 'draining' });
  latest().serverClose(1012);
  await waitFor(() => FakeSocket.all.length === 2, 1000, 'the reconnect after 40 ms (the backoff would wait up to 5 s)');
  t.same(delays, [40], 'the GOAWAY delay, not the backoff');
  t.equal(new URL(latest().url).host, 'b.test', 'the next URL');
  latest().serverClose(1006); // the attempt fails: back to the backoff
  t.equal(delays.length, 2);
  t.ok(delays[1] !== 40 && delays[1]! <= 5000, `then the backoff (${delays[1]} ms)`);
  c.close();
  const d = client();
  t.teardown(() => d.close());
  const capped: (number | undefined)[] = [];
  d.on('state', (s, x) => s === 'reconnecting' && capped.push(x.delayMs));
  await waitFor(() => FakeSocket.all.length === 1, 1000, 'a socket');
  latest().accept();
  latest().push(5, 0, { reconnectMs: 3_600_000, reason: 'draining' });
  latest().serverClose(1012);
  t.same(capped, [30_000], 'at most 30 s');
});

t.test('sdk client - a ban (LEFT rid 0, reason banned) takes the client out of its room: banned and left emitted, no JOIN on reconnect', async (t) => {
  const c = client({ token: 'T' });
  t.teardown(() => c.close());
  const ws = latest();
  ws.accept();
  const joined = c.join('r1');
  const join = ws.lastRequest(10)!;
  ws.push(11, join[1], { room: 'r1', online: 1, seq: 0, epoch: 'E', replay: [] });
  await joined;
  const banned: unknown[] = [];
  const left: unknown[] = [];
  c.on('banned', (b) => banned.push(b));
  c.on('left', (r) => left.push(r));
  ws.push(14, 0, { room: 'other', reason: 'banned' });
  t.equal(c.room, 'r1', 'a LEFT naming another room changes nothing');
  ws.push(14, 0, { room: 'r1', reason: 'banned', until: 1234 });
  t.same(banned, [{ room: 'r1', until: 1234 }]);
  t.same(left, ['r1']);
  t.equal(c.room, null, 'in no room');
  const joins = FakeSocket.all.length;
  ws.serverClose(1006);
  await waitFor(() => FakeSocket.all.length === joins + 1, 1000, 'the reconnect');
  latest().accept();
  await new Promise((r) => setTimeout(r, 50));
  t.equal(latest().lastRequest(10), undefined, 'the banned room is not joined again');
});
