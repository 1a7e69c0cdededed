// A message stored by the writer settles its sender's de-duplication claim: a retry of the
// same client id finds it (dup, with its seq) even when the logic process that took it died
// after the storage queue confirmed and before it could answer or settle.

import t from 'tap';
import { MemoryBroker } from '../../src/bus/memory.js';
import { createLogger } from '../../src/log.js';
import { StoreWriter } from '../../src/logic/store-writer.js';
import { Metrics } from '../../src/metrics.js';
import { encode } from '../../src/protocol/codec.js';
import { BatchRetryError, nullQueueObserver } from '../../src/queue/index.js';
import { ReplicaWaitError } from '../../src/redis/replica-wait.js';
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

t.test('store writer - REDIS_WAIT_REPLICAS: a batch the replicas do not confirm is retried as a whole (BatchRetryError), its records applied once', async (t) => {
  const log = createLogger('silent');
  const sequencer = new MemorySequencer();
  const intake = new MemoryIntake(new MemoryDeduper(), new MemoryRateLimiter(), (s) => sequencer.next(s));
  const queue = new MemoryQueue({ observer: nullQueueObserver, log });
  const store = new MemoryChatStore();
  const bus = new MemoryBroker().connect();
  let fail = true;
  const errors: unknown[] = [];
  const replicas = {
    ticket: () => ({ waiter: 'fake', epochs: [] }),
    confirm: async () => {
      if (fail) throw new ReplicaWaitError('0 of 1 Redis replicas confirmed the write within 300 ms');
    },
  };
  const writer = new StoreWriter(queue, store, intake, { registry: new MemoryRegistry(), bus, bigGroupsOf: async () => [] }, { unreadPushIntervalMs: 60_000, dedupeTtlMs: 60_000 }, new Metrics({ defaultMetrics: false }), log, replicas);
  const apply = (writer as unknown as { apply(r: unknown[]): Promise<void> }).apply.bind(writer);
  const at = Date.now();
  const rec = { c: 'dm:ann|bob', s: 1, id: 'aaaaaaaaaaaaaaa1', t: at, u: 'ann', m: encode({ to: 'bob', s: 1, u: 'ann', n: 'ann', t: at, x: 'hi', id: 'aaaaaaaaaaaaaaa1' }), r: ['ann', 'bob'], k: 'ann|m-1' };
  await apply([rec]).catch((e: unknown) => errors.push(e));
  t.ok(errors[0] instanceof BatchRetryError, 'rejected with BatchRetryError (the queue retries the whole batch, never one by one)');
  t.match(String(errors[0]), /stored on the Redis primary but not confirmed by the Redis replicas/);
  t.equal((await store.history('dm:ann|bob', undefined, 10, Date.now())).items.length, 1, 'stored (on the primary) all the same');
  fail = false;
  await apply([rec]);
  t.equal((await store.history('dm:ann|bob', undefined, 10, Date.now())).items.length, 1, 'applied again: once');
});
