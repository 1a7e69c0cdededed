// The contract every Store implementation passes (memory now, Redis in cluster mode).

import type { Test } from 'tap';
import { GroupFullError, IN_FLIGHT, type Store } from '../../src/store/index.js';

export interface StoreFixture {
  /** A store; two calls share the same backing data (two logic processes, one Redis). */
  store(): Promise<Store>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const item = (seq: number) => ({ seq, data: Buffer.from(`item-${seq}`) });

export function storeContract(t: Test, make: (opts: { replaySize: number }) => Promise<StoreFixture>): void {
  t.test('store - history keeps the most recent items of each room, oldest first', async (t) => {
    const f = await make({ replaySize: 3 });
    t.teardown(() => f.close());
    const s = await f.store();
    for (let i = 1; i <= 5; i++) await s.history.append('r1', item(i));
    await s.history.append('r2', item(100));
    const got = await s.history.recent('r1', 3);
    t.same(got.map((i) => i.seq), [3, 4, 5]);
    t.same(Buffer.from(got[0]!.data).toString(), 'item-3');
    t.same((await s.history.recent('r1', 2)).map((i) => i.seq), [4, 5]);
    t.same((await s.history.recent('r2', 3)).map((i) => i.seq), [100]);
    t.same(await s.history.recent('empty', 3), []);
  });

  t.test('store - sequences start at 1 and increase per scope across instances', async (t) => {
    const f = await make({ replaySize: 3 });
    t.teardown(() => f.close());
    const [a, b] = [await f.store(), await f.store()];
    const seqs = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).sequencer.next('room:x')));
    t.same([...seqs].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i + 1), 'no gaps, no repeats');
    t.equal(await a.sequencer.next('room:y'), 1, 'independent scopes');
  });

  t.test('store - online counts sum gateways and lapse after their ttl', async (t) => {
    const f = await make({ replaySize: 3 });
    t.teardown(() => f.close());
    const s = await f.store();
    await s.presence.report('gw1', new Map([['r1', 3], ['r2', 1]]), 10_000);
    await s.presence.report('gw2', new Map([['r1', 4]]), 300);
    t.same(Object.fromEntries(await s.presence.totals(['r1', 'r2', 'r3'])), { r1: 7, r2: 1, r3: 0 });
    await s.presence.report('gw1', new Map([['r1', 1]]), 10_000);
    t.same(Object.fromEntries(await s.presence.totals(['r1', 'r2'])), { r1: 5, r2: 0 }, 'a report replaces the previous one');
    await sleep(450);
    t.same(Object.fromEntries(await s.presence.totals(['r1'])), { r1: 1 }, "gw2's report lapsed");
  });

  t.test('store - rate limiter allows the burst, then refills at the rate', async (t) => {
    const f = await make({ replaySize: 3 });
    t.teardown(() => f.close());
    const [a, b] = [await f.store(), await f.store()];
    const first = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).limiter.allow('u:1', 10, 5)));
    t.equal(first.filter(Boolean).length, 5, 'the burst is shared by every instance');
    t.equal(await a.limiter.allow('u:2', 10, 5), true, 'buckets are per key');
    await sleep(250);
    t.equal(await a.limiter.allow('u:1', 10, 5), true, 'refilled after 250 ms at 10/s');
  });

  t.test('store - deduper returns the first claim\'s sequence to retries', async (t) => {
    const f = await make({ replaySize: 3 });
    t.teardown(() => f.close());
    const [a, b] = [await f.store(), await f.store()];
    t.equal(await a.deduper.claim('u:m1', 10_000), undefined, 'first claim');
    t.equal(await b.deduper.claim('u:m1', 10_000), IN_FLIGHT, 'in flight');
    await a.deduper.settle('u:m1', 42, 10_000);
    t.equal(await b.deduper.claim('u:m1', 10_000), 42, 'settled');
    await a.deduper.settle('u:m0', 0, 10_000);
    t.equal(await b.deduper.claim('u:m0', 10_000), 0, 'settled unsequenced (0) is not in flight');
    t.equal(await a.deduper.claim('u:m2', 10_000), undefined);
    await a.deduper.release('u:m2');
    t.equal(await b.deduper.claim('u:m2', 10_000), undefined, 'released keys can be claimed again');
    t.equal(await a.deduper.claim('u:m3', 200), undefined);
    await sleep(300);
    t.equal(await a.deduper.claim('u:m3', 200), undefined, 'claims expire');
  });

  t.test('store - groups: create, add and remove members, membership, delete', async (t) => {
    const f = await make({ replaySize: 3 });
    t.teardown(() => f.close());
    const [a, b] = [await f.store(), await f.store()];
    t.equal(await a.groups.create('g1'), true, 'created');
    t.equal(await b.groups.create('g1'), false, 'exists already');
    t.equal(await a.groups.add('g1', ['u1', 'u2', 'u2'], 10), 2, 'duplicates count once');
    t.equal(await b.groups.add('g1', ['u2', 'u3'], 10), 1, 'only new members count');
    t.same((await b.groups.members('g1'))!.sort(), ['u1', 'u2', 'u3']);
    t.equal(await a.groups.isMember('g1', 'u3'), true);
    t.equal(await a.groups.isMember('g1', 'u9'), false);
    t.equal(await a.groups.remove('g1', ['u3', 'u9']), 1, 'only members count');
    await t.rejects(a.groups.add('g1', ['x1', 'x2', 'x3', 'u1'], 4), GroupFullError, 'over the cap adds nobody');
    t.equal(await a.groups.add('g1', ['x1', 'x1'], 3), 1, 'a uid given twice counts once against the cap');
    t.equal(await a.groups.remove('g1', ['x1']), 1);
    t.same((await a.groups.members('g1'))!.sort(), ['u1', 'u2']);
    t.equal(await a.groups.add('nope', ['u1'], 10), null, 'no such group');
    t.equal(await a.groups.remove('nope', ['u1']), null);
    t.equal(await a.groups.members('nope'), null);
    t.equal(await a.groups.create('empty'), true);
    t.same(await b.groups.members('empty'), [], 'an empty group exists');
    t.equal(await b.groups.delete('g1'), true);
    t.equal(await a.groups.delete('g1'), false, 'deleted once');
    t.equal(await a.groups.members('g1'), null);
    t.equal(await a.groups.isMember('g1', 'u1'), false, 'no members after delete');
  });
}
