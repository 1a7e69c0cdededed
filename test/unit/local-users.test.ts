import t from 'tap';
import { LocalUsers } from '../../src/gateway/local-users.js';
import { RegistryAgent } from '../../src/gateway/registry-agent.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { encode } from '../../src/protocol/codec.js';
import { decodeDelivery, encodeDelivery } from '../../src/protocol/delivery.js';
import { MemoryRegistry } from '../../src/registry/memory.js';
import { metricValue } from '../helpers/server.js';

const log = createLogger('silent');

t.test('local users - a delivery goes to every connection of each recipient; drops are left to the socket layer to count', async (t) => {
  const metrics = new Metrics({ defaultMetrics: false });
  const got: string[] = [];
  // 'full' stands for a socket over its buffer limit: uWS drops the frame and counts it in its dropped handler
  const users = new LocalUsers<string>((conn, _frame) => conn !== 'full' && got.push(conn) > 0, () => undefined, metrics, log);
  users.add('alice', 'a1');
  users.add('alice', 'full');
  users.add('bob', 'b1');
  users.nodeMessage(encodeDelivery(['alice', 'bob', 'carol'], new Uint8Array([0x93, 32, 0, 0x80])));
  t.same(got.sort(), ['a1', 'b1']);
  const m = await metrics.text();
  t.equal(metricValue(m, 'danmaku_direct_frames_delivered_total'), 2);
  t.equal(metricValue(m, 'danmaku_dropped_frames_total'), 0, 'the drop is not counted a second time here');
  t.equal(metricValue(m, 'danmaku_dropped_total'), 0);
  users.nodeMessage(new Uint8Array([1, 2, 3]));
  t.equal(metricValue(await metrics.text(), 'danmaku_dropped_total', { reason: 'bad_delivery' }), 1, 'a bad delivery is counted');
});

t.test('local users - a delivery with a push id is tracked on each connection it reached, sharing one copy of the frame', async (t) => {
  const metrics = new Metrics({ defaultMetrics: false });
  const tracked: { conn: string; id: string; frame: Uint8Array }[] = [];
  const sentFrames: Uint8Array[] = [];
  const pushes = { track: (conn: string, id: string, frame: Uint8Array) => void tracked.push({ conn, id, frame }) };
  const users = new LocalUsers<string>((conn, frame) => (sentFrames.push(frame), conn !== 'full'), () => undefined, metrics, log, pushes);
  users.add('alice', 'a1');
  users.add('alice', 'full');
  users.add('bob', 'b1');
  const frame = new Uint8Array([0x93, 32, 0, 0x80]);
  const data = encodeDelivery(['alice', 'bob', 'carol'], frame, 'msg-id-1');
  users.nodeMessage(data);
  t.same(tracked.map((x) => `${x.conn}:${x.id}`).sort(), ['a1:msg-id-1', 'b1:msg-id-1', 'full:msg-id-1'], 'tracked on every connection, the one that dropped it too (the resend is its chance)');
  t.ok(tracked.every((x) => x.frame === tracked[0]!.frame), 'one frame shared by all of them');
  t.ok(sentFrames.every((f) => f === tracked[0]!.frame), 'the same bytes that were sent');
  t.same([...tracked[0]!.frame], [...frame]);
  t.not(tracked[0]!.frame.buffer, data.buffer, 'a copy: it does not pin the buffer the delivery came in');
  tracked.length = 0;
  users.nodeMessage(encodeDelivery(['alice'], frame));
  t.equal(tracked.length, 0, 'a delivery without an id is not tracked');
  users.nodeMessage(encodeDelivery(['carol'], frame, 'msg-id-2'));
  t.equal(tracked.length, 0, 'nobody here: nothing tracked');
});

t.test('delivery - the 3-element form carries an id of 1-64 characters; the 2-element form still decodes', async (t) => {
  const frame = new Uint8Array([1, 2, 3]);
  t.same(decodeDelivery(encodeDelivery(['a'], frame)), { uids: ['a'], frame: Buffer.from(frame) });
  t.equal(decodeDelivery(encodeDelivery(['a'], frame, 'x'))?.id, 'x');
  for (const id of ['', 'x'.repeat(65), 5, null]) t.equal(decodeDelivery(encode([['a'], frame, id])), null, `id ${JSON.stringify(id)} refused`);
  t.equal(decodeDelivery(encode([['a'], frame, 'x', 'y'])), null, '4 elements refused');
});

