// Liveness and readiness probes (/livez, /readyz on METRICS_PORT) of the real server process,
// standalone and in a cluster whose Redis and NATS go away and come back; and the admin API on
// its own port (ADMIN_PORT, loopback by default), no longer on METRICS_PORT.

import { networkInterfaces } from 'node:os';
import t from 'tap';
import type { DanmakuClient } from '../../src/client/client.js';
import { decode, encodeFrame } from '../../src/protocol/codec.js';
import { Kind } from '../../src/protocol/kinds.js';
import { Op } from '../../src/protocol/ops.js';
import { startCluster } from '../helpers/cluster.js';
import { FLOOD_ROOM } from '../helpers/flood.js';
import { RawConnection, rawUpgrade, type RawFrame } from '../helpers/raw-ws.js';
import { metricValue, sleep, startServer, waitFor, type RunningServer } from '../helpers/server.js';

interface Probe {
  readonly status: number;
  readonly body: { ready?: boolean; failing?: string[]; checks?: Record<string, string> };
}

async function readyz(srv: RunningServer): Promise<Probe> {
  const res = await fetch(`http://127.0.0.1:${srv.metricsPort}/readyz`);
  return { status: res.status, body: (await res.json()) as Probe['body'] };
}

async function status(url: string): Promise<number> {
  const res = await fetch(url);
  await res.arrayBuffer();
  return res.status;
}

/** Polls /readyz until `check` accepts an answer; resolves to it and the ms it took. */
async function readyzUntil(srv: RunningServer, check: (p: Probe) => boolean, what: string, timeoutMs = 8000): Promise<{ probe: Probe; ms: number }> {
  const started = Date.now();
  let probe: Probe | undefined;
  await waitFor(async () => check((probe = await readyz(srv))), timeoutMs, what);
  return { probe: probe!, ms: Date.now() - started };
}

const opOf = (f: RawFrame) => (f.opcode === 0x2 ? (decode(f.payload) as [number])[0] : -1);

/** A raw member of `room` that stops reading: its buffer fills, so its close frame has to wait. */
async function stuckMember(srv: RunningServer, pusher: DanmakuClient, room: string): Promise<RawConnection> {
  const up = await rawUpgrade(srv.port, `/?token=${srv.token('stuck')}`);
  if (up.status !== 101) throw new Error(`upgrade answered ${up.head}`);
  const conn = new RawConnection(up.socket, up.rest);
  await conn.until((fs) => fs.some((f) => opOf(f) === Op.Welcome));
  conn.send(encodeFrame(Op.Join, 1, { room }));
  await conn.until((fs) => fs.some((f) => opOf(f) === Op.Joined));
  conn.pause();
  // Long danmaku until uWS drops frames for it: the kernel's buffers are full, uWS's over the limit.
  const text = '語'.repeat(2000);
  for (let round = 0; round < 200; round++) {
    await Promise.all(Array.from({ length: 20 }, () => pusher.send({ k: Kind.Danmaku, x: text })));
    if (metricValue(await srv.metrics(), 'danmaku_dropped_frames_total', { reason: 'backpressure' }) > 0) return conn;
    await sleep(20);
  }
  throw new Error('the stuck member never filled its buffer');
}

t.test('health - standalone: live and ready once listening; /healthz still answers', async (t) => {
  const srv = await startServer();
  t.teardown(() => srv.stop());
  const base = `http://127.0.0.1:${srv.metricsPort}`;
  t.equal(await status(`${base}/livez`), 200, '/livez');
  t.equal(await status(`${base}/healthz`), 200, '/healthz (deprecated alias)');
  const r = await readyz(srv);
  t.equal(r.status, 200, '/readyz 200');
  t.same(r.body, { ready: true, failing: [], checks: { process: 'ok', gateway: 'ok' } }, 'ready: the process runs, the gateway listens and is not draining');
  t.equal(metricValue(await srv.metrics(), 'danmaku_ready'), 1, 'danmaku_ready 1');
});

