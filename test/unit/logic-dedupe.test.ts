// The logic service never acknowledges a message it has not published: a retry that races its
// first attempt gets ERROR 30, and only a settled first attempt is answered with dup.

import t from 'tap';
import { MemoryBroker } from '../../src/bus/memory.js';
import { createLogger } from '../../src/log.js';
import { ChatFanout } from '../../src/logic/chat.js';
import { ChatReads } from '../../src/logic/chat-reads.js';
import { Logic } from '../../src/logic/logic.js';
import { nullQueueObserver } from '../../src/queue/index.js';
import { MemoryQueue } from '../../src/queue/memory.js';
import { MemoryChatStore } from '../../src/store/chat/memory.js';
import { Metrics } from '../../src/metrics.js';
import { Errors } from '../../src/protocol/errors.js';
import { Op } from '../../src/protocol/ops.js';
import { Kind } from '../../src/protocol/kinds.js';
import { MemoryRegistry } from '../../src/registry/memory.js';
import { MemoryGroups } from '../../src/store/groups/memory.js';
import { MemoryRoomHistory } from '../../src/store/history/memory.js';
import { MemoryIntake } from '../../src/store/intake/memory.js';
import { MemoryDeduper, MemoryRateLimiter } from '../../src/store/limits/memory.js';
import { MemorySequencer } from '../../src/store/sequence/memory.js';

t.test('logic - a retry while the first attempt is in flight gets unavailable, not an ACK', async (t) => {
  const limiter = new MemoryRateLimiter();
  const sequencer = new MemorySequencer();
  const intake = new MemoryIntake(new MemoryDeduper(), limiter, (s) => sequencer.next(s));
  const stores = { history: new MemoryRoomHistory({ claims: intake }), intake, groups: new MemoryGroups(), queue: new MemoryQueue({ observer: nullQueueObserver, log: createLogger('silent') }) };
  const bus = new MemoryBroker().connect();
  const published: Uint8Array[] = [];
  bus.attach({ roomMessage: (_r, d) => published.push(d) });
  await bus.subscribe('r');
  const metrics = new Metrics({ defaultMetrics: false });
  const fanout = new ChatFanout(new MemoryRegistry(), bus, metrics);
  const opts = { maxTextLength: 100, userMessageRate: 100, userMessageBurst: 100, dedupeTtlMs: 60_000, logicMaxInflight: 100, bigGroupSize: 500, groupCacheMs: 0 };
  const logic = new Logic(bus, stores, fanout, new ChatReads(new MemoryChatStore(), stores.groups, fanout, { bigGroupSize: 500 }, metrics), opts, metrics, createLogger('silent'));
  // Hold the first attempt inside the rate limiter, as a slow Redis would.
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const allow = limiter.allow.bind(limiter);
  limiter.allow = async (...a) => (await gate, allow(...a));
  const req = { o: Op.Send, u: 'alice', n: 'alice', r: [], room: 'r', at: Date.now(), b: { k: Kind.Danmaku, x: 'hi', id: 'm-1' } };
  const first = logic.send(req);
  const retry = await logic.send(req);
  t.match(retry, { e: Errors.Unavailable.code }, 'the racing retry is told to retry');
  release();
  t.match(await first, { s: 1 }, 'the first attempt is published and acknowledged');
  t.equal(published.length, 1, 'published once');
  t.match(await logic.send(req), { s: 1, dup: true }, 'a later retry gets the first ACK again');
  t.equal(published.length, 2, 'and publishes the stored copy again (the first may never have gone out)');
  t.same(Buffer.from(published[1]!), Buffer.from(published[0]!), 'the same bytes: viewers drop it by seq');
  t.same(await logic.send({ ...req, u: 'a', b: { k: Kind.Danmaku, x: 'x', id: 'b:c' } }), { s: 2, t: req.at });
  t.same(await logic.send({ ...req, u: 'a:b', b: { k: Kind.Danmaku, x: 'x', id: 'c' } }), { s: 3, t: req.at }, 'uid a:b with id c is not uid a with id b:c');
});
