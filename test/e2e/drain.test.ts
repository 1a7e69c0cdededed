// Draining a gateway (docs/cluster.md, "Draining a gateway") with real clients and the real
// server process: on SIGTERM it is not ready while it still serves and admits, then it moves
// its clients spread over the window (GOAWAY, then 1012), refuses upgrades with 503 draining,
// and exits 0; a second SIGTERM skips the rest; SDK clients in a cluster move to the other
// gateway and resume, a gift sent during the drain reaching each exactly once; and the admin
// API's drain without exit (a share, or all until undrain).

import { connect } from 'node:net';
import t, { type Test } from 'tap';
import WebSocket from 'ws';
import { decode, encodeFrame } from '../../src/protocol/codec.js';
import { Op } from '../../src/protocol/ops.js';
import type { DanmakuClient } from '../../src/sdk/index.js';
import { FAST, startCluster } from '../helpers/cluster.js';
import { rawUpgrade } from '../helpers/raw-ws.js';
import { metricValue, sleep, startServer, waitFor, type RunningServer } from '../helpers/server.js';
import { ReliableClient } from '../helpers/reliable-client.js';
import { record, sdkClient } from '../helpers/sdk-support.js';

t.setTimeout(120_000);

const ADMIN = 'danmaku-dev-admin-secret';

/** A raw viewer of a room: every frame's op and time, the GOAWAY body, the close code and time. */
interface Viewer {
  readonly ws: WebSocket;
  readonly frames: { op: number; at: number; body: Record<string, unknown> }[];
  closed: { code: number; at: number } | null;
}

async function viewer(srv: RunningServer, room: string): Promise<Viewer> {
  const ws = new WebSocket(srv.url);
  const v: Viewer = { ws, frames: [], closed: null };
  ws.on('message', (data: Buffer) => {
    const [op, , body] = decode(data) as [number, number, Record<string, unknown>];
    v.frames.push({ op, at: Date.now(), body });
  });
  ws.on('close', (code) => (v.closed = { code, at: Date.now() }));
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(encodeFrame(Op.Join, 1, { room }));
  await waitFor(() => v.frames.some((f) => f.op === Op.Joined), 10_000, 'JOINED');
  return v;
}

async function viewers(srv: RunningServer, n: number, room: string): Promise<Viewer[]> {
  const out: Viewer[] = [];
  for (let i = 0; i < n; i += 50) out.push(...(await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => viewer(srv, room)))));
  return out;
}

