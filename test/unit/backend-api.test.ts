// The backend API's promises, on memory stores and a bus whose failures the test chooses: a 200
// means stored and published (or, for a notice, stored and pushed); a 503 says whether anything
// may have happened; a retry with the same key gets the first result once the first attempt
// stored something, and is processed anew when it did not. And the SEND path's rule: a replayed
// item is stored before it is published, a gift is never published unsequenced.

import t from 'tap';
import { BusTimeoutError, BusUnavailableError } from '../../src/bus/index.js';
import { MemoryBroker, type MemoryBus } from '../../src/bus/memory.js';
import { createLogger } from '../../src/log.js';
import { BackendApi } from '../../src/logic/backend-api.js';
import { ChatFanout } from '../../src/logic/chat.js';
import { ChatReads } from '../../src/logic/chat-reads.js';
import { Logic } from '../../src/logic/logic.js';
import { Metrics } from '../../src/metrics.js';
import { decode } from '../../src/protocol/codec.js';
import { Errors } from '../../src/protocol/errors.js';
import { Kind } from '../../src/protocol/kinds.js';
import { Op } from '../../src/protocol/ops.js';
import { encodeRecord, QueueFullError, QueueUnavailableError, toRecord, type ChatQueue, type StoredRecord } from '../../src/queue/index.js';
import { ReplicaWaitError, type ReplicaConfirm } from '../../src/redis/replica-wait.js';
import { MemoryRegistry } from '../../src/registry/memory.js';
import { MemoryChatStore } from '../../src/store/chat/memory.js';
import { MemoryGroups } from '../../src/store/groups/memory.js';
import type { WindowItem } from '../../src/store/history/index.js';
import { MemoryRoomHistory } from '../../src/store/history/memory.js';
import { MemoryIntake } from '../../src/store/intake/memory.js';
import { MemoryDeduper, MemoryRateLimiter } from '../../src/store/limits/memory.js';
import { MemorySequencer } from '../../src/store/sequence/memory.js';

const log = createLogger('silent');

/** A queue that keeps what it is given, or fails as told. */
class FakeQueue implements ChatQueue {
  readonly records: StoredRecord[] = [];
  fail: Error | null = null;
  async enqueue(rec: StoredRecord): Promise<void> {
    if (this.fail) throw this.fail;
    this.records.push(rec);
  }
  consume(): { stop(): Promise<void> } {
    return { stop: async () => undefined };
  }
  async close(): Promise<void> {}
}

/** REDIS_WAIT_REPLICAS' seam: confirms, or fails as told; counts its calls. */
class FakeReplicas implements ReplicaConfirm {
  fail: Error | null = null;
  calls = 0;
  /** what happened, in order: `ticket <n>`, `confirm <n>` (and the test's own marks) */
  readonly events: string[] = [];
  private tickets = 0;
  ticket() {
    const n = ++this.tickets;
    this.events.push(`ticket ${n}`);
    return { waiter: 'fake', epochs: [n] };
  }
  async confirm(ticket: { epochs: readonly number[] }): Promise<void> {
    this.calls++;
    this.events.push(`confirm ${ticket.epochs[0]}`);
    if (this.fail) throw this.fail;
  }
}

