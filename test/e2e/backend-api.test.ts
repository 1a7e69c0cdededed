// The backend API on a real cluster (docs/cluster.md, "Backend API"; real nats-server and
// redis-server): a room item or a notice posted with a key is answered 200 only once it is
// stored and published, and a retry with the same key gets the first result, over HTTP and
// over NATS requests; notices land in the inbox and are pushed live with an id; during a NATS
// outage and a Redis outage the API answers 503 and never a 200 for something not published;
// while Redis is down a gift SEND is refused (ERROR 30) and danmaku keep flowing.

import { connect } from '@nats-io/transport-node';
import t from 'tap';
import { RequestFailed, type DanmakuClient } from '../../src/client/client.js';
import { Errors } from '../../src/protocol/errors.js';
import { Kind } from '../../src/protocol/kinds.js';
import { Op } from '../../src/protocol/ops.js';
import { FAST, startCluster, type Cluster } from '../helpers/cluster.js';
import { ChatConn, historyAll, pollUntil, syncAll, type ChatMessage } from '../helpers/chat.js';
import { metricValue, sleep, waitFor } from '../helpers/server.js';

t.setTimeout(300_000);

/** Every gift of the tests fits the joiner's replay (the never-shed class holds 1000). */
const ENV = { ...FAST, UPSTREAM_TIMEOUT_MS: '1500', REPLAY_SIZE: '1000' };

interface Gift {
  s: number;
  k: number;
  g?: string;
  u: string;
  n?: string;
}

/** The room items a client receives from now on, by seq (a refill may bring one again). */
function collect(c: DanmakuClient, room: string): Map<number, Gift> {
  const out = new Map<number, Gift>();
  c.on('batch', (b: { r: string; d: Gift[] }) => {
    if (b.r === room) for (const it of b.d) out.set(it.s, it);
  });
  return out;
}

/** The room's items a new joiner is given in JOINED replay (the recovery window's recent ones). */
async function replayOf(c: Cluster, room: string): Promise<Gift[]> {
  const joiner = await c.gateways[0]!.connect();
  try {
    return (await joiner.join(room)).body.replay as Gift[];
  } finally {
    joiner.close();
  }
}

const post = (c: Cluster, room: string, body: Record<string, unknown>) => c.api('POST', `/api/rooms/${room}/items`, body);

async function logicMetric(c: Cluster, name: string, labels: Record<string, string>): Promise<number> {
  let sum = 0;
  for (const l of c.logics) sum += metricValue(await l.metrics(), name, labels);
  return sum;
}

