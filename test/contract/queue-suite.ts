// The contract every ChatQueue passes: memory (standalone: one process, one writer) and
// JetStream (cluster: instances are processes with connections of their own, sharing the
// stream and its consumer). Records are applied at least once, and once in effect with an
// idempotent apply; a rejected apply loses nothing; the cluster-only parts (a writer killed
// mid-batch, a nats-server restart, a hostile publisher) run when the fixture can do them.
// No timed assertions: conditions are waited for with bounded polling.

import type { Test } from 'tap';
import { encode } from '../../src/protocol/codec.js';
import { QueueFullError, QueueUnavailableError, decodeMessage, encodeRecord, type ChatQueue, type QueueObserver, type StoredRecord } from '../../src/queue/index.js';
import { sleep } from './fixture.js';

export interface QueueInstanceOptions {
  readonly observer?: QueueObserver;
  /** the consumer's ack_wait (cluster) */
  readonly ackWaitMs?: number;
  readonly maxBytes?: number;
}

export interface QueueFixture {
  /** A queue: for memory always the same one; for JetStream a new connection (a process). */
  instance(opts?: QueueInstanceOptions): Promise<ChatQueue>;
  /** whether several writers may run at once (JetStream) */
  readonly sharedWriters: boolean;
  readonly cluster?: {
    /** Closes the instance's connection at once: a process killed, nothing acked. */
    kill(q: ChatQueue): Promise<void>;
    /** Stops (SIGKILL) and starts nats-server again on its store and port. */
    stopServer(): Promise<void>;
    startServer(): Promise<void>;
    /** Publishes bytes on the queue's subject as anyone with access to the broker could. */
    publishRaw(data: Uint8Array): Promise<void>;
    /** Messages in the stream (the backlog). */
    backlog(): Promise<number>;
  };
  close(): Promise<void>;
}

export interface QueueFixtureOptions {
  /** the queue's bound in bytes */
  readonly maxBytes?: number;
}

/** Counts what a queue reports. */
export class RecordingObserver implements QueueObserver {
  enqueuedRecords = 0;
  appliedRecords = 0;
  failures = 0;
  redeliveries = 0;
  bad = 0;
  backlogs = 0;
  /** the first report: [messages, oldest age in seconds] */
  firstBacklog: [number, number] = [-1, -1];
  enqueued(records: number): void {
    this.enqueuedRecords += records;
  }
  applied(records: number, lags: number[]): void {
    if (lags.length !== records || !lags.every((l) => l >= 0 && l < 3600)) throw new Error('a lag per record, in seconds');
    this.appliedRecords += records;
  }
  backlog(messages: number, oldestAgeSeconds: number): void {
    if (this.backlogs === 0) this.firstBacklog = [messages, oldestAgeSeconds];
    this.backlogs++;
  }
  redelivered(n: number): void {
    this.redeliveries += n;
  }
  applyFailed(): void {
    this.failures++;
  }
  malformed(n: number): void {
    this.bad += n;
  }
}

const T0 = Date.now();

/** A valid record: its message is a MESSAGE body that agrees with it (the writers check). */
export function record(i: number, over: Partial<Omit<StoredRecord, 'm'>> = {}, text = `hello ${i}`): StoredRecord {
  const base = { c: `group:g${i % 7}`, s: i + 1, id: `id${String(i).padStart(14, '0')}`, t: T0 + i, u: `u${i % 5}`, r: [`u${i % 5}`, 'u9'], ...over };
  const m = encode({ g: base.c.slice(6), s: base.s, u: base.u, n: base.u, t: base.t, x: text, id: base.id });
  return { ...base, m };
}

/** An idempotent store: which ids were applied, and how many apply() calls each saw. */
class Store {
  readonly seen = new Map<string, number>();
  calls = 0;
  apply(records: StoredRecord[]): void {
    this.calls++;
    for (const r of records) this.seen.set(r.id, (this.seen.get(r.id) ?? 0) + 1);
  }
  has(ids: Iterable<string>): boolean {
    for (const id of ids) if (!this.seen.has(id)) return false;
    return true;
  }
}

/** Polls `cond` every 20 ms for up to `ms` (generous: a condition, not a timing, is tested). */
async function until(t: Test, what: string, cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) {
      t.fail(`timed out waiting: ${what}`);
      throw new Error(`timed out waiting: ${what}`);
    }
    await sleep(20);
  }
}