function setup(opts: { unsequenced?: boolean; dedupeTtlMs?: number; replicas?: FakeReplicas } = {}) {
  const dedupeTtlMs = opts.dedupeTtlMs ?? 60_000;
  const sequencer = new MemorySequencer();
  const deduper = new MemoryDeduper();
  const intake = new MemoryIntake(deduper, new MemoryRateLimiter(), async (s) => (opts.unsequenced ? 0 : sequencer.next(s)));
  const history = new MemoryRoomHistory({ claims: intake });
  const broker = new MemoryBroker();
  const bus: MemoryBus = broker.connect();
  const viewer = broker.connect();
  const published: Uint8Array[] = [];
  viewer.attach({ roomMessage: (_r, d) => published.push(d) });
  const queue = new FakeQueue();
  const metrics = new Metrics({ defaultMetrics: false });
  const registry = new MemoryRegistry();
  const chat = new ChatFanout(registry, bus, metrics);
  const api = new BackendApi({ maxTextLength: 100, dedupeTtlMs }, { intake, history, bus, queue, chat, replicas: opts.replicas ?? null, metrics, log });
  /** confirm() answers: each call takes the next, then always succeeds */
  const confirms: (Error | null)[] = [];
  const confirm = bus.confirm.bind(bus);
  bus.confirm = async () => {
    const next = confirms.shift();
    if (next) throw next;
    return confirm();
  };
  const groups = new MemoryGroups();
  const logicOpts = { maxTextLength: 100, userMessageRate: 100, userMessageBurst: 100, dedupeTtlMs, logicMaxInflight: 100, bigGroupSize: 500, groupCacheMs: 0 };
  const logic = new Logic(bus, { history, intake, groups, queue, replicas: opts.replicas ?? null }, chat, new ChatReads(new MemoryChatStore(), groups, chat, { bigGroupSize: 500 }, metrics), logicOpts, metrics, log);
  return { api, bus, viewer, published, history, queue, confirms, registry, logic, metrics };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const turn = () => new Promise((r) => setImmediate(r));

const held = async (history: MemoryRoomHistory, room: string): Promise<WindowItem[]> => (await history.window(room)).items;
const seqsOf = (items: readonly WindowItem[]) => items.map((i) => i.seq);

t.test('backend api - a room item: 200 once stored and published; a retry with the key gets the first result, nothing twice', async (t) => {
  const { api, viewer, published, history } = setup();
  await viewer.subscribe('live');
  const first = await api.roomItem('live', { k: Kind.Gift, g: 'rocket', a: 3, u: 'shop', n: 'Sponsor', key: 'pay-1' });
  t.match(first, { status: 200, body: { room: 'live', s: 1 } });
  t.notOk('duplicate' in first.body);
  const retry = await api.roomItem('live', { k: Kind.Gift, g: 'rocket', a: 3, u: 'shop', n: 'Sponsor', key: 'pay-1' });
  t.match(retry, { status: 200, body: { room: 'live', s: 1, duplicate: true } }, 'the retry: the first s, duplicate');
  await turn();
  t.equal(published.length, 2, 'published, and its stored copy again for the retry');
  t.match(decode(published[0]!), { s: 1, k: Kind.Gift, u: 'shop', n: 'Sponsor', g: 'rocket', a: 3 });
  t.same(Buffer.from(published[1]!), Buffer.from(published[0]!), 'the same bytes, the same seq: viewers drop it by seq');
  const items = await held(history, 'live');
  t.equal(items.length, 1, 'one item in the recovery window');
  t.match(items[0], { seq: 1, keep: true });
  t.same(await api.roomItem('other', { k: Kind.Gift, g: 'rocket', key: 'pay-1' }).then((a) => a.status), 200, 'the same key for another room is another request');
  const system = await api.roomItem('live', { k: Kind.Notice, x: 'maintenance at 10' });
  t.match(system, { status: 200, body: { s: 2 } }, 'without a key, a system notice');
  t.match(decode(published[2]!), { s: 2, k: Kind.Notice, u: '', n: 'system', x: 'maintenance at 10' });
});

t.test('backend api - bad input is a 400 that says what, and does nothing', async (t) => {
  const { api, published, history } = setup();
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['bad.room', { k: Kind.Gift, g: 'x' }, /room must match/],
    ['r', { k: 9 }, /k must be one of/],
    ['r', { k: Kind.Gift }, /g is required/],
    ['r', { k: Kind.Gift, g: 'x', a: 0 }, /a must be an integer/],
    ['r', { k: Kind.Danmaku, x: '   ' }, /x /],
    ['r', { k: Kind.Gift, g: 'x', key: '' }, /key must be/],
    ['r', { k: Kind.Gift, g: 'x', key: 'has space' }, /key must be/],
    ['r', { k: Kind.Gift, g: 'x', key: 'k'.repeat(65) }, /key must be/],
    ['r', { k: Kind.Gift, g: 'x', u: 'bad uid' }, /u must be/],
    ['r', { k: Kind.Gift, g: 'x', u: 5 }, /u must be/],
    ['r', { k: Kind.Gift, g: 'x', n: 5 }, /n must be a string/],
  ];
  for (const [room, body, error] of cases) {
    const a = await api.roomItem(room, body);
    t.equal(a.status, 400, JSON.stringify(body));
    t.match(a.body.error, error);
  }
  t.equal((await api.notice('bad uid', { x: 'hi' })).status, 400);
  t.equal((await api.notice('bob', { x: '' })).status, 400);
  t.equal((await api.notice('bob', {})).status, 400);
  t.equal((await api.notice('bob', { x: 'hi', key: 7 })).status, 400);
  t.equal(published.length, 0, 'nothing published');
  t.same(await held(history, 'r'), [], 'nothing stored');
});

