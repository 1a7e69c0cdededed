// GET /entry with real processes: a cluster of two gateways, one of them loaded with 30
// viewers and then filled to MAX_CONNECTIONS, a registry outage, a graceful stop; the SDK
// connecting through the entry and falling back to its url; standalone mode.

import t from 'tap';
import type { DanmakuClient as RawClient } from '../../src/client/client.js';
import { entryWeight } from '../../src/gateway/entry.js';
import type { DanmakuClient } from '../../src/sdk/index.js';
import { ADMIN_SECRET, startCluster } from '../helpers/cluster.js';
import { sdkClient, stateIs } from '../helpers/sdk-support.js';
import { metricValue, startServer, waitFor, type RunningServer } from '../helpers/server.js';

t.setTimeout(120_000);

interface Listed {
  id: string;
  url: string;
  weight: number;
  connections: number;
  maxConnections: number;
  lagMs: number;
}
interface EntryReply {
  status: number;
  headers: Headers;
  body: { gateways: Listed[]; refreshMs: number } & Record<string, unknown>;
}

async function entry(g: RunningServer): Promise<EntryReply> {
  const res = await fetch(`http://127.0.0.1:${g.port}/entry`);
  return { status: res.status, headers: res.headers, body: (await res.json()) as EntryReply['body'] };
}

/** The weight the docs' formula gives for what the list says (its lag rounded: 1 either way). */
function near(g: Listed, lagLimit: number): boolean {
  return Math.abs(g.weight - entryWeight(g, lagLimit)) <= 1;
}

// Announcements every 250 ms, so that the list follows quickly; a lag limit so high that the
// lag of a shared machine leaves the weights to the connections (L = ADMIT_MAX_LAG_MS).
const LAG_LIMIT = 60_000;
const ENV = { REGISTRY_HEARTBEAT_MS: '250', REGISTRY_TTL_MS: '10000', MAX_CONNECTIONS: '40', ADMIT_MAX_LAG_MS: String(LAG_LIMIT) };

t.test('entry - a cluster lists its gateways by load: weights as the formula says, a full one out, a registry outage 503, a stopped one gone', async (t) => {
  const c = await startCluster({ gateways: 2, logics: 1, env: ENV });
  t.teardown(() => c.stop());
  const byId = (id: string) => c.gateways.find((g) => g.name === id) as RunningServer;
  const [g0, g1] = [byId('gw-0'), byId('gw-1')];
  const viewers: RawClient[] = [];
  t.teardown(() => viewers.forEach((v) => v.close()));

  const first = await entry(g0);
  t.equal(first.status, 200);
  t.equal(first.headers.get('access-control-allow-origin'), '*', 'CORS: any page may read it');
  t.equal(first.headers.get('cache-control'), 'no-store');
  t.match(first.headers.get('content-type'), /^application\/json/);
  t.equal(first.body.refreshMs, 250, 'refreshMs: the announcement period');
  t.same(first.body.gateways.map((g) => g.id).sort(), ['gw-0', 'gw-1'], 'both listed from their start');
  t.same(first.body.gateways.map((g) => g.url).sort(), [`ws://127.0.0.1:${g0.port}/`, `ws://127.0.0.1:${g1.port}/`].sort(), 'each with its own URL');

  for (let i = 0; i < 30; i++) viewers.push(await g0.connect(`v${i}`));
  let seen: EntryReply | null = null;
  await waitFor(async () => (seen = await entry(g1)).body.gateways.find((g) => g.id === 'gw-0')?.connections === 30, 10_000, 'gw-0 announced with 30 connections');
  const list = seen!.body.gateways;
  t.same(list.map((g) => g.id), ['gw-1', 'gw-0'], 'the loaded gateway comes second');
  t.match(list[1], { id: 'gw-0', connections: 30, maxConnections: 40 });
  t.ok(list.every((g) => near(g, LAG_LIMIT)), `weights as the formula says: ${JSON.stringify(list)}`);
  t.ok(list[1]!.weight >= 248 && list[1]!.weight <= 250, `gw-0: 1000 * (1 - 30/40) = 250 (${list[1]!.weight})`);
  t.ok(list[0]!.weight >= 998, `gw-1: empty (${list[0]!.weight})`);
  await waitFor(async () => JSON.stringify((await entry(g0)).body.gateways.map((g) => [g.id, g.connections])) === JSON.stringify([['gw-1', 0], ['gw-0', 30]]), 5_000, 'gw-0 answers the same');

  for (let i = 30; i < 40; i++) viewers.push(await g0.connect(`v${i}`));
  await waitFor(async () => JSON.stringify((await entry(g1)).body.gateways.map((g) => g.id)) === '["gw-1"]', 10_000, 'gw-0 out of the list at MAX_CONNECTIONS');

  // The SDK through the entry: gw-1 is the only gateway listed.
  const clients: DanmakuClient[] = [];
  t.teardown(() => clients.forEach((x) => x.close()));
  const viaEntry = sdkClient([], { entry: `http://127.0.0.1:${g0.port}/entry` });
  clients.push(viaEntry);
  await stateIs(viaEntry, 'open');
  t.equal(viaEntry.welcome?.gateway, 'gw-1', 'the SDK connected to the gateway the entry lists');

  // A registry outage: 503 with Retry-After, counted; back once Redis is.
  await c.infra.redis.stop();
  let down: EntryReply | null = null;
  await waitFor(async () => (down = await entry(g1)).status === 503, 10_000, 'a 503 while Redis is down');
  t.match(down!.headers.get('retry-after'), /^[1-5]$/, 'Retry-After in seconds');
  t.equal(down!.headers.get('access-control-allow-origin'), '*');
  t.match(down!.body, { error: /registry/ });
  t.ok(metricValue(await g1.metrics(), 'danmaku_entry_requests_total', { status: '503' }) >= 1, 'counted as 503');
  await c.infra.redis.start();
  await waitFor(async () => (await entry(g1)).status === 200, 20_000, 'the list back with Redis');
  t.ok(metricValue(await g1.metrics(), 'danmaku_entry_requests_total', { status: '200' }) >= 3, 'the answers counted as 200');

  // A graceful stop takes the gateway out at once, not when its announcement's ttl (10 s) ends.
  for (const v of viewers.splice(0, 5)) v.close();
  await waitFor(async () => (await entry(g1)).body.gateways.length === 2, 10_000, 'gw-0 back below its cap');
  const stopping = Date.now();
  t.equal(await g1.stop(), 0, 'gw-1 stopped');
  await waitFor(async () => JSON.stringify((await entry(g0)).body.gateways.map((g) => g.id)) === '["gw-0"]', 10_000, 'gw-1 gone from the list');
  t.ok(Date.now() - stopping < 8_000, 'gone before its announcement could have lapsed');
});

