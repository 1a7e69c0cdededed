// REDIS_WAIT_REPLICAS' waiter (src/redis/replica-wait.ts) against a real primary and replica
// (redis-server processes of the test's own): a write made before confirm() is on the replica
// when it resolves; the callers of one turn share one WAIT, and a caller that comes while a
// WAIT is under way gets a round of its own; a stopped replica makes it reject after the
// timeout, a stopped primary at once; a wait connection on another server than the writes
// (a failover under way) is refused, not confirmed by that server's replicas.

import { Redis } from 'ioredis';
import t from 'tap';
import { createLogger } from '../../src/log.js';
import type { ReplicaWaitResult } from '../../src/metric-labels.js';
import { RedisReplicaWaiter, ReplicaWaitError } from '../../src/redis/replica-wait.js';
import { startRedis } from '../helpers/infra.js';
import { startPrimaryReplica } from '../helpers/redis-sentinel.js';

const conn = (port: number, commandTimeout = 2_000) => new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0, enableOfflineQueue: false, commandTimeout, lazyConnect: true });
const silent = createLogger('silent');

t.test('replica wait - confirm, coalescing, rounds, a stopped replica, a stopped primary', async (t) => {
  const set = await startPrimaryReplica();
  t.teardown(() => set.stop());
  const writes = conn(set.primary.port);
  const waitConn = conn(set.primary.port);
  const replica = conn(set.replica.port);
  await Promise.all([writes.connect(), waitConn.connect(), replica.connect()]);
  t.teardown(() => [writes, waitConn, replica].forEach((r) => r.disconnect()));
  const rounds: ReplicaWaitResult[] = [];
  // 1 s: a replica just synced on a loaded machine can take a few hundred ms to acknowledge (seen in CI at 300 ms).
  const waiter = new RedisReplicaWaiter(waitConn, [writes], { replicas: 1, timeoutMs: 1_000, markerKey: 'test:wait:p' }, { replicaWait: (r: ReplicaWaitResult) => rounds.push(r) }, silent);

  // A write on another connection, answered: on the replica once confirm() resolves.
  await writes.set('k1', 'v1');
  await waiter.confirm(waiter.ticket());
  t.equal(await replica.get('k1'), 'v1', 'the write made before confirm() is on the replica when it resolves');
  t.same(rounds, ['confirmed']);
  t.match(await replica.get('test:wait:p:0'), /^[0-9a-f-]{36}:1$/, "the write connection's token of the round (the waiter's id and the round), replicated");

  t.throws(() => waiter.confirm({ waiter: 'another', epochs: [0] }), /a ticket of another waiter/, "another waiter's ticket: a bug, thrown at once");

  // 50 callers in one turn: one round.
  rounds.length = 0;
  await Promise.all(Array.from({ length: 50 }, () => waiter.confirm(waiter.ticket())));
  t.same(rounds, ['confirmed'], '50 callers of one turn share one WAIT');

  // A stopped replica: the round waits the timeout, then rejects; a caller that came during it
  // gets a round of its own (its write may be after the first marker), never the first's answer.
  rounds.length = 0;
  set.replica.signal('SIGSTOP');
  const started = Date.now();
  const first = waiter.confirm(waiter.ticket()).then(() => 'ok', (e: unknown) => e);
  await new Promise((r) => setTimeout(r, 100));
  await writes.set('k2', 'v2');
  const second = waiter.confirm(waiter.ticket()).then(
    () => ({ ok: true, after: rounds.length }),
    () => ({ ok: false, after: rounds.length }),
  );
  const a = await first;
  const tookMs = Date.now() - started;
  t.ok(a instanceof ReplicaWaitError && /0 of 1 Redis replicas confirmed the write within 1000 ms/.test(a.message), `rejected: ${String(a)}`);
  t.ok(tookMs >= 950, `after the timeout (${tookMs} ms)`);
  t.equal(rounds[0], 'short');
  set.replica.signal('SIGCONT');
  const b = await second;
  t.ok(b.after >= 2, `the caller that came during the first round was answered by a round of its own (round ${b.after}, ${b.ok ? 'confirmed' : 'short: the replica was still waking'})`);
  // Once the replica is back, a round confirms, and the write made during the outage is there.
  const deadline = Date.now() + 5_000;
  for (;;) {
    const ok = await waiter.confirm(waiter.ticket()).then(() => true, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error('no round confirmed after the replica came back');
  }
  t.equal(await replica.get('k2'), 'v2', 'the write made while the replica was stopped is on it once a round confirms');

  // A write connection that reconnected between the caller's write and the round (it may have
  // written to a server it then left): refused, though the round itself confirms.
  rounds.length = 0;
  await writes.set('k3', 'v3');
  const stale = waiter.ticket();
  const back = new Promise((r) => writes.once('ready', r));
  writes.disconnect(true); // a new socket, as after a failover
  await back;
  const moved = await waiter.confirm(stale).then(() => 'ok', (e: unknown) => e);
  t.ok(moved instanceof ReplicaWaitError && /reconnected between the write and its confirmation/.test(moved.message), `a ticket from before a reconnection: refused (${String(moved)})`);
  t.same(rounds, ['confirmed'], 'while the round confirmed (for tickets taken after)');
  await waiter.confirm(waiter.ticket());

  // The primary stopped: the round fails (the connection is down), it does not hang.
  rounds.length = 0;
  await set.primary.stop();
  const c = await waiter.confirm(waiter.ticket()).then(() => 'ok', (e: unknown) => e);
  t.ok(c instanceof ReplicaWaitError, `the primary gone: rejected (${String(c)})`);
  t.same(rounds, ['failed']);
});

t.test('replica wait - the wait connection on another server than the writes is refused', async (t) => {
  const set = await startPrimaryReplica();
  const other = await startRedis();
  t.teardown(() => Promise.all([set.stop(), other.dispose()]));
  const writes = conn(set.primary.port);
  // As during a failover: this connection already follows another primary, with a replica of
  // its own that would confirm anything written there.
  const otherReplica = await startRedis();
  t.teardown(() => otherReplica.dispose());
  const waitConn = conn(other.port);
  await Promise.all([writes.connect(), waitConn.connect()]);
  t.teardown(() => [writes, waitConn].forEach((r) => r.disconnect()));
  const oc = conn(otherReplica.port);
  await oc.connect();
  await waitConn.call('CONFIG', 'SET', 'repl-diskless-sync-delay', '0');
  await oc.call('REPLICAOF', '127.0.0.1', String(other.port));
  // Linked: a WAIT on `other` would be confirmed by it.
  const deadline = Date.now() + 15_000;
  while (!/master_link_status:up/.test(String(await oc.info('replication')))) {
    if (Date.now() > deadline) throw new Error('the other replica did not link');
    await new Promise((r) => setTimeout(r, 50));
  }
  oc.disconnect();
  t.equal(await waitConn.call('WAIT', '1', '1000'), 1, "the other server's replica confirms a WAIT there");
  const rounds: ReplicaWaitResult[] = [];
  const waiter = new RedisReplicaWaiter(waitConn, [writes], { replicas: 1, timeoutMs: 300, markerKey: 'test:wait:x' }, { replicaWait: (r: ReplicaWaitResult) => rounds.push(r) }, silent);
  const r = await waiter.confirm(waiter.ticket()).then(() => 'ok', (e: unknown) => e);
  t.ok(r instanceof ReplicaWaitError && /another Redis server than 1 of the write connections/.test(r.message), `refused: ${String(r)}`);
  t.same(rounds, ['failed']);
  t.equal(await waitConn.get('test:wait:x'), null, 'no marker written there');
});

t.test('replica wait - replicas must be at least 1', async (t) => {
  t.throws(() => new RedisReplicaWaiter({} as Redis, [], { replicas: 0, timeoutMs: 100, markerKey: 'x' }, { replicaWait: () => undefined }, silent), RangeError);
});
