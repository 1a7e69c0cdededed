// A logic service on the in-memory stores and bus, without a server: for the tests that hand
// Logic.handle encoded batches (logic-batch, fuzz-handlers).

import type { Logger } from 'pino';
import { MemoryBroker } from '../../src/bus/memory.js';
import { createLogger } from '../../src/log.js';
import { ChatFanout } from '../../src/logic/chat.js';
import { ChatReads } from '../../src/logic/chat-reads.js';
import { Logic } from '../../src/logic/logic.js';
import { Metrics } from '../../src/metrics.js';
import { nullQueueObserver } from '../../src/queue/index.js';
import { MemoryQueue } from '../../src/queue/memory.js';
import { MemoryRegistry } from '../../src/registry/memory.js';
import { MemoryChatStore } from '../../src/store/chat/memory.js';
import { MemoryGroups } from '../../src/store/groups/memory.js';
import { MemoryRoomHistory } from '../../src/store/history/memory.js';
import { MemoryIntake } from '../../src/store/intake/memory.js';
import { MemoryDeduper, MemoryRateLimiter } from '../../src/store/limits/memory.js';
import { MemorySequencer } from '../../src/store/sequence/memory.js';

export interface MemoryLogicOptions {
  readonly logicMaxInflight: number;
  /** per user, and its burst */
  readonly userMessageRate: number;
  readonly log?: Logger;
}

export function memoryLogic(o: MemoryLogicOptions): { logic: Logic; metrics: Metrics } {
  const sequencer = new MemorySequencer();
  const intake = new MemoryIntake(new MemoryDeduper(), new MemoryRateLimiter(), (s) => sequencer.next(s));
  const stores = { history: new MemoryRoomHistory({ claims: intake }), intake, groups: new MemoryGroups(), queue: new MemoryQueue({ observer: nullQueueObserver, log: createLogger('silent') }) };
  const bus = new MemoryBroker().connect();
  bus.attach({ roomMessage: () => undefined });
  const metrics = new Metrics({ defaultMetrics: false });
  const fanout = new ChatFanout(new MemoryRegistry(), bus, metrics);
  const opts = { maxTextLength: 100, userMessageRate: o.userMessageRate, userMessageBurst: o.userMessageRate, dedupeTtlMs: 60_000, logicMaxInflight: o.logicMaxInflight, bigGroupSize: 500, groupCacheMs: 0 };
  const reads = new ChatReads(new MemoryChatStore(), stores.groups, fanout, { bigGroupSize: 500 }, metrics);
  return { logic: new Logic(bus, stores, fanout, reads, opts, metrics, o.log ?? createLogger('silent')), metrics };
}