t.test('entry - a drain takes the gateway out of the list at once, and undrain puts it back', async (t) => {
  // Announcements a minute apart: only the drain's own announcement can change the list in time.
  const c = await startCluster({ gateways: 2, logics: 1, env: { REGISTRY_HEARTBEAT_MS: '60000', REGISTRY_TTL_MS: '180000' } });
  t.teardown(() => c.stop());
  const [g0, g1] = [c.gateways.find((g) => g.name === 'gw-0')!, c.gateways.find((g) => g.name === 'gw-1')!];
  const ids = async () => (await entry(g1)).body.gateways.map((g) => g.id).sort();
  t.same(await ids(), ['gw-0', 'gw-1'], 'both listed');
  const admin = (path: string, body?: unknown) =>
    fetch(`http://127.0.0.1:${g0.adminPort}${path}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_SECRET}` }, body: body === undefined ? undefined : JSON.stringify(body) });
  const drained = Date.now();
  t.equal((await admin('/api/gateway/drain', { notReadyMs: 0, windowMs: 0 })).status, 202, 'drain accepted');
  await waitFor(async () => JSON.stringify(await ids()) === '["gw-1"]', 4_000, 'gw-0 out of the list');
  t.ok(Date.now() - drained < 4_000, 'long before its next heartbeat (60 s) could have said so');
  t.equal((await admin('/api/gateway/undrain')).status, 200, 'undrain accepted');
  await waitFor(async () => (await ids()).length === 2, 4_000, 'gw-0 listed again');
});

t.test('entry - the SDK falls back to its url when the entry is dead', async (t) => {
  const srv = await startServer({ WEB: 'false' });
  t.teardown(() => srv.stop());
  const dead = await startServer({ WEB: 'false' });
  const deadPort = dead.port;
  await dead.stop();
  const c = sdkClient(srv.url, { entry: `http://127.0.0.1:${deadPort}/entry` });
  t.teardown(() => c.close());
  await stateIs(c, 'open');
  t.ok(c.welcome, 'connected through the url');
});

t.test('entry - standalone: the process lists itself, with PUBLIC_URL when set (WEB=false too)', async (t) => {
  const plain = await startServer({ WEB: 'false' });
  t.teardown(() => plain.stop());
  const a = await entry(plain);
  t.equal(a.status, 200);
  t.equal(a.body.gateways.length, 1);
  t.match(a.body.gateways[0], { url: `ws://127.0.0.1:${plain.port}/`, connections: 0, maxConnections: 0 });
  t.ok(near(a.body.gateways[0]!, 200), 'the weight as the formula says (L = 200 ms with ADMIT_MAX_LAG_MS=0: unit-tested in entry.test.ts)');
  const pub = await startServer({ PUBLIC_URL: 'wss://live.example.com/ws?x=1' });
  t.teardown(() => pub.stop());
  t.equal((await entry(pub)).body.gateways[0]?.url, 'wss://live.example.com/ws?x=1');
  const viaEntry = sdkClient([], { entry: `http://127.0.0.1:${plain.port}/entry` });
  t.teardown(() => viaEntry.close());
  await stateIs(viaEntry, 'open');
  t.ok(viaEntry.welcome, 'the SDK connects through a standalone entry');
});

t.test('entry - a bad PUBLIC_URL stops the start with a clear message', async (t) => {
  for (const bad of ['http://x.example/', 'not a url', 'wss://user:pw@x.example/']) {
    await t.rejects(startServer({ PUBLIC_URL: bad }), /PUBLIC_URL must be/, bad);
  }
});
