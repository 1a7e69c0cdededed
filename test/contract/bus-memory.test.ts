import t from 'tap';
import { MemoryBroker } from '../../src/bus/memory.js';
import { busContract } from './bus-suite.js';

busContract(t, async () => {
  const broker = new MemoryBroker();
  return {
    node: async () => broker.connect(),
    settle: () => new Promise((r) => setImmediate(r)),
    close: async () => undefined,
  };
});
