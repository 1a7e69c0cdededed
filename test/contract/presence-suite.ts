// The contract every PresenceCounts implementation passes (memory and Redis).

import type { Test } from 'tap';
import type { PresenceCounts } from '../../src/store/presence/index.js';
import { sleep, type Fixture } from './fixture.js';

export function presenceContract(t: Test, make: () => Promise<Fixture<PresenceCounts>>): void {
  t.test('presence - online counts sum gateways and lapse after their ttl', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const s = await f.instance();
    await s.report('gw1', new Map([['r1', 3], ['r2', 1]]), 10_000);
    await s.report('gw2', new Map([['r1', 4]]), 300);
    t.same(Object.fromEntries(await s.totals(['r1', 'r2', 'r3'])), { r1: 7, r2: 1, r3: 0 });
    await s.report('gw1', new Map([['r1', 1]]), 10_000);
    t.same(Object.fromEntries(await s.totals(['r1', 'r2'])), { r1: 5, r2: 0 }, 'a report replaces the previous one');
    await sleep(450);
    t.same(Object.fromEntries(await s.totals(['r1'])), { r1: 1 }, "gw2's report lapsed");
  });
}