t.test('health - standalone: SIGTERM turns /readyz 503 at once, while the gateway still holds a client; /livez stays 200; exit 0', async (t) => {
  const srv = await startServer({
    SHUTDOWN_TIMEOUT_MS: '3000',
    OUTBOUND_SOFT_LIMIT_BYTES: '16384',
    SLOW_CONSUMER_GRACE_MS: '60000', // the stuck member is not closed by the sweep first
    IDLE_TIMEOUT_MS: '60000',
    ...FLOOD_ROOM,
  });
  t.teardown(() => srv.stop());
  const pusher = await srv.connect('pusher');
  await pusher.join('busy');
  const stuck = await stuckMember(srv, pusher, 'busy');
  t.teardown(() => stuck.socket.destroy());
  t.equal((await readyz(srv)).status, 200, 'ready before the signal');

  const signalled = Date.now();
  srv.proc.kill('SIGTERM');
  const { probe, ms } = await readyzUntil(srv, (p) => p.status === 503, '/readyz 503', 1000);
  t.comment(`/readyz 503 ${ms} ms after SIGTERM`);
  t.equal(probe.body.ready, false, 'ready: false');
  t.same(probe.body.failing, ['process', 'gateway'], 'names what is not ready');
  t.same(probe.body.checks, { process: 'stopping', gateway: 'draining' }, 'and why');
  t.equal(srv.proc.exitCode, null, 'the process is still running');
  const m = await srv.metrics();
  t.equal(metricValue(m, 'danmaku_connections'), 1, 'the gateway still holds the stuck client (its close frame waits for its buffer)');
  t.equal(metricValue(m, 'danmaku_ready'), 0, 'danmaku_ready 0');
  t.equal(await status(`http://127.0.0.1:${srv.metricsPort}/livez`), 200, '/livez stays 200 while draining');
  t.equal(await status(`http://127.0.0.1:${srv.metricsPort}/readyz`), 503, 'still 503');
  t.equal(await srv.exited, 0, 'exit 0');
  t.comment(`exited ${Date.now() - signalled} ms after SIGTERM`);
  pusher.close();
});

t.test('health - admin API: on ADMIN_PORT, loopback by default, not on METRICS_PORT', async (t) => {
  // HOST on every interface: the admin API still binds loopback alone.
  const srv = await startServer({ HOST: '0.0.0.0' });
  t.teardown(() => srv.stop());
  const listening = srv.logs.find((l) => l.msg === 'listening')!;
  t.equal(listening.adminHost, '127.0.0.1', 'bound to loopback');
  t.ok(srv.adminPort > 0 && srv.adminPort !== srv.metricsPort, `a port of its own (${srv.adminPort})`);
  const notice = (port: number) =>
    fetch(`http://127.0.0.1:${port}/api/users/alice/notices`, {
      method: 'POST',
      headers: { authorization: 'Bearer danmaku-dev-admin-secret', 'content-type': 'application/json' },
      body: '{"x":"hello"}',
    });
  t.equal((await notice(srv.adminPort)).status, 200, 'the API answers on ADMIN_PORT');
  t.equal((await notice(srv.metricsPort)).status, 404, 'METRICS_PORT no longer answers /api/...');
  t.equal(await status(`http://127.0.0.1:${srv.adminPort}/metrics`), 404, 'ADMIN_PORT serves no metrics');
  const external = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  if (external) {
    const err = await fetch(`http://${external}:${srv.adminPort}/api/users/alice/notices`).then(
      () => null,
      (e: unknown) => e as Error & { cause?: { code?: string } },
    );
    t.equal(err?.cause?.code, 'ECONNREFUSED', `not reachable on ${external}`);
    t.equal(await status(`http://${external}:${srv.metricsPort}/livez`), 200, `METRICS_PORT is, on ${external} (HOST)`);
  } else {
    t.comment('no non-loopback interface to check from');
  }
});