t.test('backend api (cluster) - room items: retries with the same key get the first result, over HTTP and NATS; one item in the room and in the window', async (t) => {
  const c = await startCluster({ gateways: 2, logics: 2, env: ENV });
  t.teardown(() => c.stop());
  const viewer = await c.gateways[1]!.connect();
  t.teardown(() => viewer.close());
  await viewer.join('live');
  const seen = collect(viewer, 'live');

  const gift = { k: Kind.Gift, g: 'rocket', a: 3, u: 'alice', n: 'Alice', key: 'order-1' };
  const first = await post(c, 'live', gift);
  t.match(first, { status: 200, body: { room: 'live', s: Number, t: Number } }, '200 once stored and published');
  t.notOk('duplicate' in first.body);
  const s = first.body.s as number;
  const retries = await Promise.all([post(c, 'live', gift), post(c, 'live', gift), post(c, 'live', { ...gift, a: 99 })]);
  for (const r of retries) t.match(r, { status: 200, body: { room: 'live', s, duplicate: true } }, 'a retry (even with other fields): the first s, duplicate');

  const nc = await connect({ servers: c.infra.nats.url });
  t.teardown(() => nc.close());
  const request = async (subject: string, body: unknown) => (await nc.request(subject, typeof body === 'string' ? body : JSON.stringify(body), { timeout: 5000 })).json<Record<string, unknown>>();
  t.match(await request('danmaku.api.room-item', { room: 'live', ...gift }), { status: 200, room: 'live', s, duplicate: true }, 'over NATS: the same key, the same answer');

  await waitFor(() => seen.has(s), 5000, 'the gift delivered');
  const viaNats = await request('danmaku.api.room-item', { room: 'live', k: Kind.Gift, g: 'heart', key: 'order-2' });
  t.match(viaNats, { status: 200, room: 'live', s: s + 1 }, 'a new key over NATS: a new item');
  t.notOk('duplicate' in viaNats);
  const system = await post(c, 'live', { k: Kind.Notice, x: 'the draw starts now' });
  t.match(system, { status: 200, body: { s: s + 2 } }, 'a system notice without a key');
  await waitFor(() => seen.size >= 3, 5000, 'all three delivered');
  await sleep(300); // a second copy of anything would be on its way by now
  t.same(
    [...seen.values()].map((i) => [i.s, i.k, i.g ?? null, i.u, i.n ?? null]),
    [
      [s, Kind.Gift, 'rocket', 'alice', 'Alice'],
      [s + 1, Kind.Gift, 'heart', '', 'system'],
      [s + 2, Kind.Notice, null, '', 'system'],
    ],
    'each item once in the room, as posted',
  );
  const replay = await replayOf(c, 'live');
  t.same(replay.map((i) => i.s), [s, s + 1, s + 2], 'and once in the recovery window');

  // Bad input: a clear 4xx, counted, nothing posted.
  t.match(await post(c, 'live', { k: Kind.Gift }), { status: 400, body: { error: /g is required/ } });
  t.match(await post(c, 'bad.room', { k: Kind.Gift, g: 'x' }), { status: 400 });
  t.match(await post(c, 'live', { k: Kind.Gift, g: 'x', key: 'no spaces allowed' }), { status: 400, body: { error: /key/ } });
  t.match(await request('danmaku.api.room-item', '{"room": "live", oops'), { status: 400, error: /JSON/ });
  t.match(await request('danmaku.api.room-item', { k: Kind.Gift, g: 'x' }), { status: 400, error: /room is required/ });
  t.match(await request('danmaku.api.notice', { to: 'bob' }), { status: 400, error: /x/ });
  t.equal((await replayOf(c, 'live')).length, 3, 'nothing more in the window');
  t.equal(await logicMetric(c, 'danmaku_admin_requests_total', { route: 'room_item', status: '200' }), 5, 'HTTP requests counted');
  t.equal(await logicMetric(c, 'danmaku_admin_requests_total', { route: 'room_item', status: '400' }), 3);
  t.equal(await logicMetric(c, 'danmaku_admin_requests_total', { route: 'nats_room_item', status: '200' }), 2, 'NATS requests counted');
  t.equal(await logicMetric(c, 'danmaku_admin_requests_total', { route: 'nats_room_item', status: '400' }), 2);
  t.equal(await logicMetric(c, 'danmaku_admin_requests_total', { route: 'nats_user_notice', status: '400' }), 1);
  for (const l of c.logics) t.equal(l.logs.filter((e) => (e.level as number) >= 50).length, 0, `${l.name}: nothing logged at error level`);
});

t.test('backend api (cluster) - a notice is stored in the inbox and pushed live with its id; a retry with the key gets the same id', async (t) => {
  const c = await startCluster({ gateways: 2, logics: 2, env: ENV });
  t.teardown(() => c.stop());
  const gw = c.gateways[1]!;
  const bob = await ChatConn.open(gw.url, gw.token('bob'));
  t.teardown(() => bob.close());
  // Registered once a READ's UNREAD (pushed by a fresh registry lookup, as a notice is) reaches it.
  await pollUntil(async () => (await bob.request(Op.Read, { to: '', s: 0 }), bob.pushes(Op.Unread).length), (n) => n > 0, 10_000, 'bob registered');

  const first = await c.api('POST', '/api/users/bob/notices', { x: 'your gift was delivered', key: 'n-1' });
  t.match(first, { status: 200, body: { to: 'bob', s: 1, id: /^[A-Za-z0-9_-]{16}$/, delivered: true, gateways: 1 } });
  const id = first.body.id as string;
  const live = await bob.frame((f) => f.op === Op.Message && f.rid === 0);
  t.match(live.body, { to: 'bob', s: 1, u: '', n: 'system', x: 'your gift was delivered', id }, 'pushed live, with its id');
  const retry = await c.api('POST', '/api/users/bob/notices', { x: 'your gift was delivered', key: 'n-1' });
  t.same(retry, { status: 200, body: { to: 'bob', s: 1, id, duplicate: true } }, 'the retry: the first s and id');
  const nc = await connect({ servers: c.infra.nats.url });
  t.teardown(() => nc.close());
  const overNats = (await nc.request('danmaku.api.notice', JSON.stringify({ to: 'bob', x: 'your gift was delivered', key: 'n-1' }), { timeout: 5000 })).json();
  t.same(overNats, { status: 200, to: 'bob', s: 1, id, duplicate: true }, 'over NATS too');
  const second = await c.api('POST', '/api/users/bob/notices', { x: 'second' });
  t.match(second, { status: 200, body: { s: 2 } });

  const stored = await pollUntil(async () => (await syncAll(bob, 0)).messages, (m) => m.length >= 2, 15_000, 'both notices in the inbox');
  t.same(
    stored.map((m: ChatMessage) => [m.s, m.id, m.u, m.x]),
    [
      [1, id, '', 'your gift was delivered'],
      [2, second.body.id, '', 'second'],
    ],
    'SYNC: each notice once, with the live id',
  );
  t.equal(bob.pushes(Op.Message).length, 2, 'pushed once each');
  t.same((await historyAll(bob, { to: '' })).messages.map((m) => m.s), [2, 1], "HISTORY {to: ''}: the notices");
  const contacts = await bob.request(Op.Contacts, {});
  t.match(contacts.body, { total: 2, d: [{ to: '', unread: 2, last: { x: 'second' } }] }, "CONTACTS: the notices as {to: ''}, unread");
  t.match((await bob.request(Op.Read, { to: '', s: 2 })).body, { to: '', read: 2, unread: 0, total: 0 }, "READ {to: ''} clears them");
  const inbox = await c.api('GET', '/api/users/bob/inbox');
  t.same((inbox.body.entries as { message: ChatMessage }[]).map((e) => e.message.id), [id, second.body.id], 'the admin API sees them in the inbox');
  t.match((await c.api('GET', '/api/users/bob/contacts')).body, { contacts: [{ to: '', unread: 0 }] });

  const offline = await c.api('POST', '/api/users/nobody/notices', { x: 'for later' });
  t.match(offline, { status: 200, body: { to: 'nobody', s: 1, delivered: false, gateways: 0 } }, 'a user online nowhere: stored, not pushed');
});