t.test('backend api - NATS down before the publish: 503, nothing published or stored, the key free for the retry', async (t) => {
  const { api, viewer, published, history, confirms } = setup();
  await viewer.subscribe('live');
  confirms.push(new BusUnavailableError('NATS is unreachable'));
  const down = await api.roomItem('live', { k: Kind.Gift, g: 'rocket', key: 'k1' });
  t.match(down, { status: 503, body: { error: /nothing was published/ } });
  t.equal(published.length, 0);
  t.same(await held(history, 'live'), [], 'not in the window either');
  const retry = await api.roomItem('live', { k: Kind.Gift, g: 'rocket', key: 'k1' });
  t.equal(retry.status, 200, 'the retry is processed anew');
  t.notOk(retry.body.duplicate);
  t.equal(published.length, 1);
});

t.test('backend api - NATS not confirming after the publish: 503 "may or may not"; the retry gets 200 duplicate, nothing twice', async (t) => {
  const { api, viewer, published, history, confirms } = setup();
  await viewer.subscribe('live');
  confirms.push(null, new BusTimeoutError('publish: NATS did not confirm'));
  const unsure = await api.roomItem('live', { k: Kind.Gift, g: 'rocket', key: 'k2' });
  t.match(unsure, { status: 503, body: { error: /may or may not/ } });
  await new Promise((r) => setImmediate(r)); // the settle (not awaited by the answer)
  const retry = await api.roomItem('live', { k: Kind.Gift, g: 'rocket', key: 'k2' });
  t.match(retry, { status: 200, body: { s: 1, duplicate: true } });
  await turn();
  t.equal(published.length, 2, 'published, then the stored copy again for the retry');
  t.same(Buffer.from(published[1]!), Buffer.from(published[0]!));
  t.equal((await held(history, 'live')).length, 1, 'stored once');
});

t.test('backend api - the recovery window failing: 503 "may or may not"; the key is kept until its claim lapses, then processed anew', async (t) => {
  const { api, viewer, published, history } = setup({ dedupeTtlMs: 300 });
  await viewer.subscribe('live');
  const append = history.append.bind(history);
  history.append = async () => {
    throw new Error('Redis timeout');
  };
  const a = await api.roomItem('live', { k: Kind.Danmaku, x: 'hi', key: 'k3' });
  t.match(a, { status: 503, body: { error: /may or may not be stored \(it was not published\); retry with the same key/ } });
  t.equal(published.length, 0, 'nothing published');
  history.append = append;
  t.match(await api.roomItem('live', { k: Kind.Danmaku, x: 'hi', key: 'k3' }), { status: 503, body: { error: /still being processed/ } }, 'the claim is kept: the first attempt may have stored it');
  await sleep(400);
  t.match(await api.roomItem('live', { k: Kind.Danmaku, x: 'hi', key: 'k3' }), { status: 200, body: { s: 2 } }, 'not stored: processed anew once the claim lapsed (s 1 was taken and lost)');
  t.same(seqsOf(await held(history, 'live')), [2], 'one copy');
  t.equal(published.length, 1);
});

