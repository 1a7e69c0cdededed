// The SDK's requests against a scripted fake WebSocket: a dropped link with a request in flight
// (heartbeat watchdog, a socket already CLOSING) neither recurses nor loses the request; a sent
// SEND that lost its room is outcome-unknown, an unsent one ERROR 11; requests made before
// connect() wait for it, join() after close()/'failed' rejects at once; sends of one target go
// one at a time in call order; ERROR 32 retryMs; sendDeadlineMs; RECEIVED split at 100 ids.

import t from 'tap';
import { ClientClosedError, OutcomeUnknownError, TimeoutError, type DanmakuClient, type JoinInfo } from '../../src/sdk/index.js';
import { FakeSocket, fakeClient, record } from '../helpers/sdk-support.js';
import { sleep, waitFor } from '../helpers/server.js';

const latest = () => FakeSocket.all.at(-1)!;
const ops = (ws: FakeSocket, op: number) => ws.sent.filter((f) => f[0] === op);

/** join(room) answered with a JOINED (epoch E unless given). */
function joined(c: DanmakuClient, ws: FakeSocket, room: string, body: Record<string, unknown> = {}): Promise<JoinInfo> {
  const p = c.join(room);
  const j = ws.lastRequest(10)!;
  ws.push(11, j[1], { room, online: 1, seq: 0, epoch: 'E', replay: [], ...body });
  return p;
}

/** 'pending' if `p` has not settled within `ms`, else what it resolved or rejected with. */
async function settled<T>(p: Promise<T>, ms = 50): Promise<T | Error | 'pending'> {
  return Promise.race([p.catch((e: Error) => e), sleep(ms).then(() => 'pending' as const)]);
}

t.test('sdk requests - the heartbeat watchdog drops a link with a SEND in flight: no recursion, reconnect, the SEND sent again with its id', async (t) => {
  const c = fakeClient({ requestTimeoutMs: 100 });
  t.teardown(() => c.close());
  const r = record(c);
  const ws = latest();
  ws.accept({ heartbeat: 50 });
  await joined(c, ws, 'room');
  const sent = c.gift('rose', 1, { id: 'gift-1' });
  t.equal(ops(ws, 20).length, 1, 'the SEND is out');
  // The server says nothing more: after heartbeat + requestTimeoutMs the watchdog drops the link.
  await waitFor(() => FakeSocket.all.length === 2, 3000, 'the reconnect');
  t.match(r.states.find((s) => s.state === 'reconnecting'), { detail: { reason: /nothing from the server/ } });
  const ws2 = latest();
  ws2.accept();
  const resume = ws2.lastRequest(10)!;
  t.same(resume[2], { room: 'room', since: 0, epoch: 'E' }, 'resumed');
  t.equal(ops(ws2, 20).length, 0, 'the SEND waits for the JOINED');
  ws2.push(11, resume[1], { room: 'room', online: 1, seq: 1, epoch: 'E', recovered: true, kept: true, replay: [] });
  const again = ws2.lastRequest(20)!;
  t.equal(again[2]?.id, 'gift-1', 'the same id');
  ws2.push(21, again[1], { s: 1, t: 1, id: 'gift-1', dup: true });
  const ack = await sent;
  t.match(ack, { id: 'gift-1', dup: true, s: 1 });
  t.ok(ack.attempts >= 2, `attempts ${ack.attempts}`);
  t.equal(c.state, 'open');
});

t.test('sdk requests - a request made while the socket is CLOSING waits for the next connection (no RangeError)', async (t) => {
  const c = fakeClient();
  t.teardown(() => c.close());
  const ws = latest();
  ws.accept();
  ws.readyState = 2; // the server's close frame came, onclose not yet
  const ping = c.ping();
  t.equal(await settled(ping), 'pending', 'neither rejected nor answered');
  ws.serverClose(1012);
  await waitFor(() => FakeSocket.all.length === 2, 2000, 'the reconnect');
  const ws2 = latest();
  ws2.accept();
  const p = ws2.lastRequest(1)!;
  t.ok(p[1] >= 1, 'a PING with a rid');
  ws2.push(2, p[1], { t: 1234 });
  t.equal(await ping, 1234);
});

t.test('sdk requests - a SEND that went out and lost its room: OutcomeUnknownError; one never sent: RequestError 11', async (t) => {
  const c = fakeClient();
  t.teardown(() => c.close());
  const ws = latest();
  ws.accept();
  await joined(c, ws, 'a');
  const gift = c.gift('rose', 1, { id: 'gift-1' }).catch((e: unknown) => e);
  const queued = c.send('behind it').catch((e: unknown) => e);
  t.equal(ops(ws, 20).length, 1, 'the gift is out (the danmaku waits behind it)');
  ws.serverClose(1006); // the ACK is lost with the connection
  c.join('b').catch(() => undefined);
  const g = await gift;
  t.ok(g instanceof OutcomeUnknownError, `outcome unknown (${String(g)})`);
  t.match(g, { id: 'gift-1', room: 'a' });
  t.match(await queued, { name: 'RequestError', code: 11 }, 'never sent: not stored');

  // ERROR 20 only (refused before storing), then the switch: not stored, 11.
  await waitFor(() => FakeSocket.all.length === 2, 2000, 'the reconnect');
  const ws2 = latest();
  ws2.accept();
  const jb = ws2.lastRequest(10)!;
  ws2.push(11, jb[1], { room: 'b', online: 1, seq: 0, epoch: 'E', replay: [] });
  const limited = c.send('limited').catch((e: unknown) => e);
  ws2.push(9, ws2.lastRequest(20)![1], { code: 20, reason: 'rate_limited', message: 'slow down' });
  c.join('c').catch(() => undefined);
  t.match(await limited, { name: 'RequestError', code: 11 }, 'refused by the rate limit, then switched: not stored');
});

