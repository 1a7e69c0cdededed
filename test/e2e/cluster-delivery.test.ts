// Cluster mode, delivery paths: room subjects fanned out at the gateways, and group and user
// messages fanned out to UIDs by the logic service. Real nats-server, redis-server and server
// processes, started on loopback by the test helpers.

import { connect } from '@nats-io/transport-node';
import { pack, Packr } from 'msgpackr';
import t from 'tap';
import { RequestFailed, type DanmakuClient } from '../../src/client/client.js';
import { Errors } from '../../src/protocol/errors.js';
import { Kind } from '../../src/protocol/kinds.js';
import { FAST, items, startCluster } from '../helpers/cluster.js';
import { metricValue, sleep, waitFor, type RunningServer } from '../helpers/server.js';


function messages(c: DanmakuClient): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  c.on('message', (m: Record<string, unknown>) => out.push(m));
  return out;
}

const roomReceived = async (gw: RunningServer) => metricValue(await gw.metrics(), 'danmaku_bus_received_total', { kind: 'room' });
const registered = async (gw: RunningServer) => metricValue(await gw.metrics(), 'danmaku_registry_users');

t.test('cluster - a room on two gateways gets every message once, in order; a third gateway receives none of it', async (t) => {
  const c = await startCluster({ gateways: 3, logics: 2, env: FAST });
  t.teardown(() => c.stop());
  const [g0, g1, g2] = c.gateways as [RunningServer, RunningServer, RunningServer];
  const senders = [await g0.connect('s0'), await g1.connect('s1')];
  const viewers = [await g0.connect(), await g0.connect(), await g1.connect(), await g1.connect()];
  for (const v of [...senders, ...viewers]) await v.join('stage');
  const elsewhere = await g2.connect();
  await elsewhere.join('other-room');
  const got = viewers.map((v) => items(v));
  // Sequential sends: each is published before its ACK, so delivery order is seq order.
  for (let i = 0; i < 20; i++) await senders[i % 2]!.send({ k: Kind.Danmaku, x: `m${i}`, id: `seq-${i}` });
  await waitFor(() => got.every((g) => g.length >= 20), 5000, 'sequential deliveries');
  // Concurrent sends through both logic processes: exactly once each, whatever the order.
  await Promise.all(Array.from({ length: 40 }, (_, i) => senders[i % 2]!.send({ k: Kind.Danmaku, x: `c${i}`, id: `con-${i}` })));
  await waitFor(() => got.every((g) => g.length >= 60), 5000, 'concurrent deliveries');
  await sleep(200);
  for (const [i, g] of got.entries()) {
    t.same(g.slice(0, 20).map((it) => it.s), Array.from({ length: 20 }, (_, j) => j + 1), `viewer ${i}: sequential sends in seq order`);
    t.same(g.map((it) => it.s).sort((a, b) => a - b), Array.from({ length: 60 }, (_, j) => j + 1), `viewer ${i}: every seq exactly once`);
  }
  t.equal(await roomReceived(g2), 0, 'the gateway with no member of the room received none of its messages');
  t.ok((await roomReceived(g0)) > 0, 'the member gateways did (several items may share one bus message)');
  const logicsHandled = await Promise.all(c.logics.map(async (l) => metricValue(await l.metrics(), 'danmaku_upstream_messages_total', { kind: 'danmaku', result: 'accepted' })));
  t.equal(logicsHandled.reduce((a, b) => a + b, 0), 60, `both logic processes served the queue group (${logicsHandled.join(' + ')})`);
  for (const v of [...senders, ...viewers, elsewhere]) v.close();
});

t.test('cluster - switching rooms across gateways keeps isolation; the last member leaving unsubscribes the gateway', async (t) => {
  const c = await startCluster({ gateways: 2, logics: 1, env: FAST });
  t.teardown(() => c.stop());
  const [g0, g1] = c.gateways as [RunningServer, RunningServer];
  const sender = await g0.connect('sender');
  await sender.join('a');
  const viewer = await g1.connect();
  await viewer.join('a');
  const inA = items(viewer, 'a');
  await sender.send({ k: Kind.Danmaku, x: 'before' });
  await waitFor(() => inA.length === 1, 3000, 'the first item');
  await viewer.switchTo('b');
  const leaked = items(viewer, 'a');
  const receivedAtSwitch = await roomReceived(g1);
  for (let i = 0; i < 10; i++) await sender.send({ k: Kind.Danmaku, x: `after-${i}` });
  const inB = items(viewer, 'b');
  const b0 = await g0.connect('b-sender');
  await b0.join('b');
  await b0.send({ k: Kind.Danmaku, x: 'hello b' });
  await waitFor(() => inB.length === 1, 3000, 'the room-b item');
  t.same(leaked, [], 'nothing of room a after the switch reply');
  t.equal(await roomReceived(g1), receivedAtSwitch + 1, 'g1 got only the room-b item: it unsubscribed from room a');
  t.equal(metricValue(await g1.metrics(), 'danmaku_rooms'), 1);
  for (const x of [sender, viewer, b0]) x.close();
});