t.test('backend api - an append that timed out after Redis ran it: the retry gets 200 duplicate and publishes the stored copy, one copy', async (t) => {
  const { api, viewer, published, history } = setup();
  await viewer.subscribe('live');
  const append = history.append.bind(history);
  history.append = async (room, item, settle) => {
    await append(room, item, settle);
    throw new Error('Command timed out');
  };
  t.match(await api.roomItem('live', { k: Kind.Gift, g: 'rocket', key: 'k4' }), { status: 503, body: { error: /may or may not be stored/ } });
  t.equal(published.length, 0, 'stored, never published');
  history.append = append;
  t.match(await api.roomItem('live', { k: Kind.Gift, g: 'rocket', key: 'k4' }), { status: 200, body: { s: 1, duplicate: true } }, 'the key was settled with the append');
  await turn();
  t.equal(published.length, 1, 'the stored copy reached the viewers');
  const items = await held(history, 'live');
  t.same(seqsOf(items), [1], 'stored once, under one seq');
  t.same(Buffer.from(published[0]!), Buffer.from(items[0]!.data), 'the exact stored bytes');
});

t.test('backend api - the bus refusing the publish after the append: 503; the retry gets 200 duplicate and publishes the stored copy', async (t) => {
  const { api, bus, viewer, published } = setup();
  await viewer.subscribe('live');
  const publish = bus.publish.bind(bus);
  bus.publish = () => {
    throw new Error('connection closed');
  };
  t.match(await api.roomItem('live', { k: Kind.Notice, x: 'hello', key: 'k5' }), { status: 503, body: { error: /stored for recovery but the bus did not take it/ } });
  bus.publish = publish;
  t.match(await api.roomItem('live', { k: Kind.Notice, x: 'hello', key: 'k5' }), { status: 200, body: { s: 1, duplicate: true } });
  await turn();
  t.equal(published.length, 1);
  t.match(decode(published[0]!), { s: 1, k: Kind.Notice, x: 'hello' });
});

t.test('backend api - the sequence store down (numbers 0): 503, nothing published or stored', async (t) => {
  const { api, viewer, published, queue } = setup({ unsequenced: true });
  await viewer.subscribe('live');
  t.match(await api.roomItem('live', { k: Kind.Danmaku, x: 'hi' }), { status: 503, body: { error: /sequence store/ } });
  t.match(await api.notice('bob', { x: 'hi' }), { status: 503, body: { error: /sequence store/ } });
  t.equal(published.length, 0);
  t.equal(queue.records.length, 0);
});

t.test('backend api - a notice is stored (a valid queue record) and pushed; a retry with the key gets the first s and id', async (t) => {
  const { api, queue, registry, viewer } = setup();
  const pushes: Uint8Array[] = [];
  await viewer.listen('gw-1', { nodeMessage: (d) => pushes.push(d) });
  await registry.replace('gw-1', new Map([['bob', 1]]), 60_000);
  const first = await api.notice('bob', { x: 'you won', key: 'n-1' });
  t.match(first, { status: 200, body: { to: 'bob', s: 1, id: /^[A-Za-z0-9_-]{16}$/, delivered: true, gateways: 1 } });
  t.equal(pushes.length, 1, 'pushed live');
  t.equal(queue.records.length, 1, 'in the storage queue');
  const rec = queue.records[0]!;
  t.match(rec, { c: 'notice:bob', s: 1, u: '', r: ['bob'], k: '|notice:bob|n-1', id: first.body.id });
  t.match(decode(rec.m), { to: 'bob', s: 1, u: '', n: 'system', x: 'you won', id: first.body.id });
  t.ok(toRecord(decode(encodeRecord(rec))), 'the queue takes it back as a record (the writers check every record)');
  const retry = await api.notice('bob', { x: 'you won', key: 'n-1' });
  t.same(retry, { status: 200, body: { to: 'bob', s: 1, id: first.body.id, duplicate: true } });
  t.equal(queue.records.length, 1, 'stored once');
  t.equal(pushes.length, 1, 'pushed once');
  const other = await api.notice('carl', { x: 'you won', key: 'n-1' });
  t.match(other, { status: 200, body: { to: 'carl', s: 1, delivered: false, gateways: 0 } }, 'the same key to another user: another notice');
  t.not(other.body.id, first.body.id);
  const unkeyed = await api.notice('bob', { x: 'hello' });
  t.ok(toRecord(decode(encodeRecord(queue.records.at(-1)!))), 'without a key too');
  t.match(unkeyed, { status: 200, body: { s: 2 } });
});

