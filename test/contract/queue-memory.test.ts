// The chat storage queue contract against the memory queue (standalone mode: one process,
// one writer; the cluster-only parts are skipped).

import t from 'tap';
import { createLogger } from '../../src/log.js';
import { nullQueueObserver } from '../../src/queue/index.js';
import { MemoryQueue } from '../../src/queue/memory.js';
import { queueContract } from './queue-suite.js';

const log = createLogger('silent');

queueContract(t, async (opts) => {
  let queue: MemoryQueue | undefined;
  return {
    sharedWriters: false,
    // One process: every instance is the same queue (the first one's observer).
    instance: async (o) => (queue ??= new MemoryQueue({ observer: o?.observer ?? nullQueueObserver, log, maxBytes: opts?.maxBytes, backoffCapMs: 500 })),
    close: async () => queue?.close(),
  };
}, { cluster: false });