t.test('backend api (cluster) - NATS stopped and started while items are posted: 503s, never a 200 for something not published; retries post each once', async (t) => {
  const c = await startCluster({ gateways: 1, logics: 2, env: ENV });
  t.teardown(() => c.stop());
  const viewer = await c.gateways[0]!.connect();
  t.teardown(() => viewer.close());
  await viewer.join('live');
  const seen = collect(viewer, 'live');

  interface Posted {
    readonly key: string;
    answers: { status: number; body: Record<string, unknown> }[];
  }
  const posted: Posted[] = [];
  let running = true;
  let phase: 'before' | 'down' | 'after' = 'before';
  const byPhase = { before: [] as number[], down: [] as number[], after: [] as number[] };
  const pump = (async () => {
    for (let i = 0; running; i++) {
      const p: Posted = { key: `o${i}`, answers: [] };
      posted.push(p);
      const at = phase;
      const a = await post(c, 'live', { k: Kind.Gift, g: p.key, key: p.key }).catch((err: unknown) => ({ status: 0, body: { error: String(err) } }));
      p.answers.push(a);
      byPhase[at].push(a.status);
      await sleep(20);
    }
  })();
  const count = (phase: 'before' | 'down' | 'after', status: number) => byPhase[phase].filter((s) => s === status).length;
  await waitFor(() => count('before', 200) >= 10, 10_000, '10 items posted');
  await c.infra.nats.stop();
  phase = 'down';
  await waitFor(() => count('down', 503) >= 5, 10_000, '503s while NATS is down');
  await sleep(1000);
  await c.infra.nats.start();
  phase = 'after';
  await waitFor(() => count('after', 200) >= 10, 30_000, '10 items posted after NATS came back');
  running = false;
  await pump;
  t.comment(`before: ${byPhase.before.length} posted; while down: ${JSON.stringify(Object.fromEntries([...new Set(byPhase.down)].map((s) => [s, count('down', s)])))}; after: ${byPhase.after.length}`);
  t.ok(count('down', 503) >= 5, 'NATS down: 503');
  const refused = posted.filter((p) => p.answers[0]!.status !== 200);
  t.ok(refused.every((p) => p.answers[0]!.status === 503), 'every refusal a 503 (no timeout, no 500)');
  for (const p of refused) {
    t.match(p.answers[0]!.body.error, /nothing was published|may or may not/, `${p.key}: the 503 says what is known`);
  }
  // Items answered "nothing was published" are nowhere, until retried.
  const notPublished = new Set(refused.filter((p) => /nothing was published/.test(p.answers[0]!.body.error as string)).map((p) => p.key));
  await sleep(1000); // let the gateway's refill after the reconnect run
  t.notOk([...seen.values()].some((i) => notPublished.has(i.g!)), 'no item answered "nothing was published" reached the room');

  // Retry every refused key until it is answered 200.
  for (const p of refused) {
    const a = await pollUntil(() => post(c, 'live', { k: Kind.Gift, g: p.key, key: p.key }), (a) => a.status === 200, 15_000, `${p.key} posted`);
    p.answers.push(a);
    if (notPublished.has(p.key)) t.notOk(a.body.duplicate, `${p.key}: nothing was published, so the retry posts it`);
  }
  const keys = posted.map((p) => p.key);
  // The last retry's item can still be on its way to the viewer (the merge window) when its
  // 200 arrives; the plain replay holds only what was sent. Give the live path a moment.
  await waitFor(() => keys.every((k) => [...seen.values()].some((i) => i.g === k)), 5_000, 'every item seen live').catch(() => undefined);
  const replay = await replayOf(c, 'live');
  const inRoom = new Map<string, Set<number>>();
  for (const it of [...seen.values(), ...replay]) {
    if (!inRoom.has(it.g!)) inRoom.set(it.g!, new Set());
    inRoom.get(it.g!)!.add(it.s);
  }
  const missing = keys.filter((k) => !inRoom.has(k));
  const twice = [...inRoom].filter(([, seqs]) => seqs.size > 1).map(([k]) => k);
  t.same(missing, [], 'every item answered 200 is in the room (delivered or in the window)');
  t.same(twice, [], 'and none was posted twice (one seq per key)');
  for (const p of posted) t.equal(p.answers.at(-1)!.body.s, [...inRoom.get(p.key)!][0], `${p.key}: the answer's s is the item's`);
  const unseen = keys.filter((k) => ![...seen.values()].some((i) => i.g === k));
  t.comment(`the viewer saw ${keys.length - unseen.length} of ${keys.length} items live or by its gateway's refill`);
});

