// A message stored by the writer settles its sender's de-duplication claim: a retry of the
// same client id finds it (dup, with its seq) even when the logic process that took it died
// after the storage queue confirmed and before it could answer or settle.

import t from 'tap';
import { MemoryBroker } from '../../src/bus/memory.js';
import { createLogger } from '../../src/log.js';
import { StoreWriter } from '../../src/logic/store-writer.js';
import { Metrics } from '../../src/metrics.js';
import { encode } from '../../src/protocol/codec.js';
import { nullQueueObserver } from '../../src/queue/index.js';
import { MemoryQueue } from '../../src/queue/memory.js';
import { MemoryRegistry } from '../../src/registry/memory.js';
import { MemoryChatStore } from '../../src/store/chat/memory.js';
import { MemoryIntake } from '../../src/store/intake/memory.js';
import { MemoryDeduper, MemoryRateLimiter } from '../../src/store/limits/memory.js';
import { MemorySequencer } from '../../src/store/sequence/memory.js';

t.test('store writer - a stored record settles the claim it carries', async (t) => {
  const log = createLogger('silent');
  const sequencer = new MemorySequencer();
  const intake = new MemoryIntake(new MemoryDeduper(), new MemoryRateLimiter(), (s) => sequencer.next(s));
  const step = (claim: string) => ({ claim, claimTtlMs: 10_000, bucket: 'u:ann', rate: 100, burst: 100, scope: 'dm:ann|bob' });
  const first = await intake.admit(step('ann|m-1'));
  t.match(first, { seq: 1 }, 'the first attempt takes seq 1 and holds the claim');
  t.match(await intake.admit(step('ann|m-1')), { inFlight: true }, 'a retry meanwhile is told to retry');

  // The logic process enqueued it and died: nobody settles but the writer.
  const queue = new MemoryQueue({ observer: nullQueueObserver, log });
  const store = new MemoryChatStore();
  const bus = new MemoryBroker().connect();
  const writer = new StoreWriter(queue, store, intake, { registry: new MemoryRegistry(), bus, bigGroupsOf: async () => [] }, { unreadPushIntervalMs: 60_000, dedupeTtlMs: 60_000 }, new Metrics({ defaultMetrics: false }), log);
  const at = Date.now();
  const rec = (s: number, id: string, k?: string) => ({ c: 'dm:ann|bob', s, id, t: at, u: 'ann', m: encode({ to: 'bob', s, u: 'ann', n: 'ann', t: at, x: `hi ${s}`, id }), r: ['ann', 'bob'], ...(k ? { k } : {}) });
  await queue.enqueue(rec(1, 'aaaaaaaaaaaaaaa1', 'ann|m-1'));
  await queue.enqueue(rec(2, 'aaaaaaaaaaaaaaa2'));
  writer.start();
  t.teardown(() => writer.stop());
  const deadline = Date.now() + 5_000;
  let verdict = await intake.admit(step('ann|m-1'));
  while ('inFlight' in verdict && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    verdict = await intake.admit(step('ann|m-1'));
  }
  t.same(verdict, { dup: 1 }, 'once stored, the retry is a duplicate of seq 1');
  t.match(await intake.admit(step('ann|m-2')), { seq: 2 }, 'another id is processed anew');
  t.equal((await store.history('dm:ann|bob', undefined, 10, Date.now())).items.length, 2, 'both records stored');
});
