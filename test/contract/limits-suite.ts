// The contract every RateLimiter and Deduper implementation passes (memory, Redis, and the
// fallback both while Redis answers and while it is down).

import type { Test } from 'tap';
import { IN_FLIGHT, type Deduper, type RateLimiter } from '../../src/store/limits/index.js';
import { sleep, type Fixture } from './fixture.js';

export interface Limits {
  readonly limiter: RateLimiter;
  readonly deduper: Deduper;
}

export function limitsContract(t: Test, make: () => Promise<Fixture<Limits>>): void {
  t.test('limits - rate limiter allows the burst, then refills at the rate', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [a, b] = [(await f.instance()).limiter, (await f.instance()).limiter];
    const first = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).allow('u:1', 10, 5)));
    t.equal(first.filter(Boolean).length, 5, 'the burst is shared by every instance');
    t.equal(await a.allow('u:2', 10, 5), true, 'buckets are per key');
    await sleep(250);
    t.equal(await a.allow('u:1', 10, 5), true, 'refilled after 250 ms at 10/s');
  });

  t.test("limits - deduper returns the first claim's sequence to retries", async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [a, b] = [(await f.instance()).deduper, (await f.instance()).deduper];
    t.equal(await a.claim('u:m1', 10_000), undefined, 'first claim');
    t.equal(await b.claim('u:m1', 10_000), IN_FLIGHT, 'in flight');
    await a.settle('u:m1', 42, 10_000);
    t.equal(await b.claim('u:m1', 10_000), 42, 'settled');
    await a.settle('u:m0', 0, 10_000);
    t.equal(await b.claim('u:m0', 10_000), 0, 'settled unsequenced (0) is not in flight');
    t.equal(await a.claim('u:m2', 10_000), undefined);
    await a.release('u:m2');
    t.equal(await b.claim('u:m2', 10_000), undefined, 'released keys can be claimed again');
    t.equal(await a.claim('u:m3', 200), undefined);
    await sleep(300);
    t.equal(await a.claim('u:m3', 200), undefined, 'claims expire');
  });
}
