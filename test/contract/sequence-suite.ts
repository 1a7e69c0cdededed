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
}