t.test('cluster - a room item published on the room subject by a plain NATS client reaches the room', async (t) => {
  const c = await startCluster({ gateways: 2, logics: 1, env: FAST });
  t.teardown(() => c.stop());
  const viewers = [await c.gateways[0]!.connect(), await c.gateways[1]!.connect()];
  for (const v of viewers) await v.join('live-1');
  const got = viewers.map((v) => items(v));
  // What a site's backend does, in any language: MessagePack a room item, publish it.
  const nc = await connect({ servers: c.infra.natsUrl });
  nc.publish('danmaku.room.live-1', pack({ s: 0, k: Kind.Gift, u: 'backend', n: 'Sponsor', t: Date.now(), g: 'rocket', a: 3 }));
  await nc.flush();
  await nc.close();
  await waitFor(() => got.every((g) => g.length === 1), 3000, 'the pushed item');
  for (const g of got) t.match(g[0], { s: 0, k: Kind.Gift, g: 'rocket', a: 3, n: 'Sponsor' });
  for (const v of viewers) v.close();
});

t.test('cluster - invalid room items from a backend are dropped and counted; valid ones with 64-bit integers pass', async (t) => {
  const c = await startCluster({ gateways: 1, logics: 1, env: FAST });
  t.teardown(() => c.stop());
  const gw = c.gateways[0]!;
  const viewer = await gw.connect();
  await viewer.join('live-2');
  const got = items(viewer);
  const nc = await connect({ servers: c.infra.natsUrl });
  const subject = 'danmaku.room.live-2';
  const base = { s: 0, k: Kind.Notice, u: '', t: Date.now(), x: 'hello' };
  const deep = Buffer.concat([Buffer.from([0x81, 0xa1, 0x78]), Buffer.alloc(3000, 0x91), Buffer.from([0xc0])]);
  const bad: [string, Uint8Array][] = [
    ['s = 1e12', pack({ ...base, s: 1e12 })],
    ['3,000-deep', deep],
    ['bin text', pack({ ...base, x: Buffer.from('hi') })],
    ['unknown kind', pack({ ...base, k: 99 })],
    ['unknown field', pack({ ...base, extra: 1 })],
  ];
  for (const [, bytes] of bad) nc.publish(subject, bytes);
  // A valid one whose t and s are 64-bit integers, as a Go or Java backend sends them.
  const packer = new Packr({ useRecords: false, useBigIntExtension: false });
  nc.publish(subject, packer.pack({ ...base, s: 0n, t: BigInt(Date.now()), x: 'from Go' }));
  await nc.flush();
  await nc.close();
  await waitFor(() => got.length === 1, 3000, 'the valid item');
  t.match(got[0], { k: Kind.Notice, x: 'from Go' });
  const m = await gw.metrics();
  const dropped = ['bad_item', 'bad_item_kind', 'bad_item_field', 'bad_item_seq'].reduce((n, reason) => n + metricValue(m, 'danmaku_dropped_total', { reason }), 0);
  t.equal(dropped, bad.length, 'each invalid item is counted with a reason');
  t.equal(metricValue(m, 'danmaku_dropped_total', { reason: 'bad_item_seq' }), 1);
  t.same(gw.logs.filter((l) => (l.level as number) >= 50), [], 'nothing at error level');
  const joined = await (await gw.connect()).join('live-2');
  t.ok((joined.body.seq as number) < 1e6, 'the bogus seq did not pin JOINED.seq');
  viewer.close();
});

