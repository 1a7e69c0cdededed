// The contract every Registry implementation passes (memory and Redis).

import type { Test } from 'tap';
import type { Registry } from '../../src/registry/index.js';

export interface RegistryFixture {
  /** A registry; two calls share the same backing data (a gateway and a logic process). */
  registry(): Promise<Registry>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
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
}