t.test('backend api (cluster) - Redis stopped: the API answers 503 and publishes nothing; a gift SEND gets ERROR 30, danmaku flow unsequenced', async (t) => {
  const c = await startCluster({ gateways: 1, logics: 1, env: ENV });
  t.teardown(() => c.stop());
  const gw = c.gateways[0]!;
  const viewer = await gw.connect();
  t.teardown(() => viewer.close());
  await viewer.join('live');
  const seen = collect(viewer, 'live');
  const sender = await gw.connect('alice');
  t.teardown(() => sender.close());
  await sender.join('live');
  t.match((await sender.send({ k: Kind.Gift, g: 'before', id: 'gift-0' })).body, { s: 1 });

  await c.infra.redis.stop();
  const item = await pollUntil(() => post(c, 'live', { k: Kind.Gift, g: 'during', key: 'redis-1' }), (a) => a.status === 503, 20_000, 'a 503 while Redis is down');
  t.match(item.body.error, /nothing was published/, 'the 503 says nothing was published');
  t.match(await c.api('POST', '/api/users/bob/notices', { x: 'hi', key: 'redis-2' }), { status: 503 }, 'a notice: 503');
  const refused = await sender.send({ k: Kind.Gift, g: 'during', id: 'gift-1' }).then(
    () => null,
    (e: RequestFailed) => e.frame.body,
  );
  t.match(refused, { code: Errors.Unavailable.code }, 'a gift SEND while Redis is down: ERROR 30');
  const danmaku = await pollUntil(
    () => sender.send({ k: Kind.Danmaku, x: 'still here' }).then((f) => f.body, (e: RequestFailed) => e.frame.body),
    (b) => b.s === 0,
    10_000,
    'an unsequenced danmaku ACK',
  );
  t.match(danmaku, { s: 0 }, 'danmaku keep flowing, unsequenced');
  await sleep(500);
  t.notOk([...seen.values()].some((i) => i.g === 'during'), 'no gift of the outage reached the room');

  await c.infra.redis.start();
  const back = await pollUntil(() => post(c, 'live', { k: Kind.Gift, g: 'during', key: 'redis-1' }), (a) => a.status === 200, 20_000, 'a 200 after Redis is back');
  t.notOk(back.body.duplicate, 'the refused key is posted anew');
  const gift = await pollUntil(
    () => sender.send({ k: Kind.Gift, g: 'after', id: 'gift-1' }).then((f) => f.body, (e: RequestFailed) => e.frame.body),
    (b) => typeof b.s === 'number' && b.s > 0,
    20_000,
    'the gift acknowledged with a seq',
  );
  t.notOk(gift.dup, 'the refused id is processed anew');
  await waitFor(() => [...seen.values()].filter((i) => i.k === Kind.Gift).length === 3, 5000, 'three gifts in the room');
  t.same([...seen.values()].filter((i) => i.k === Kind.Gift).map((i) => i.g), ['before', 'during', 'after'], 'each gift once, none from the outage');
});