/** Enqueues records i..i+n-1, `perTurn` per turn of the event loop. */
async function enqueueAll(q: ChatQueue, from: number, n: number, perTurn: number): Promise<string[]> {
  const ids: string[] = [];
  const pending: Promise<void>[] = [];
  for (let i = from; i < from + n; i++) {
    const r = record(i);
    ids.push(r.id);
    const p = q.enqueue(r);
    p.catch(() => undefined); // awaited below, after the turns: not an unhandled rejection meanwhile
    pending.push(p);
    if ((i - from + 1) % perTurn === 0) await new Promise((r) => setImmediate(r));
  }
  await Promise.all(pending);
  return ids;
}

export function queueContract(t: Test, make: (opts?: QueueFixtureOptions) => Promise<QueueFixture>, kind: { readonly cluster: boolean }): void {
  /** the cluster-only tests: skipped (and shown as such) for the memory queue, which has no ack_wait, redelivery or server to lose */
  const clusterOnly = { skip: kind.cluster ? false : 'cluster only: the memory queue has no ack_wait, redelivery or server to lose' };
  t.test('queue - the record codec: round trip, and hostile queue messages decoded defensively', async (t) => {
    const r = record(1);
    const msg = Buffer.concat([Buffer.from([0x92]), encodeRecord(r), encodeRecord(record(2, { s: 0 }))]);
    const d = decodeMessage(msg);
    const r0 = record(2, { s: 0 });
    t.same(d, { records: [{ ...r, m: Buffer.from(r.m) }, { ...r0, m: Buffer.from(r0.m) }], bad: 0, array: true });
    t.same(decodeMessage(Buffer.from('not msgpack at all')), { records: [], bad: 0, array: false }, 'garbage');
    t.same(decodeMessage(encode({ c: 'x' })), { records: [], bad: 0, array: false }, 'not an array');
    const forged = [
      { ...r, s: r.s + 1 }, // the message says another seq
      { ...r, m: encode({ g: 'g1', s: r.s, u: r.u, n: r.u, t: r.t, id: r.id }) }, // no text
      { ...r, m: Buffer.from([0xc1]) }, // not MessagePack
      { ...r, t: 1e20 }, // a time beyond the history's 13-digit prefix
      { ...r, c: 'group:g1 extra' },
      { ...r, c: 'dm:b|a' }, // a pair out of order
      { ...r, u: 'no spaces' },
      { ...r, r: ['ok', 'not a uid'] },
    ];
    const mixed = decodeMessage(encode([1, 'x', { ...r, s: -1 }, { ...r, m: 'text' }, { ...r, r: [1] }, { ...r, c: '' }, r, null, [r], ...forged]));
    t.equal(mixed.records.length, 1, 'the valid record in a mixed message is kept');
    t.equal(mixed.bad, 8 + forged.length, 'every other element counted, forged messages included');
    // Well-formed elements are read on their own; bytes that cannot be split into plain
    // MessagePack elements (an extension type) leave nothing to read.
    t.same(decodeMessage(Buffer.from([0x92, 0xd6, 0xff, 0, 0, 0, 0, ...encodeRecord(r)])).array, false, 'extension types refused');
    t.same(decodeMessage(encode([[[[[[[[[[r]]]]]]]]]])).array, false, 'nesting bounded');
    t.same(decodeMessage(Buffer.concat([Buffer.from([0x92]), encodeRecord(r)])).array, false, 'truncated');

    // A server notice (the backend API's): sender '', only in the user's notice scope, to that
    // user, and a claim only of that scope's.
    const n = { c: 'notice:bob', s: 3, id: 'notice0000000001', t: T0, u: '', r: ['bob'], k: '|notice:bob|pay-1' };
    const body = { to: 'bob', s: 3, u: '', n: 'system', t: T0, x: 'you won', id: n.id };
    const notice = { ...n, m: encode(body) };
    const forgedNotices = [
      { ...notice, u: 'mallory', m: encode({ ...body, u: 'mallory' }) }, // a notice with a sender
      { ...notice, c: 'dm:a|bob' }, // a direct message without one
      { ...notice, m: encode({ ...body, to: 'carl' }) }, // to someone else
      { ...notice, k: '|notice:carl|pay-1' }, // settling another scope's claim
      { ...notice, k: 'bob|pay-1' }, // or a user's
      { ...notice, c: 'notice:' },
    ];
    const { k: _claim, ...unclaimed } = notice;
    const notices = decodeMessage(encode([notice, unclaimed, ...forgedNotices]));
    t.equal(notices.records.length, 2, 'a notice record is kept, with or without its claim');
    t.match(notices.records[0], { c: 'notice:bob', u: '', k: '|notice:bob|pay-1' });
    t.equal(notices.bad, forgedNotices.length, 'forged notices counted');
  });

  t.test('queue - every enqueued record is applied, once in effect; stop() then another writer takes the rest', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const obs = new RecordingObserver();
    const q = await f.instance({ observer: obs });
    const store = new Store();
    const w1 = q.consume(async (records) => store.apply(records));
    const ids = await enqueueAll(q, 0, 3000, 100);
    t.equal(obs.enqueuedRecords, 3000, 'every enqueue confirmed and counted');
    await until(t, 'all applied', () => store.has(ids));
    t.ok([...store.seen.values()].every((n) => n === 1), 'none applied twice in the normal case');
    t.ok(store.calls < 3000, `records applied in batches (${store.calls} calls)`);
    await until(t, 'applied counted', () => obs.appliedRecords === 3000);
    await w1.stop();
    // Records enqueued with no writer wait for the next one.
    const later = await enqueueAll(q, 3000, 200, 50);
    t.notOk(store.has(later), 'nothing applied without a writer');
    const w2 = q.consume(async (records) => store.apply(records));
    await until(t, 'applied by the next writer', () => store.has(later));
    await w2.stop();
  });

  t.test('queue - an acknowledged record survives a writer that rejects: retried after a backoff', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const obs = new RecordingObserver();
    const q = await f.instance({ observer: obs });
    const ids = await enqueueAll(q, 0, 300, 30);
    const store = new Store();
    // Rejects until the backlog has been reported (every ~2 s while a writer runs): the report
    // then sees every record still waiting.
    const w = q.consume(async (records) => {
      if (obs.backlogs === 0) throw new Error('the store is down');
      store.apply(records);
    });
    await until(t, 'all applied after the rejections', () => store.has(ids));
    t.ok(obs.failures > 0, 'failures counted');
    t.ok(obs.redeliveries > 0, 'redeliveries counted');
    const [waiting, age] = obs.firstBacklog;
    t.ok(waiting > 0 && age > 0, `the backlog reported while nothing was applied (${waiting} waiting, the oldest ${age} s old)`);
    await w.stop();
  });

  t.test('queue - a full queue refuses with QueueFullError, and takes records again once applied', async (t) => {
    const f = await make({ maxBytes: 16 * 1024 });
    t.teardown(() => f.close());
    const q = await f.instance();
    const big = (i: number) => record(i, {}, 'x'.repeat(1000));
    const accepted: string[] = [];
    let full: unknown;
    for (let i = 0; i < 100 && full === undefined; i++) {
      try {
        await q.enqueue(big(i));
        accepted.push(big(i).id);
      } catch (err) {
        full = err;
      }
    }
    t.type(full, QueueFullError, 'refused once full');
    t.ok(accepted.length >= 5 && accepted.length < 17, `about maxBytes accepted (${accepted.length} records of 1 KB)`);
    const store = new Store();
    const w = q.consume(async (records) => store.apply(records));
    await until(t, 'the accepted ones applied', () => store.has(accepted));
    // The stream frees the space of acked messages: enqueue works again (polled: acks are async).
    await until(t, 'enqueue accepted again', () => q.enqueue(big(1000)).then(() => true, () => false));
    await until(t, 'and applied', () => store.has([big(1000).id]));
    await w.stop();
  });

  t.test('queue - two writers share the records, each applied by one of them', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    if (!f.sharedWriters) {
      const q = await f.instance();
      const w = q.consume(async () => undefined);
      t.throws(() => q.consume(async () => undefined), 'a single writer');
      await w.stop();
      return;
    }
    const [a, b] = [await f.instance(), await f.instance()];
    const [sa, sb] = [new Store(), new Store()];
    // Slow applies: while one writer is busy, the other takes the next messages.
    const wa = a.consume(async (records) => {
      sa.apply(records);
      await sleep(5);
    });
    const wb = b.consume(async (records) => {
      sb.apply(records);
      await sleep(5);
    });
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      ids.push(...(await enqueueAll(i % 2 ? a : b, i * 20, 20, 20)));
      await sleep(2);
    }
    await until(t, 'all applied by one or the other', () => ids.every((id) => sa.seen.has(id) || sb.seen.has(id)));
    const total = ids.reduce((n, id) => n + (sa.seen.get(id) ?? 0) + (sb.seen.get(id) ?? 0), 0);
    t.equal(total, ids.length, 'each record applied once, by one writer');
    t.ok(sa.seen.size > 0 && sb.seen.size > 0, `both writers took records (${sa.seen.size} + ${sb.seen.size})`);
    await Promise.all([wa.stop(), wb.stop()]);
  });

  t.test('queue - a writer killed mid-batch: another writer gets its records after ack_wait', clusterOnly, async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const cluster = f.cluster;
    if (!cluster) throw new Error('a cluster fixture without its cluster part');
    const a = await f.instance({ ackWaitMs: 1_000 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let took = 0;
    // Takes a batch and never finishes it: the process dies holding it.
    const wa = a.consume(async (records) => {
      took += records.length;
      await gate;
    });
    const ids = await enqueueAll(a, 0, 100, 100);
    await until(t, 'the doomed writer took a batch', () => took > 0);
    await cluster.kill(a);
    release();
    const obs = new RecordingObserver();
    const b = await f.instance({ ackWaitMs: 1_000, observer: obs });
    const store = new Store();
    const wb = b.consume(async (records) => store.apply(records));
    await until(t, 'all redelivered to the other writer', () => store.has(ids));
    t.ok(obs.redeliveries > 0, 'counted as redelivered');
    await wb.stop();
    await wa.stop(); // its connection is closed: returns without acking anything
  });

  t.test('queue - nats-server restarted on its store: nothing acknowledged is lost; enqueue fails fast while it is down', clusterOnly, async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const cluster = f.cluster;
    if (!cluster) throw new Error('a cluster fixture without its cluster part');
    const q = await f.instance();
    const acked = await enqueueAll(q, 0, 500, 50);
    await cluster.stopServer();
    // The client notices the lost connection at once (the socket closes); from then on enqueue
    // refuses without waiting for a timeout.
    let refused: unknown;
    await until(t, 'enqueue refused while down', async () => {
      refused = await q.enqueue(record(9999)).then(() => undefined, (err: unknown) => err);
      return refused instanceof QueueUnavailableError;
    });
    await cluster.startServer();
    await until(t, 'enqueue works after the restart', () => q.enqueue(record(600)).then(() => true, () => false), 60_000);
    acked.push(record(600).id);
    acked.push(...(await enqueueAll(q, 700, 100, 50)));
    const store = new Store();
    const w = q.consume(async (records) => store.apply(records));
    await until(t, 'everything acknowledged applied', () => store.has(acked), 60_000);
    // And a writer that was running across a restart resumes.
    await cluster.stopServer();
    await cluster.startServer();
    const after = await (async () => {
      let ids: string[] = [];
      await until(t, 'enqueue after the second restart', async () => {
        try {
          ids = await enqueueAll(q, 900, 50, 50);
          return true;
        } catch {
          return false;
        }
      }, 60_000);
      return ids;
    })();
    await until(t, 'the running writer resumed', () => store.has(after), 60_000);
    await w.stop();
  });

  t.test('queue - hostile queue messages are dropped without stopping the writer', clusterOnly, async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const cluster = f.cluster;
    if (!cluster) throw new Error('a cluster fixture without its cluster part');
    const obs = new RecordingObserver();
    const q = await f.instance({ observer: obs });
    const store = new Store();
    const w = q.consume(async (records) => store.apply(records));
    const good = record(1);
    await cluster.publishRaw(Buffer.from('garbage'));
    await cluster.publishRaw(new Uint8Array(0));
    await cluster.publishRaw(encode({ c: 'x' }));
    await cluster.publishRaw(encode([]));
    await cluster.publishRaw(encode([{ c: 'group:g', s: 'x' }, good, 42]));
    await cluster.publishRaw(Buffer.from([0x91, 0xc7, 0x01, 0x42, 0x00])); // an extension type
    const ids = await enqueueAll(q, 10, 50, 50);
    await until(t, 'the valid records applied, also the one among hostile elements', () => store.has([...ids, good.id]));
    await until(t, 'the hostile messages counted', () => obs.bad >= 7);
    await until(t, 'and removed from the stream', async () => (await cluster.backlog()) === 0);
    await w.stop();
  });
}