t.test('health - admin API: disabled (no ADMIN_SECRET in production) means no admin port', async (t) => {
  const srv = await startServer({ NODE_ENV: 'production', ADMIN_SECRET: '' });
  t.teardown(() => srv.stop());
  t.equal(srv.adminPort, 0, 'no adminPort in the listening line');
  t.ok(srv.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('admin API disabled')), 'says so in the log');
});

t.test('health - cluster: ready with NATS and Redis; Redis or NATS gone turns it 503 naming them, back turns it 200', async (t) => {
  const c = await startCluster({ gateways: 1, logics: 1 });
  t.teardown(() => c.stop());
  const gw = c.gateways[0]!;
  const logic = c.logics[0]!;
  const g = await readyz(gw);
  t.equal(g.status, 200, 'gateway ready');
  t.same(g.body.checks, { process: 'ok', gateway: 'ok', 'nats.gateway': 'ok', redis: 'ok' }, 'gateway checks');
  const l = await readyz(logic);
  t.equal(l.status, 200, 'logic ready');
  t.same(l.body.checks, { process: 'ok', logic: 'ok', 'nats.logic': 'ok', redis: 'ok', 'redis.chat': 'ok' }, 'logic checks');
  t.ok(gw.adminPort > 0, 'a gateway serves the admin API (its drain routes)');
  t.ok(logic.adminPort > 0, 'a logic process does');
  t.equal(await status(`http://127.0.0.1:${gw.adminPort}/api/groups/g/members`), 404, "a gateway has no logic routes");
  t.equal(await status(`http://127.0.0.1:${logic.adminPort}/api/gateway/drain`), 404, 'a logic process no drain routes');
  t.equal(await status(`http://127.0.0.1:${logic.adminPort}/api/groups/g/members`), 401, 'on ADMIN_PORT');
  t.equal(await status(`http://127.0.0.1:${logic.metricsPort}/api/groups/g/members`), 404, 'not on METRICS_PORT');

  await c.infra.redis.stop(); // SIGKILL
  for (const p of [gw, logic]) {
    const { probe, ms } = await readyzUntil(p, (r) => r.status === 503, `${p.name} not ready without Redis`, 5000);
    t.comment(`${p.name}: 503 ${ms} ms after Redis was killed: ${JSON.stringify(probe.body.checks)}`);
    t.ok(probe.body.failing?.includes('redis'), `${p.name}: names redis`);
    t.notOk(probe.body.failing?.some((f) => f.startsWith('nats')), `${p.name}: NATS is fine`);
    t.equal(await status(`http://127.0.0.1:${p.metricsPort}/livez`), 200, `${p.name}: still live`);
    t.equal(metricValue(await p.metrics(), 'danmaku_ready'), 0, `${p.name}: danmaku_ready 0`);
  }
  await c.infra.redis.start();
  for (const p of [gw, logic]) {
    const { ms } = await readyzUntil(p, (r) => r.status === 200, `${p.name} ready again with Redis`, 8000);
    t.comment(`${p.name}: 200 ${ms} ms after Redis was back`);
  }

  await c.infra.nats.stop(); // SIGKILL
  for (const [p, name] of [[gw, 'nats.gateway'], [logic, 'nats.logic']] as const) {
    const { probe, ms } = await readyzUntil(p, (r) => r.status === 503, `${p.name} not ready without NATS`, 5000);
    t.comment(`${p.name}: 503 ${ms} ms after NATS was killed: ${JSON.stringify(probe.body.checks)}`);
    t.ok(probe.body.failing?.includes(name), `${p.name}: names ${name}`);
  }
  await c.infra.nats.start();
  for (const p of [gw, logic]) {
    const { ms } = await readyzUntil(p, (r) => r.status === 200, `${p.name} ready again with NATS`, 8000);
    t.comment(`${p.name}: 200 ${ms} ms after NATS was back`);
  }
  t.equal(metricValue(await gw.metrics(), 'danmaku_ready'), 1, 'danmaku_ready 1 again');
});
