// The contract every Sequencer implementation passes (memory, Redis, and the fallback while
// Redis answers).

import type { Test } from 'tap';
import type { Sequencer } from '../../src/store/sequence/index.js';
import type { Fixture } from './fixture.js';

export function sequenceContract(t: Test, make: () => Promise<Fixture<Sequencer>>): void {
  t.test('sequence - numbers start at 1 and increase per scope across instances', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [a, b] = [await f.instance(), await f.instance()];
    const seqs = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).next('room:x')));
    t.same([...seqs].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i + 1), 'no gaps, no repeats');
    t.equal(await a.next('room:y'), 1, 'independent scopes');
  });

  t.test('sequence - current is the last number given, 0 before any, and next goes past it', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [a, b] = [await f.instance(), await f.instance()];
    t.equal(await a.current('room:fresh'), 0);
    for (let i = 0; i < 3; i++) await a.next('room:c');
    t.equal(await b.current('room:c'), 3, 'seen from another instance');
    t.equal(await b.next('room:c'), 4, 'next goes past it');
    t.equal(await a.current('room:c'), 4);
  });
}
