// REDIS_WAIT_REPLICAS' waiter (src/redis/replica-wait.ts) against a real primary and replica
// (redis-server processes of the test's own): a write made before confirm() is on the replica
// when it resolves; the callers of one turn share one WAIT, and a caller that comes while a
// WAIT is under way gets the next one; a stopped replica makes it reject after the timeout, a
// stopped primary at once.

import { Redis } from 'ioredis';
import t from 'tap';
import { createLogger } from '../../src/log.js';
import type { ReplicaWaitResult } from '../../src/metric-labels.js';
import { RedisReplicaWaiter, ReplicaWaitError } from '../../src/redis/replica-wait.js';
import { startPrimaryReplica } from '../helpers/redis-sentinel.js';

t.test('replica wait - confirm, coalescing, rounds, a stopped replica, a stopped primary', async (t) => {
  const set = await startPrimaryReplica();
  t.teardown(() => set.stop());
  const conn = (port: number, commandTimeout = 2_000) => new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0, enableOfflineQueue: false, commandTimeout, lazyConnect: true });
  const writes = conn(set.primary.port);
  const waitConn = conn(set.primary.port);
  const replica = conn(set.replica.port);
  await Promise.all([writes.connect(), waitConn.connect(), replica.connect()]);
  t.teardown(() => [writes, waitConn, replica].forEach((r) => r.disconnect()));
  const rounds: ReplicaWaitResult[] = [];
  const waiter = new RedisReplicaWaiter(waitConn, { replicas: 1, timeoutMs: 300, markerKey: 'test:wait:p' }, { replicaWait: (r) => rounds.push(r) }, createLogger('silent'));

  // A write on another connection, answered: on the replica once confirm() resolves.
  await writes.set('k1', 'v1');
  await waiter.confirm();
  t.equal(await replica.get('k1'), 'v1', "the write made before confirm() is on the replica when it resolves");
  t.same(rounds, ['confirmed']);

  // 50 callers in one turn: one round.
  rounds.length = 0;
  await Promise.all(Array.from({ length: 50 }, () => waiter.confirm()));
  t.same(rounds, ['confirmed'], '50 callers of one turn share one WAIT');

  // A stopped replica: the round waits the timeout, then rejects; a caller that came during it
  // waits for a round of its own (its write may be after the first marker).
  rounds.length = 0;
  set.replica.signal('SIGSTOP');
  const started = Date.now();
  const first = waiter.confirm().then(() => 'ok', (e: unknown) => e);
  await new Promise((r) => setTimeout(r, 100));
  await writes.set('k2', 'v2');
  const second = waiter.confirm().then(() => 'ok', (e: unknown) => e);
  const a = await first;
  const tookMs = Date.now() - started;
  t.ok(a instanceof ReplicaWaitError && /0 of 1 Redis replicas confirmed the write within 300 ms/.test(a.message), `rejected: ${String(a)}`);
  t.ok(tookMs >= 280, `after the timeout (${tookMs} ms)`);
  set.replica.signal('SIGCONT');
  t.equal(await second, 'ok', 'the caller that came during the first round: its own round, confirmed once the replica is back');
  t.same(rounds, ['short', 'confirmed'], 'two rounds');
  t.equal(await replica.get('k2'), 'v2', "and its write is on the replica");

  // The primary stopped: the round fails (the connection is down), it does not hang.
  rounds.length = 0;
  await set.primary.stop();
  const c = await waiter.confirm().then(() => 'ok', (e: unknown) => e);
  t.ok(c instanceof ReplicaWaitError, `the primary gone: rejected (${String(c)})`);
  t.same(rounds, ['failed']);
});

t.test('replica wait - replicas must be at least 1', async (t) => {
  t.throws(() => new RedisReplicaWaiter({} as Redis, { replicas: 0, timeoutMs: 100, markerKey: 'x' }, { replicaWait: () => undefined }, createLogger('silent')), RangeError);
});
