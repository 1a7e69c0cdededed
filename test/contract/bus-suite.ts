// The contract every Bus implementation passes. Takes a factory of connected nodes that
// share one broker; run by bus-memory.test.ts (and by the NATS test in cluster mode).

import type { Test } from 'tap';
import { BusTimeoutError, NoRespondersError, type Bus } from '../../src/bus/index.js';
import { decode, encode } from '../../src/protocol/codec.js';

export interface BusFixture {
  /** A new node connected to the shared broker. */
  node(): Promise<Bus>;
  /** Waits until publishes issued so far have been delivered (a round trip for NATS). */
  settle(): Promise<void>;
  close(): Promise<void>;
}

/** Room payloads are items: one MessagePack value each (here a string, for brevity). */
const item = (x: string) => encode(x);

function recorder(bus: Bus): [string, unknown][] {
  const got: [string, unknown][] = [];
  bus.attach({ roomMessage: (room, data) => got.push([room, decode(data)]) });
  return got;
}

export function busContract(t: Test, make: () => Promise<BusFixture>): void {
  t.test('bus - a control broadcast reaches every node with a control handler, the sender included', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [a, b, quiet] = await Promise.all([f.node(), f.node(), f.node()]);
    const got: [string, unknown][] = [];
    await a.onBroadcast((d) => got.push(['a', decode(d)]));
    await b.onBroadcast((d) => got.push(['b', decode(d)]));
    a.broadcast(encode({ v: 1, e: 'lists' }));
    quiet.broadcast(encode({ v: 2, e: 'lists' }));
    await f.settle();
    await new Promise((r) => setTimeout(r, 50));
    // Two publishers on two connections: NATS orders each connection's messages, not the two
    // against each other (seen in CI: 2 before 1), so each node's set is compared.
    const of = (node: string) => got.filter(([n]) => n === node).map(([, v]) => v as { v: number }).sort((x, y) => x.v - y.v);
    t.same(of('a'), [{ v: 1, e: 'lists' }, { v: 2, e: 'lists' }]);
    t.same(of('b'), [{ v: 1, e: 'lists' }, { v: 2, e: 'lists' }]);
  });

  t.test('bus - delivers a room message once to each subscribed node, not to others', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [a, b, c, pub] = await Promise.all([f.node(), f.node(), f.node(), f.node()]);
    const [ga, gb, gc] = [recorder(a), recorder(b), recorder(c)];
    await a.subscribe('r1');
    await b.subscribe('r1');
    await c.subscribe('r2');
    pub.publish('r1', item('m1'));
    pub.publish('r1', item('m2'));
    await f.settle();
    t.same(ga, [['r1', 'm1'], ['r1', 'm2']], 'in publish order');
    t.same(gb, [['r1', 'm1'], ['r1', 'm2']]);
    t.same(gc, [], 'a node without interest receives nothing');
  });

  t.test('bus - many items published together arrive one by one, in order, in every room', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [a, pub] = await Promise.all([f.node(), f.node()]);
    const got = recorder(a);
    await a.subscribe('r1');
    await a.subscribe('r2');
    const sent: [string, unknown][] = [];
    for (let i = 0; i < 600; i++) {
      const room = i % 3 === 0 ? 'r2' : 'r1';
      pub.publish(room, item(`m${i}`));
      sent.push([room, `m${i}`]);
    }
    await f.settle();
    t.same(
      got.filter(([r]) => r === 'r1'),
      sent.filter(([r]) => r === 'r1'),
      'r1: every item once, in publish order',
    );
    t.same(
      got.filter(([r]) => r === 'r2'),
      sent.filter(([r]) => r === 'r2'),
      'r2 too',
    );
  });

  t.test('bus - items published together whose sizes add up past a message limit all arrive', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [a, pub] = await Promise.all([f.node(), f.node()]);
    const got = recorder(a);
    await a.subscribe('r1');
    // 300 x 8 KB: 2.4 MB in one turn, over NATS' default max_payload of 1 MB.
    const sent = Array.from({ length: 300 }, (_, i) => `${i}:${'x'.repeat(8_000)}`);
    for (const x of sent) pub.publish('r1', item(x));
    await f.settle();
    t.same(
      got.map(([, x]) => x),
      sent,
      'every item once, in order',
    );
  });

  t.test('bus - unsubscribe stops delivery', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [a, pub] = await Promise.all([f.node(), f.node()]);
    const got = recorder(a);
    await a.subscribe('r1');
    pub.publish('r1', item('before'));
    await f.settle();
    a.unsubscribe('r1');
    await f.settle();
    pub.publish('r1', item('after'));
    await f.settle();
    t.same(got, [['r1', 'before']]);
  });

  t.test('bus - requests reach one server of the queue group and get its reply', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [s1, s2, client] = await Promise.all([f.node(), f.node(), f.node()]);
    const served: string[] = [];
    s1.serve(async (d) => (served.push('s1'), Buffer.from(`s1:${Buffer.from(d).toString()}`)));
    s2.serve(async (d) => (served.push('s2'), Buffer.from(`s2:${Buffer.from(d).toString()}`)));
    await f.settle();
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => client.request(Buffer.from(`q${i}`), 2000)));
    replies.forEach((r, i) => t.match(Buffer.from(r).toString(), new RegExp(`^s[12]:q${i}$`)));
    t.equal(served.length, 20, 'each request served exactly once');
  });

  t.test('bus - a request without servers fails fast, a slow server times out', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [server, client] = await Promise.all([f.node(), f.node()]);
    await t.rejects(client.request(Buffer.from('x'), 500), NoRespondersError);
    server.serve(() => new Promise(() => undefined));
    await f.settle();
    await t.rejects(client.request(Buffer.from('x'), 100), BusTimeoutError);
  });

  t.test('bus - a node message reaches the listening node only', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [a, b, sender] = await Promise.all([f.node(), f.node(), f.node()]);
    const got: Record<string, string[]> = { a: [], b: [] };
    await a.listen('gw-a', { nodeMessage: (d) => got.a!.push(Buffer.from(d).toString()) });
    await b.listen('gw-b', { nodeMessage: (d) => got.b!.push(Buffer.from(d).toString()) });
    sender.sendToNode('gw-a', Buffer.from('for-a'));
    sender.sendToNode('gw-b', Buffer.from('for-b'));
    sender.sendToNode('gw-nobody', Buffer.from('lost'));
    await f.settle();
    t.same(got, { a: ['for-a'], b: ['for-b'] });
  });

  t.test('bus - a closed node receives nothing and serves nothing', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [a, pub] = await Promise.all([f.node(), f.node()]);
    const got = recorder(a);
    const direct: Uint8Array[] = [];
    await a.subscribe('r1');
    await a.listen('gw-a', { nodeMessage: (d) => direct.push(d) });
    a.serve(async () => Buffer.from('x'));
    await a.close();
    pub.publish('r1', item('m'));
    pub.sendToNode('gw-a', Buffer.from('m'));
    await f.settle();
    t.same(got, []);
    t.same(direct, []);
    await t.rejects(pub.request(Buffer.from('x'), 300), NoRespondersError);
  });
}