t.test('backend api - a notice the queue refuses: 503, nothing stored; one it may have stored keeps the key', async (t) => {
  const { api, queue } = setup();
  queue.fail = new QueueFullError('full');
  t.match(await api.notice('bob', { x: 'a', key: 'q' }), { status: 503, body: { error: /full: nothing was stored/ } });
  queue.fail = new QueueUnavailableError('NATS is unreachable');
  t.match(await api.notice('bob', { x: 'a', key: 'q' }), { status: 503, body: { error: /unavailable: nothing was stored/ } }, 'the key was free again');
  queue.fail = new QueueUnavailableError('no PubAck', true);
  t.match(await api.notice('bob', { x: 'a', key: 'q' }), { status: 503, body: { error: /may or may not be stored/ } });
  queue.fail = null;
  t.match(await api.notice('bob', { x: 'a', key: 'q' }), { status: 503, body: { error: /still being processed/ } }, 'the maybe-stored claim is kept until it lapses');
  t.equal(queue.records.length, 0);
});

t.test('backend api - the NATS transport: JSON in, {status, ...body} out, bad input a 400, counted', async (t) => {
  const { api, viewer, published, metrics } = setup();
  await viewer.subscribe('live');
  const item = api.natsHandler('room_item');
  const call = async (h: typeof item, body: unknown) => JSON.parse(Buffer.from(await h(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)))).toString()) as Record<string, unknown>;
  t.match(await call(item, { room: 'live', k: Kind.Gift, g: 'rocket', key: 'z' }), { status: 200, room: 'live', s: 1 });
  t.match(await call(item, { room: 'live', k: Kind.Gift, g: 'rocket', key: 'z' }), { status: 200, s: 1, duplicate: true });
  t.match(await call(item, { k: Kind.Gift, g: 'rocket' }), { status: 400, error: /room is required/ });
  t.match(await call(item, '{not json'), { status: 400, error: /not valid JSON/ });
  t.match(await call(item, '[1]'), { status: 400, error: /JSON object/ });
  t.match(await call(item, `{"room":"live","x":"${'a'.repeat(300_000)}"}`), { status: 413 });
  const notice = api.natsHandler('notice');
  t.match(await call(notice, { to: 'bob', x: 'hi' }), { status: 200, to: 'bob', s: 1, delivered: false });
  t.match(await call(notice, { x: 'hi' }), { status: 400, error: /to is required/ });
  await turn();
  t.equal(published.length, 2, 'the item, and its stored copy again for the retry');
  const text = await metrics.registry.metrics();
  t.match(text, /danmaku_admin_requests_total\{route="nats_room_item",status="400"[^}]*\} 3/);
  t.match(text, /danmaku_admin_requests_total\{route="nats_user_notice",status="200"[^}]*\} 1/);
});