t.test('cluster - group and user messages reach every connection of each recipient once, and nobody else', async (t) => {
  const c = await startCluster({ gateways: 2, logics: 2, env: FAST });
  t.teardown(() => c.stop());
  const [g0, g1] = c.gateways as [RunningServer, RunningServer];
  const created = await c.api('PUT', '/api/groups/fans', { members: ['alice', 'bob', 'carol'] });
  t.same([created.status, created.body], [201, { group: 'fans', created: true, added: 3 }]);
  const alice = [await g0.connect('alice'), await g0.connect('alice')];
  const bob = await g1.connect('bob');
  const carol = await g1.connect('carol');
  const dave = [await g0.connect('dave'), await g1.connect('dave')];
  await waitFor(async () => (await registered(g0)) === 2 && (await registered(g1)) === 3, 3000, 'registry entries');
  const inbox = { alice0: messages(alice[0]!), alice1: messages(alice[1]!), bob: messages(bob), carol: messages(carol), dave0: messages(dave[0]!), dave1: messages(dave[1]!) };

  const ack = await alice[0]!.message({ g: 'fans', x: 'hello fans', id: 'g-1' });
  t.match(ack.body, { s: 1, id: 'g-1' });
  await waitFor(() => inbox.carol.length === 1 && inbox.bob.length === 1 && inbox.alice1.length === 1 && inbox.alice0.length === 1, 3000, 'group deliveries');
  await sleep(200);
  for (const who of ['alice0', 'alice1', 'bob', 'carol'] as const) {
    t.same(inbox[who], [{ g: 'fans', s: 1, u: 'alice', n: 'alice', t: inbox[who][0]!.t, x: 'hello fans', id: inbox.alice0[0]!.id }], `${who} got it once`);
  }
  t.same([inbox.dave0, inbox.dave1], [[], []], 'a non-member got nothing');
  await t.rejects(dave[0]!.message({ g: 'fans', x: 'let me in' }), RequestFailed, 'a non-member cannot send to the group');
  const err = await dave[1]!.message({ g: 'fans', x: 'again' }).catch((e: RequestFailed) => e.frame.body);
  t.equal((err as { code: number }).code, Errors.NotMember.code);
  const retry = await alice[1]!.message({ g: 'fans', x: 'hello fans', id: 'g-1' });
  t.match(retry.body, { s: 1, dup: true }, 'a retry with the same id is not delivered again');

  // 1:1: the recipient's connections and the sender's own.
  await bob.message({ to: 'alice', x: 'hi alice' });
  await waitFor(() => inbox.alice0.length === 2 && inbox.alice1.length === 2 && inbox.bob.length === 2, 3000, 'direct deliveries');
  t.match(inbox.alice0[1], { to: 'alice', u: 'bob', s: 1, x: 'hi alice' });
  t.equal(inbox.carol.length, 1, 'carol is not part of it');

  // A server notice to one user, from the admin API.
  const notice = await c.api('POST', '/api/users/carol/notices', { x: 'you won' });
  t.match(notice, { status: 200, body: { to: 'carol', delivered: true, gateways: 1 } });
  await waitFor(() => inbox.carol.length === 2, 3000, 'the notice');
  t.match(inbox.carol[1], { to: 'carol', u: '', x: 'you won' });
  t.equal(inbox.dave0.length + inbox.dave1.length, 0, 'dave never got anything');

  const fanout = (await Promise.all(c.logics.map(async (l) => metricValue(await l.metrics(), 'danmaku_fanout_gateways_count')))).reduce((a, b) => a + b, 0);
  t.equal(fanout, 3, 'three fan-outs observed (group, direct, notice)');
  for (const x of [...alice, bob, carol, ...dave]) x.close();
});

t.test('cluster - the admin API refuses bad secrets and bad input with clear statuses', async (t) => {
  const c = await startCluster({ gateways: 0, logics: 1 });
  t.teardown(() => c.stop());
  const port = c.logics[0]!.adminPort;
  const noAuth = await fetch(`http://127.0.0.1:${port}/api/groups/g`, { method: 'PUT' });
  t.equal(noAuth.status, 401);
  t.equal((await c.api('PUT', '/api/groups/bad.id')).status, 400, 'bad group id');
  t.equal((await c.api('PUT', '/api/groups/g', { members: 'alice' })).status, 400, 'members not an array');
  t.equal((await c.api('GET', '/api/groups/none/members')).status, 404);
  t.equal((await c.api('POST', '/api/groups/none/members', { add: ['a'] })).status, 404);
  t.equal((await c.api('POST', '/api/groups/none/members', {})).status, 404, 'an empty update of a missing group is a 404 too');
  t.equal((await c.api('GET', '/api/groups/g')).status, 405, 'wrong method');
  t.equal((await c.api('GET', '/api/nothing')).status, 404);
  t.equal((await c.api('GET', '/api/groups/%E0%A4%A/members')).status, 400, 'malformed percent-encoding');
  t.equal((await c.api('POST', '/api/users/bob/notices', { x: '' })).status, 400, 'empty notice');
  const big = await fetch(`http://127.0.0.1:${port}/api/groups/g`, { method: 'PUT', headers: { authorization: 'Bearer test-admin-secret-0123456789' }, body: 'x'.repeat(300_000) });
  t.equal(big.status, 413);
  t.equal((await c.api('PUT', '/api/groups/g', { members: ['a', 'b'] })).status, 201);
  t.same((await c.api('POST', '/api/groups/g/members', { add: ['c'], remove: ['a'] })).body, { group: 'g', added: 1, removed: 1 });
  t.same((await c.api('GET', '/api/groups/g/members')).body, { group: 'g', members: ['b', 'c'] });
  t.equal((await c.api('DELETE', '/api/groups/g')).status, 200);
  const m = await c.logics[0]!.metrics();
  t.equal(metricValue(m, 'danmaku_admin_requests_total', { status: '401' }), 1, 'refusals are counted');
});