t.test('sdk requests - before the first connect() requests wait; after close() or failed join() rejects at once', async (t) => {
  const c = fakeClient({ autoConnect: false });
  t.teardown(() => c.close());
  const ping = c.ping();
  const join = c.join('room');
  t.equal(await settled(ping), 'pending', 'ping waits for connect()');
  t.equal(await settled(join), 'pending', 'join waits for connect()');
  t.equal(FakeSocket.all.length, 0);
  c.connect();
  const ws = latest();
  ws.accept();
  ws.push(2, ws.lastRequest(1)![1], { t: 7 });
  t.equal(await ping, 7);
  ws.push(11, ws.lastRequest(10)![1], { room: 'room', online: 1, seq: 0, epoch: 'E', replay: [] });
  t.match(await join, { room: 'room' });
  c.close();
  const afterClose = await settled(c.join('other'));
  t.ok(afterClose instanceof ClientClosedError, `join after close: ${String(afterClose)}`);
  t.ok((await settled(c.send('x'))) instanceof ClientClosedError, 'send after close');

  const f = fakeClient({ token: 'static' });
  t.teardown(() => f.close());
  f.on('error', () => undefined);
  latest().serverClose(4503);
  t.equal(f.state, 'failed');
  const afterFail = await settled(f.join('room'));
  t.ok(afterFail instanceof ClientClosedError, `join after failed: ${String(afterFail)}`);
});

t.test('sdk requests - sends of one room go one at a time in call order; a rate-limited head holds the ones behind; other targets are not held', async (t) => {
  const c = fakeClient({ token: 'T' });
  t.teardown(() => c.close());
  const ws = latest();
  ws.accept();
  ws.push(41, 0, { z: 'gzip', d: new Uint8Array(0), n: 0, cursor: 1, more: false });
  await joined(c, ws, 'room');
  const sends = [0, 1, 2].map((i) => c.send(`m${i}`));
  const msg = c.conversations.get('to:bob').send('hi bob');
  t.same(ops(ws, 20).map((f) => f[2]?.x), ['m0'], 'one SEND of the room at a time');
  t.same(ops(ws, 22).map((f) => f[2]?.x), ['hi bob'], 'the MSG of another target is not held');
  ws.push(9, ws.lastRequest(20)![1], { code: 20, reason: 'rate_limited', message: '' });
  await sleep(30);
  t.same(ops(ws, 20).map((f) => f[2]?.x), ['m0'], 'the ones behind wait for its retry');
  await waitFor(() => ops(ws, 20).length === 2, 2000, 'the retry');
  t.same(ops(ws, 20).map((f) => f[2]?.x), ['m0', 'm0'], 'the head first');
  for (let s = 1; s <= 3; s++) ws.push(21, ws.lastRequest(20)![1], { s, t: 1 });
  t.same(ops(ws, 20).map((f) => f[2]?.x), ['m0', 'm0', 'm1', 'm2'], 'then the others, in order');
  t.same((await Promise.all(sends)).map((a) => a.s), [1, 2, 3]);
  ws.push(21, ws.lastRequest(22)![1], { s: 1, t: 1 });
  t.match(await msg, { s: 1 });
});

t.test('sdk requests - ERROR 32 retryMs is honoured; sendDeadlineMs ends in TimeoutError', async (t) => {
  const c = fakeClient({ requestTimeoutMs: 5000, sendDeadlineMs: 1500 });
  t.teardown(() => c.close());
  const ws = latest();
  ws.accept();
  await joined(c, ws, 'room');
  const sent = c.send('x', { id: 'over-1' });
  const refusedAt = Date.now();
  ws.push(9, ws.lastRequest(20)![1], { code: 32, reason: 'overloaded', message: '', retryMs: 400 });
  await waitFor(() => ops(ws, 20).length === 2, 2000, 'the retry');
  const waited = Date.now() - refusedAt;
  t.ok(waited >= 395, `retried after ${waited} ms (retryMs 400)`);
  t.equal(ws.lastRequest(20)![2]?.id, 'over-1');
  // No answer to the retry: the deadline (1500 ms after the call) rejects it.
  const err = await sent.catch((e: unknown) => e);
  t.ok(err instanceof TimeoutError, `TimeoutError (${String(err)})`);
  t.ok(Date.now() - refusedAt >= 1400, 'at the deadline');
});

t.test('sdk requests - RECEIVED carries at most 100 ids: 250 MESSAGEs are acknowledged in 100 + 100 + 50', async (t) => {
  const c = fakeClient({ token: 'T', ackDelayMs: 20 });
  t.teardown(() => c.close());
  const r = record(c);
  const ws = latest();
  ws.accept();
  for (let i = 0; i < 250; i++) ws.push(32, 0, { to: 'alice', s: i + 1, u: 'bob', n: 'Bob', t: 1, x: `m${i}`, id: `id-${i}` });
  await waitFor(() => ops(ws, 33).length === 3, 2000, 'the RECEIVED frames');
  const frames = ops(ws, 33);
  t.same(frames.map((f) => (f[2]?.ids as string[]).length), [100, 100, 50]);
  t.same(frames.map((f) => f[1]), [0, 0, 0], 'rid 0');
  t.same(new Set(frames.flatMap((f) => f[2]?.ids as string[])).size, 250, 'every id once');
  t.equal(r.messages.length, 250);
});

t.test('sdk requests - an unknown mode string is refused before sending', async (t) => {
  const c = fakeClient();
  t.teardown(() => c.close());
  latest().accept();
  await joined(c, latest(), 'room');
  await t.rejects(c.send('x', { mode: 'left' as 'top' }), TypeError);
  t.equal(ops(latest(), 20).length, 0);
});