async function readyz(srv: RunningServer): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${srv.metricsPort}/readyz`);
  await res.arrayBuffer();
  return res.status;
}

async function admin(srv: RunningServer, method: string, path: string, body?: unknown, secret = ADMIN): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${srv.adminPort}${path}`, { method, headers: { authorization: `Bearer ${secret}` }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The upgrade's HTTP status line and body (101 for a WebSocket). */
async function upgradeStatus(srv: RunningServer): Promise<{ status: number; head: string; body: string }> {
  const up = await rawUpgrade(srv.port, '/');
  let body = up.rest;
  if (up.status !== 101 && body.length === 0) {
    // The body may come in a segment of its own.
    body = await new Promise<Buffer>((resolve) => {
      const timer = setTimeout(() => resolve(Buffer.alloc(0)), 1000);
      up.socket.once('data', (d: Buffer) => (clearTimeout(timer), resolve(d)));
      up.socket.resume();
    });
  }
  up.socket.destroy();
  return { status: up.status, head: up.head, body: up.status === 101 ? '' : body.toString('utf8') };
}

/** Every viewer got one GOAWAY (rid 0, reconnectMs in [0, 25), reason draining) as its last frame, then close 1012. */
function checkMoved(t: Test, vs: readonly Viewer[], what: string): void {
  const bad = vs.filter((v) => {
    const last = v.frames.at(-1);
    const goaways = v.frames.filter((f) => f.op === Op.GoAway);
    const ms = Number(last?.body.reconnectMs);
    return v.closed?.code !== 1012 || goaways.length !== 1 || last?.op !== Op.GoAway || last.body.reason !== 'draining' || !(ms >= 0 && ms < 25) || last.at > v.closed.at;
  });
  t.equal(bad.length, 0, `${what}: each got GOAWAY {reconnectMs in [0, 25), reason draining} as its last frame, then close 1012 (${bad.length} did not)`);
}

t.test('drain - SIGTERM: not ready while serving and admitting, then closes spread over the window, GOAWAY before 1012, upgrades refused 503 draining, exit 0', async (t) => {
  const srv = await startServer({ ...FAST, DRAIN_NOT_READY_MS: '1000', DRAIN_WINDOW_MS: '2000' });
  t.teardown(() => srv.stop());
  const vs = await viewers(srv, 200, 'live');
  const pusher = await srv.connect('pusher');
  await pusher.join('live');
  t.equal(await readyz(srv), 200, 'ready before');

  const signalled = Date.now();
  srv.proc.kill('SIGTERM');
  await waitFor(async () => (await readyz(srv)) === 503, 1000, '/readyz 503');
  t.comment(`/readyz 503 ${Date.now() - signalled} ms after SIGTERM`);
  t.equal(metricValue(await srv.metrics(), 'danmaku_drain_state'), 1, 'drain state 1: not ready');
  // Still serving: a danmaku sent now reaches every viewer before any is closed.
  const sentAt = Date.now();
  await pusher.send({ k: 1, x: 'during the not-ready window' });
  await waitFor(() => vs.every((v) => v.frames.some((f) => f.op === Op.Batch && f.at >= sentAt)), 5000, 'the BATCH at every viewer');
  t.ok(vs.every((v) => v.closed === null), 'nobody closed yet');
  // Still admitting.
  const late = await viewer(srv, 'live');
  t.ok(late.frames.some((f) => f.op === Op.Joined && f.body.room === 'live'), 'an upgrade in the not-ready window is admitted, and joins');
  t.ok(Date.now() - signalled < 1000, `all within the not-ready window (${Date.now() - signalled} ms)`);

  await waitFor(() => vs.some((v) => v.closed !== null), 3000, 'the first close');
  const refused = await upgradeStatus(srv);
  t.equal(refused.status, 503, 'moving: an upgrade is refused 503');
  t.match(refused.head, /Retry-After: \d/i, 'with Retry-After');
  t.match(refused.body, /^draining/, 'its body names the reason, draining (protocol.md)');
  t.equal(metricValue(await srv.metrics(), 'danmaku_drain_state'), 2, 'drain state 2: moving');
  t.equal(await srv.exited, 0, 'exit 0');
  const all = [...vs, late];
  t.ok(all.every((v) => v.closed !== null), 'every viewer closed');
  checkMoved(t, all, 'SIGTERM');
  const times = all.map((v) => v.closed!.at).sort((a, b) => a - b);
  const first = times[0]! - signalled;
  const spread = times.at(-1)! - times[0]!;
  t.comment(`closes from ${first} ms after SIGTERM, over ${spread} ms`);
  t.ok(first >= 900, `the first close after the not-ready window (${first} ms)`);
  t.ok(spread >= 1000, `closes spread over at least half the 2000 ms window (${spread} ms)`);
  // 201 over 80 ticks: about 2.5 per 25 ms, 10 per 100 ms. A stalled loop catches up in a burst: allow 4x.
  const per100 = new Map<number, number>();
  for (const at of times) per100.set(Math.floor((at - times[0]!) / 100), (per100.get(Math.floor((at - times[0]!) / 100)) ?? 0) + 1);
  const peak = Math.max(...per100.values());
  t.comment(`closes per 100 ms: peak ${peak}, buckets ${[...per100.values()].join(' ')}`);
  t.ok(peak <= 40, `no burst: at most 40 closes in any 100 ms (${peak})`);
  pusher.close();
});

t.test('drain - a second SIGTERM skips what remains of the windows: every client moved at once, exit 0', async (t) => {
  const srv = await startServer({ DRAIN_NOT_READY_MS: '5000', DRAIN_WINDOW_MS: '20000' });
  t.teardown(() => srv.stop());
  const vs = await viewers(srv, 20, 'r');
  srv.proc.kill('SIGTERM');
  await waitFor(async () => (await readyz(srv)) === 503, 1000, '/readyz 503');
  await sleep(200);
  t.ok(vs.every((v) => v.closed === null), 'in the not-ready window: nobody closed');
  const again = Date.now();
  srv.proc.kill('SIGTERM');
  t.equal(await srv.exited, 0, 'exit 0');
  const took = Date.now() - again;
  t.ok(took < 4000, `exited ${took} ms after the second signal (not after the 25 s of windows)`);
  checkMoved(t, vs, 'second signal');
  t.ok(srv.logs.some((l) => l.msg === 'second signal: moving every connection now'), 'logged');
});

t.test('drain - admin API: share 0.5 moves about half and stays ready; share 1 stays drained until undrain; bad requests 400/401/409', async (t) => {
  const srv = await startServer();
  t.teardown(() => srv.stop());
  t.equal((await admin(srv, 'GET', '/api/gateway/drain')).body.state, 'serving');
  const vs = await viewers(srv, 40, 'r');

  const half = await admin(srv, 'POST', '/api/gateway/drain', { share: 0.5, windowMs: 500 });
  t.equal(half.status, 202, 'share 0.5: 202');
  t.match(half.body, { connections: 40, moving: 20, windowMs: 500, notReadyMs: 0, share: 0.5 }, 'the plan');
  t.equal((await admin(srv, 'POST', '/api/gateway/drain', { share: 0.5 })).status, 409, 'a second drain while one runs: 409');
  t.equal(await readyz(srv), 200, 'stays ready while rebalancing');
  t.equal((await upgradeStatus(srv)).status, 101, 'and admitting');
  await waitFor(async () => (await admin(srv, 'GET', '/api/gateway/drain')).body.state === 'serving', 5000, 'back to serving');
  // The server is back to serving once it has sent the last close; that close reaches its
  // client a moment later (seen in CI: 19 of 20 at the state change), so wait for the frames,
  // then a little longer to see that no more than the plan's 20 were closed.
  await waitFor(() => vs.filter((v) => v.closed !== null).length >= 20, 3000, 'the 20 closes to arrive').catch(() => {});
  await sleep(150);
  const moved = vs.filter((v) => v.closed !== null);
  t.equal(moved.length, 20, 'half of them moved');
  checkMoved(t, moved, 'share 0.5');
  const stayed = vs.filter((v) => v.closed === null);

  const full = await admin(srv, 'POST', '/api/gateway/drain', { windowMs: 300, notReadyMs: 300 });
  t.equal(full.status, 202, 'share 1: 202');
  t.match(full.body, { connections: 20, moving: 20, windowMs: 300, notReadyMs: 300, share: 1 });
  t.equal(await readyz(srv), 503, 'not ready at once');
  t.equal((await upgradeStatus(srv)).status, 101, 'still admitting in the not-ready window');
  await waitFor(async () => (await admin(srv, 'GET', '/api/gateway/drain')).body.state === 'drained', 5000, 'drained');
  await waitFor(() => stayed.every((v) => v.closed !== null), 3000, 'the last closes to arrive').catch(() => {});
  t.ok(stayed.every((v) => v.closed !== null), 'everyone moved');
  checkMoved(t, stayed, 'share 1');
  const state = await admin(srv, 'GET', '/api/gateway/drain');
  t.match(state.body, { state: 'drained', connections: 0, plan: { share: 1, by: 'admin' } });
  t.equal(await readyz(srv), 503, 'stays not ready');
  t.equal((await upgradeStatus(srv)).status, 503, 'and refusing');
  const m = await srv.metrics();
  t.equal(metricValue(m, 'danmaku_drain_state'), 3, 'drain state 3');
  t.ok(metricValue(m, 'danmaku_drain_moved_total') >= 40, `danmaku_drain_moved_total ${metricValue(m, 'danmaku_drain_moved_total')}`);
  t.ok(metricValue(m, 'danmaku_connections_closed_total', { reason: 'draining' }) >= 40, 'closed_total{reason="draining"}');
  t.equal((await admin(srv, 'POST', '/api/gateway/drain', {})).status, 409, 'drained: drain again is 409');

  const undrained = await admin(srv, 'POST', '/api/gateway/undrain');
  t.equal(undrained.status, 200, 'undrain: 200');
  t.equal(undrained.body.state, 'serving');
  t.equal(await readyz(srv), 200, 'ready again');
  t.equal((await upgradeStatus(srv)).status, 101, 'admitting again');
  t.equal(metricValue(await srv.metrics(), 'danmaku_drain_state'), 0, 'drain state 0');

  // A rebalance that is over before the answer (window 0; nobody connected): the plan all the same.
  const now0 = await admin(srv, 'POST', '/api/gateway/drain', { share: 0.4, windowMs: 0 });
  t.equal(now0.status, 202, 'a rebalance done at once: 202, not 500');
  t.match(now0.body, { connections: 0, moving: 0, windowMs: 0, share: 0.4 });
  const few = await viewers(srv, 4, 'r2');
  const instant = await admin(srv, 'POST', '/api/gateway/drain', { share: 0.5, windowMs: 0 });
  t.equal(instant.status, 202, 'window 0 with clients: 202');
  t.match(instant.body, { connections: 4, moving: 2, windowMs: 0 });
  await waitFor(() => few.filter((v) => v.closed !== null).length === 2, 3000, 'two of four moved at once');
  t.equal((await admin(srv, 'GET', '/api/gateway/drain')).body.state, 'serving', 'and serving');

  for (const [body, what] of [
    [{ share: 0 }, 'share 0'],
    [{ share: 1.5 }, 'share above 1'],
    [{ share: '0.5' }, 'share a string'],
    [{ windowMs: -1 }, 'negative window'],
    [{ windowMs: 1.5 }, 'fractional window'],
    [{ notReadyMs: 600_001 }, 'not-ready too long'],
    [{ shares: 1 }, 'unknown field'],
  ] as const) {
    const r = await admin(srv, 'POST', '/api/gateway/drain', body);
    t.equal(r.status, 400, `${what}: 400 (${String(r.body.error)})`);
  }
  const notJson = await fetch(`http://127.0.0.1:${srv.adminPort}/api/gateway/drain`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` }, body: '{' });
  t.equal(notJson.status, 400, 'not JSON: 400');
  t.equal((await admin(srv, 'POST', '/api/gateway/drain', {}, 'wrong-secret-0123456789')).status, 401, 'wrong secret: 401');
  t.equal((await admin(srv, 'PUT', '/api/gateway/drain', {})).status, 405, 'wrong method: 405');
  t.equal(metricValue(await srv.metrics(), 'danmaku_admin_requests_total', { route: 'gateway_drain', status: '400' }), 8, 'counted by route and status');
  t.notOk(srv.logs.some((l) => Number(l.level) >= 50), 'nothing logged at error level');
  t.equal((await admin(srv, 'GET', '/api/gateway/drain')).body.state, 'serving', 'still serving: the bad requests changed nothing');

  // A client that goes away mid-body: a 400 counted, no error-level log, nothing changed.
  const cut = connect(srv.adminPort!, '127.0.0.1');
  await new Promise((r) => cut.once('connect', r));
  cut.write(`POST /api/gateway/drain HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN}\r\nContent-Length: 100\r\n\r\n{"share":`);
  await sleep(100);
  cut.destroy();
  await waitFor(async () => metricValue(await srv.metrics(), 'danmaku_admin_requests_total', { route: 'gateway_drain', status: '400' }) >= 1, 3000, 'the cut request counted as 400');
  t.notOk(srv.logs.some((l) => (l.level as number) >= 50), 'nothing logged at error level');
  t.equal((await admin(srv, 'GET', '/api/gateway/drain')).body.state, 'serving', 'still serving');
});

t.test('drain - SDK clients in a cluster move to the other gateway and resume (recovered); a gift and a direct message sent during the drain reach each exactly once', async (t) => {
  const c = await startCluster({ gateways: 2, logics: 1, env: { ...FAST, DRAIN_NOT_READY_MS: '300', DRAIN_WINDOW_MS: '1500' } });
  t.teardown(() => c.stop());
  const byId = (id: string) => c.gateways.find((g) => g.name === id) as RunningServer;
  const [g0, g1] = [byId('gw-0'), byId('gw-1')];
  const clients: DanmakuClient[] = [];
  t.teardown(() => clients.forEach((x) => x.close()));
  const sender = sdkClient(g1.url, { token: g1.token('sender') });
  clients.push(sender);
  await sender.join('live');
  const watchers = Array.from({ length: 20 }, (_, i) => sdkClient([g0.url, g1.url], { token: g0.token(`v${i}`) }));
  clients.push(...watchers);
  const recs = watchers.map(record);
  await Promise.all(watchers.map((w) => w.join('live')));
  t.ok(watchers.every((w) => w.welcome?.gateway === 'gw-0'), 'every viewer on gw-0');
  // The tests' own client (an independent implementation of the contract) moves too.
  const reliable = new ReliableClient({ name: 'reliable', gateways: [g0.url, g1.url], token: g0.token('reliable') });
  t.teardown(() => reliable.close());
  reliable.join('live');
  await reliable.ready();

  g0.proc.kill('SIGTERM');
  // Gifts all through the drain: before, during and after the viewers' moves.
  const gifts: number[] = [];
  // And direct messages to five of the viewers, acknowledged to the sender while they move.
  const dms: string[] = [];
  const until = Date.now() + 2500;
  for (let i = 0; Date.now() < until; i++) {
    gifts.push((await sender.gift('rose')).s);
    if (i % 5 === 0) {
      const text = `dm ${dms.length}`;
      await Promise.all([0, 1, 2, 3, 4].map((v) => sender.conversations.get({ to: `v${v}` }).send(text)));
      dms.push(text);
    }
    await sleep(50);
  }
  t.equal(await g0.exited, 0, 'gw-0 exits 0');
  await waitFor(() => watchers.every((w) => w.state === 'open' && w.welcome?.gateway === 'gw-1' && recs[watchers.indexOf(w)]!.joins.length >= 2), 20_000, 'every viewer back on gw-1, joined');
  const last = gifts.at(-1)!;
  await waitFor(() => recs.every((r) => r.items.some((i) => i.item.s === last)), 10_000, 'the last gift everywhere');
  for (const [i, r] of recs.entries()) {
    const resume = r.joins[1]!;
    const got = r.items.filter((x) => x.item.k === 3).map((x) => x.item.s);
    const missing = gifts.filter((s) => !got.includes(s));
    const twice = got.length - new Set(got).size;
    const drop = r.states.find((s) => s.state === 'reconnecting')!;
    if (!resume.recovered || missing.length > 0 || twice > 0 || drop.detail.code !== 1012 || drop.detail.delayMs! >= 25) {
      t.fail(`viewer ${i}: recovered ${resume.recovered}, ${missing.length} of ${gifts.length} gifts missing, ${twice} twice, close ${drop.detail.code} waited ${drop.detail.delayMs} ms`);
    }
  }
  t.pass(`20 viewers: resumed on gw-1 (recovered), each of the ${gifts.length} gifts once, after close 1012 and the GOAWAY's delay`);
  // Chat is not lost either: each acknowledged message reaches its viewer once (live, or synced from the inbox after the move).
  await waitFor(() => [0, 1, 2, 3, 4].every((v) => dms.every((x) => recs[v]!.messages.some((m) => m.m.x === x))), 10_000, 'every direct message at its viewer');
  for (const v of [0, 1, 2, 3, 4]) {
    const got = recs[v]!.messages.map((m) => m.m.x).filter((x) => x.startsWith('dm '));
    t.same([...got].sort(), [...dms].sort(), `v${v}: each of the ${dms.length} direct messages once (${recs[v]!.messages.map((m) => m.via).join(',')})`);
  }
  const moves = recs.map((r) => r.states.find((s) => s.state === 'reconnecting')!);
  t.ok(moves.every((s) => s.detail.code === 1012), 'closed with 1012');
  await waitFor(() => reliable.inRoom && reliable.url === g1.url, 10_000, 'the reliable client back in the room on gw-1');
  const drop = reliable.drops[0]!;
  t.ok(drop.code === 1012 && drop.goAway !== null && drop.goAway >= 0 && drop.goAway < 25, `reliable client: GOAWAY (${drop.goAway} ms) then 1012 (${drop.code})`);
  await waitFor(() => reliable.shown.some((x) => x.s === last), 10_000, 'the last gift at the reliable client');
  const rgifts = reliable.shown.filter((x) => x.k === 3).map((x) => x.s);
  t.same(gifts.filter((s) => !rgifts.includes(s)), [], 'reliable client: every gift');
  t.equal(rgifts.length, new Set(rgifts).size, 'reliable client: none twice');
});