t.test('send path - a replayed item is stored before it is published; a gift is refused while unsequenced, danmaku flow', async (t) => {
  const { logic, viewer, published, history } = setup({ dedupeTtlMs: 300 });
  await viewer.subscribe('r');
  const req = (b: Record<string, unknown>) => ({ o: Op.Send, u: 'alice', n: 'alice', r: [], room: 'r', at: Date.now(), b });
  const append = history.append.bind(history);
  history.append = async () => {
    throw new Error('Redis timeout');
  };
  const failed = await logic.send(req({ k: Kind.Gift, g: 'rose', id: 'g-1' }));
  t.match(failed, { e: Errors.Unavailable.code, m: /may or may not be stored; retry with the same id/ }, 'the window failing: ERROR 30, outcome unknown');
  t.match(await logic.send(req({ k: Kind.Like })), { s: 2 }, 'a like is not replayed: it needs no window');
  t.equal(published.length, 1, 'only the like was published');
  history.append = append;
  t.match(await logic.send(req({ k: Kind.Gift, g: 'rose', id: 'g-1' })), { e: Errors.Unavailable.code, m: /still being processed/ }, 'the claim is kept while the first may be stored');
  await sleep(400);
  const ack = await logic.send(req({ k: Kind.Gift, g: 'rose', id: 'g-1' }));
  t.match(ack, { s: 3 }, 'once the claim lapsed, the retry with the same id is processed anew');
  t.notOk('dup' in ack);
  t.match(await held(history, 'r'), [{ seq: 3, keep: true }], 'stored before the ACK, once');

  const down = setup({ unsequenced: true });
  await down.viewer.subscribe('r');
  t.match(await down.logic.send(req({ k: Kind.Gift, g: 'rose', id: 'g-2' })), { e: Errors.Unavailable.code }, 'no seq: a gift is refused');
  t.match(await down.logic.send(req({ k: Kind.Danmaku, x: 'hi' })), { s: 0 }, 'a danmaku goes out unsequenced');
  t.equal(down.published.length, 1);
  t.same(await held(down.history, 'r'), [], 'and is not stored');
});

t.test('send path - an append that timed out after Redis ran it: the retry is acknowledged dup and republishes the stored copy; t is the window time', async (t) => {
  const { logic, viewer, published, history } = setup();
  await viewer.subscribe('r');
  const at = Date.now() - 5_000; // the gateway received it 5 s ago (a stall before the append)
  const req = (b: Record<string, unknown>) => ({ o: Op.Send, u: 'alice', n: 'alice', r: [], room: 'r', at, b });
  const append = history.append.bind(history);
  history.append = async (room, item, settle) => {
    await append(room, item, settle);
    throw new Error('Command timed out');
  };
  const before = Date.now();
  t.match(await logic.send(req({ k: Kind.Danmaku, x: 'hi', id: 'd-1' })), { e: Errors.Unavailable.code, m: /may or may not be stored/ });
  t.equal(published.length, 0);
  history.append = append;
  t.same(await logic.send(req({ k: Kind.Danmaku, x: 'hi', id: 'd-1' })), { s: 1, t: at, dup: true }, 'settled with the append');
  await turn();
  t.equal(published.length, 1, 'the stored copy reached the viewers');
  const items = await held(history, 'r');
  t.same(seqsOf(items), [1], 'one copy');
  t.same(Buffer.from(published[0]!), Buffer.from(items[0]!.data));
  t.ok(items[0]!.t >= before, "the window's t is when it was stored, not the gateway's receive time");
  t.match(decode(published[0]!), { s: 1, t: at }, "the item's own t stays the receive time");
  t.same(await logic.send(req({ k: Kind.Danmaku, x: 'hi', id: 'd-1' })), { s: 1, t: at, dup: true }, 'a retry of the retry: dup');
  await turn();
  t.equal(published.length, 1, 'not republished again within a couple of seconds (retries are not rate-limited)');
  t.same(await logic.send(req({ k: Kind.Like, id: 'l-1' })), { s: 2, t: at });
  t.same(await logic.send(req({ k: Kind.Like, id: 'l-1' })), { s: 2, t: at, dup: true }, 'a like (not stored) is settled after its publish');
  await turn();
  t.equal(published.length, 2, 'and is not republished');
});

