// The contract every Registry implementation passes (memory and Redis).

import type { Test } from 'tap';
import type { GatewayLoad, Registry } from '../../src/registry/index.js';

export interface RegistryFixture {
  /** A registry; two calls share the same backing data (a gateway and a logic process). */
  registry(): Promise<Registry>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = (id: string, connections: number, more: Partial<GatewayLoad> = {}): GatewayLoad => ({
  id,
  url: `ws://10.0.0.${id.length}:9001/`,
  connections,
  maxConnections: 1_000,
  lagMs: 3,
  outboundBytes: 1_024,
  open: true,
  draining: false,
  at: 1_767_225_600_000,
  ...more,
});
const byId = (list: GatewayLoad[]) => [...list].sort((a, b) => (a.id < b.id ? -1 : 1));
const obj = (m: Map<string, string[]>) => Object.fromEntries([...m].map(([k, v]) => [k, [...v].sort()]));

export function registryContract(t: Test, make: () => Promise<RegistryFixture>): void {
  t.test('registry - users are found on every gateway that holds them', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [gw, logic] = [await f.registry(), await f.registry()];
    await gw.replace('gw1', new Map([['alice', 2], ['bob', 1]]), 10_000);
    await gw.replace('gw2', new Map([['alice', 1]]), 10_000);
    t.same(obj(await logic.lookup(['alice', 'bob', 'carol'])), { alice: ['gw1', 'gw2'], bob: ['gw1'] }, 'carol is online nowhere');
    t.equal(await gw.update('gw1', new Map([['bob', 0], ['carol', 1]]), 10_000), true);
    t.same(obj(await logic.lookup(['alice', 'bob', 'carol'])), { alice: ['gw1', 'gw2'], carol: ['gw1'] }, '0 removes');
    await gw.replace('gw1', new Map([['dave', 1]]), 10_000);
    t.same(obj(await logic.lookup(['alice', 'carol', 'dave'])), { alice: ['gw2'], dave: ['gw1'] }, 'replace drops what is not in the new map');
    t.same(obj(await logic.lookup([])), {});
  });

  t.test('registry - an update or heartbeat of an unknown gateway asks for a replace', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const r = await f.registry();
    t.equal(await r.update('gw9', new Map([['alice', 1]]), 10_000), false, 'update refused');
    t.same(obj(await r.lookup(['alice'])), {}, 'and nothing written');
    t.equal(await r.heartbeat('gw9', 10_000), false);
    await r.replace('gw9', new Map([['alice', 1]]), 10_000);
    t.equal(await r.heartbeat('gw9', 10_000), true);
  });

  t.test('registry - a gateway whose heartbeat lapses disappears, and sweep removes its entries', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [gw, logic] = [await f.registry(), await f.registry()];
    await gw.replace('dying', new Map([['alice', 1], ['bob', 1]]), 300);
    await gw.replace('healthy', new Map([['alice', 1]]), 10_000);
    t.same(obj(await logic.lookup(['alice', 'bob'])), { alice: ['dying', 'healthy'], bob: ['dying'] });
    await sleep(150);
    t.equal(await gw.heartbeat('dying', 300), true, 'a heartbeat in time keeps it');
    await sleep(200);
    t.same(obj(await logic.lookup(['bob'])), { bob: ['dying'] }, 'still alive after the heartbeat');
    await sleep(250);
    t.same(obj(await logic.lookup(['alice', 'bob'])), { alice: ['healthy'] }, 'lapsed: ignored by lookups at once');
    t.same(await logic.sweep(), ['dying'], 'swept');
    t.same(await logic.sweep(), [], 'once');
    t.equal(await gw.heartbeat('dying', 300), false, 'a late heartbeat is told to replace');
    await gw.replace('dying', new Map([['bob', 1]]), 10_000);
    t.same(obj(await logic.lookup(['alice', 'bob'])), { alice: ['healthy'], bob: ['dying'] }, 'back after replace');
  });

  t.test('registry - replace with nothing and ttl 0 unregisters at once', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const r = await f.registry();
    await r.replace('gw1', new Map([['alice', 1]]), 10_000);
    await r.replace('gw1', new Map(), 0);
    t.same(obj(await r.lookup(['alice'])), {});
    t.equal(await r.heartbeat('gw1', 10_000), false);
  });

  t.test('registry - large gateways are written and swept in chunks', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const r = await f.registry();
    const users = new Map(Array.from({ length: 2_500 }, (_, i) => [`u${i}`, 1] as [string, number]));
    await r.replace('big', users, 200);
    const found = await r.lookup([...users.keys()]);
    t.equal(found.size, 2_500, 'every user found');
    await sleep(300);
    t.same(await r.sweep(), ['big']);
    t.equal((await r.lookup([...users.keys()])).size, 0);
  });

  t.test('registry - announcements of live gateways are listed, the latest one each', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [gw, reader] = [await f.registry(), await f.registry()];
    t.same(await reader.gateways(), [], 'none yet');
    await gw.replace('gw1', new Map(), 10_000);
    await gw.replace('gw2', new Map([['alice', 1]]), 10_000);
    await gw.announce(load('gw1', 10), 10_000);
    await gw.announce(load('gw2', 20, { open: false, draining: true, maxConnections: 0 }), 10_000);
    t.same(byId(await reader.gateways()), [load('gw1', 10), load('gw2', 20, { open: false, draining: true, maxConnections: 0 })], 'every field read back as written');
    await gw.announce(load('gw1', 11, { lagMs: 42.5 }), 10_000);
    t.same(byId(await reader.gateways()).map((g) => [g.id, g.connections, g.lagMs]), [['gw1', 11, 42.5], ['gw2', 20, 3]], 'a new announcement replaces the old');
  });

  t.test('registry - an announcement goes with its ttl, with the heartbeat of its gateway, or with its unregistration', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [gw, reader] = [await f.registry(), await f.registry()];
    await gw.replace('short', new Map(), 10_000);
    await gw.replace('lapsing', new Map(), 300);
    await gw.replace('leaving', new Map([['bob', 1]]), 10_000);
    await gw.replace('stays', new Map(), 10_000);
    await gw.announce(load('short', 1), 200);
    await gw.announce(load('lapsing', 2), 10_000);
    await gw.announce(load('leaving', 3), 10_000);
    await gw.announce(load('stays', 4), 10_000);
    await gw.announce(load('unregistered', 5), 10_000);
    t.same(byId(await reader.gateways()).map((g) => g.id), ['lapsing', 'leaving', 'short', 'stays'], 'a gateway never registered (no heartbeat) is not listed');
    await gw.replace('leaving', new Map(), 0);
    t.same(byId(await reader.gateways()).map((g) => g.id), ['lapsing', 'short', 'stays'], 'unregistered: gone at once');
    await sleep(400);
    t.same(byId(await reader.gateways()).map((g) => g.id), ['stays'], 'announcement expired (short), heartbeat lapsed (lapsing)');
    await reader.sweep();
    await gw.replace('lapsing', new Map(), 10_000);
    t.same(byId(await reader.gateways()).map((g) => g.id), ['stays'], 'a swept gateway registered again is listed from its next announcement');
    await gw.announce(load('lapsing', 6), 10_000);
    t.same(byId(await reader.gateways()).map((g) => g.id), ['lapsing', 'stays']);
  });
}