t.test('local users - one connection, then several, then one again: counts, deliveries and change notices', async (t) => {
  const metrics = new Metrics({ defaultMetrics: false });
  const got: string[] = [];
  const changed: string[] = [];
  const users = new LocalUsers<string>((conn) => got.push(conn) > 0, (uid) => changed.push(uid), metrics, log);
  const deliver = () => {
    got.length = 0;
    users.nodeMessage(encodeDelivery(['alice'], new Uint8Array([0x93, 32, 0, 0x80])));
    return [...got].sort();
  };

  users.add('alice', 'a1');
  t.equal(users.count('alice'), 1);
  t.same(deliver(), ['a1'], 'the only connection');
  users.add('alice', 'a1');
  t.equal(users.count('alice'), 1, 'the same connection twice is one');
  users.add('alice', 'a2');
  users.add('alice', 'a3');
  t.equal(users.count('alice'), 3);
  t.same(deliver(), ['a1', 'a2', 'a3'], 'every connection');
  users.add('alice', 'a2');
  t.equal(users.count('alice'), 3, 'still three');

  users.remove('alice', 'a1');
  users.remove('alice', 'nope');
  t.equal(users.count('alice'), 2);
  users.remove('alice', 'a3');
  t.equal(users.count('alice'), 1, 'back to one');
  t.same(deliver(), ['a2']);
  users.remove('alice', 'a1');
  t.equal(users.count('alice'), 1, 'removing a connection it no longer has changes nothing');
  users.add('alice', 'a4');
  t.same(deliver(), ['a2', 'a4'], 'several again after being one');
  users.remove('alice', 'a2');
  users.remove('alice', 'a4');
  t.equal(users.count('alice'), 0);
  t.equal(users.size, 0);
  t.same(deliver(), [], 'offline');
  users.remove('alice', 'a4');
  t.same(changed, ['alice', 'alice', 'alice', 'alice', 'alice', 'alice', 'alice', 'alice'], 'a notice per real change, none for no-ops');
});

t.test('local users - all() and size give what the registry agent writes', async (t) => {
  const users = new LocalUsers<string>(() => true, () => undefined, new Metrics({ defaultMetrics: false }), log);
  users.add('alice', 'a1');
  users.add('alice', 'a2');
  users.add('bob', 'b1');
  users.add('carol', 'c1');
  users.remove('carol', 'c1');
  t.same(Object.fromEntries(users.all()), { alice: 2, bob: 1 });
  t.equal(users.size, 2);
});

t.test('registry agent - writes the counts of the local users: the first connection registers, the last close removes', async (t) => {
  const metrics = new Metrics({ defaultMetrics: false });
  const registry = new MemoryRegistry();
  let agent: RegistryAgent | null = null;
  const users = new LocalUsers<string>(() => true, (uid) => agent?.userChanged(uid), metrics, log);
  users.add('early', 'e1'); // before the agent starts: its first write replaces everything
  agent = new RegistryAgent(registry, users, { gatewayId: 'gw', heartbeatMs: 60_000, ttlMs: 180_000 }, metrics, log);
  await agent.start();
  const online = async (...uids: string[]) => [...(await registry.lookup(uids)).keys()].sort();
  t.same(await online('early'), ['early'], 'the start writes every local user');
  users.add('alice', 'a1');
  users.add('alice', 'a2');
  users.add('bob', 'b1');
  await agent.flush();
  t.same(await online('alice', 'bob'), ['alice', 'bob']);
  users.remove('alice', 'a1');
  await agent.flush();
  t.same(await online('alice', 'bob'), ['alice', 'bob'], 'alice still has a connection');
  users.remove('alice', 'a2');
  users.remove('early', 'e1');
  await agent.flush();
  t.same(await online('alice', 'bob', 'early'), ['bob'], 'the last close removes');
  t.equal(metricValue(await metrics.text(), 'danmaku_registry_users'), 1, 'the users written');
  await agent.stop();
  t.same(await online('bob'), [], 'stop removes the entries');
});

t.test('registry agent - announces the load on every heartbeat and at once when asked; stop takes the announcement away', async (t) => {
  const metrics = new Metrics({ defaultMetrics: false });
  const registry = new MemoryRegistry();
  const users = new LocalUsers<string>(() => true, () => undefined, metrics, log);
  let connections = 0;
  let url: string | null = null;
  const load = () => (url === null ? null : { id: 'gw', url, connections, maxConnections: 0, lagMs: 0, outboundBytes: 0, open: true, draining: false, at: Date.now() });
  const agent = new RegistryAgent(registry, users, { gatewayId: 'gw', heartbeatMs: 50, ttlMs: 150 }, metrics, log, load);
  await agent.start();
  await agent.announce();
  t.same(await registry.gateways(), [], 'nothing to announce yet (not listening)');
  url = 'ws://127.0.0.1:9001/';
  await agent.announce();
  t.same((await registry.gateways()).map((g) => g.connections), [0], 'announced at once');
  connections = 7;
  await new Promise((r) => setTimeout(r, 120));
  t.same((await registry.gateways()).map((g) => g.connections), [7], 'the heartbeat announced the new figures');
  connections = 9;
  const twice = [agent.announce(), agent.announce()];
  connections = 10;
  await Promise.all(twice);
  t.same((await registry.gateways()).map((g) => g.connections), [10], 'a call during an announcement in flight is followed by one with the figures of then');
  await agent.stop();
  t.same(await registry.gateways(), [], 'stop removes it');
  await agent.announce();
  t.same(await registry.gateways(), [], 'and nothing announces it again');
});