t.test('replica wait - a gift is acknowledged and published only once the replicas confirm; its retry waits too; danmaku do not wait', async (t) => {
  const replicas = new FakeReplicas();
  const { logic, api, viewer, published, history } = setup({ replicas });
  await viewer.subscribe('r');
  const req = (b: Record<string, unknown>) => ({ o: Op.Send, u: 'alice', n: 'alice', r: [], room: 'r', at: Date.now(), b });
  replicas.fail = new ReplicaWaitError('0 of 1 Redis replicas confirmed the write within 300 ms');
  t.match(await logic.send(req({ k: Kind.Gift, g: 'rose', id: 'g-1' })), { e: Errors.Unavailable.code, m: /not confirmed by the Redis replicas .*may or may not be stored; retry with the same id/ }, 'SEND: ERROR 30, outcome unknown');
  t.match(await held(history, 'r'), [{ seq: 1, keep: true }], 'stored on the primary (the window)');
  t.match(await logic.send(req({ k: Kind.Danmaku, x: 'hi', id: 'd-1' })), { s: 2 }, 'a danmaku does not wait');
  await turn();
  t.same(published.map((p) => (decode(p) as { k: number }).k), [Kind.Danmaku], 'the gift not published while unconfirmed');
  t.match(await logic.send(req({ k: Kind.Gift, g: 'rose', id: 'g-1' })), { e: Errors.Unavailable.code, m: /stored, not confirmed by the Redis replicas .*: the item may or may not be stored; retry with the same id/ }, 'its retry: still ERROR 30, not dup');
  const api503 = await api.roomItem('r', { k: Kind.Gift, g: 'car', key: 'pay-1' });
  t.match(api503, { status: 503, body: { error: /not confirmed by the Redis replicas .*may or may not be stored/ } }, 'backend API: 503');
  t.match(await api.roomItem('r', { k: Kind.Gift, g: 'car', key: 'pay-1' }), { status: 503, body: { error: /stored, not confirmed by the Redis replicas .*: the item may or may not be stored; retry with the same key/ } }, 'backend API retry: 503 again');
  await turn();
  t.equal(published.length, 1, 'still only the danmaku published');

  replicas.fail = null;
  t.match(await logic.send(req({ k: Kind.Gift, g: 'rose', id: 'g-1' })), { s: 1, dup: true }, 'confirmed: the retry is acknowledged dup');
  t.match(await api.roomItem('r', { k: Kind.Gift, g: 'car', key: 'pay-1' }), { status: 200, body: { s: 3, duplicate: true } }, 'backend API: 200 duplicate');
  await turn();
  t.same(published.slice(1).map((p) => (decode(p) as { s: number }).s), [1, 3], 'and each stored copy published then');
  const before = replicas.calls;
  t.match(await logic.send(req({ k: Kind.Like })), { s: 4 });
  t.match(await logic.send(req({ k: Kind.Danmaku, x: 'again' })), { s: 5 });
  t.equal(replicas.calls, before, 'likes and danmaku never ask the replicas');

  // The ticket is the one taken before the append (when the intake answered), not a fresh one.
  replicas.events.length = 0;
  const append = history.append.bind(history);
  history.append = async (...args: Parameters<typeof append>) => {
    replicas.events.push('append');
    return append(...args);
  };
  await logic.send(req({ k: Kind.Gift, g: 'lily', id: 'g-2' }));
  await api.roomItem('r', { k: Kind.Gift, g: 'boat', key: 'pay-2' });
  const t1 = replicas.events[0]!.split(' ')[1];
  const t2 = replicas.events[3]!.split(' ')[1];
  t.same(replicas.events, [`ticket ${t1}`, 'append', `confirm ${t1}`, `ticket ${t2}`, 'append', `confirm ${t2}`], 'SEND and backend API: ticket, then the append, then the confirmation of that ticket');
});

t.test('replica wait - a MSG whose seq the replicas do not confirm: ERROR 30, nothing queued, its id free', async (t) => {
  const replicas = new FakeReplicas();
  const { logic, queue } = setup({ replicas });
  const msg = { o: Op.Msg, u: 'alice', n: 'alice', r: [], room: '', at: Date.now(), b: { to: 'bob', x: 'hi', id: 'm-1' } };
  replicas.fail = new ReplicaWaitError('0 of 1 Redis replicas confirmed the write within 300 ms');
  t.match(await logic.send(msg), { e: Errors.Unavailable.code, m: /the message's sequence number was not confirmed by the Redis replicas .*nothing was stored; retry with the same id/ });
  t.equal(queue.records.length, 0, 'nothing in the storage queue');
  replicas.fail = null;
  const ack = await logic.send(msg);
  t.ok((ack as { s: number }).s > 0 && !('dup' in ack), 'the retry with the same id is processed anew (the claim was released)');
  t.equal(queue.records.length, 1, 'queued once');
});
