import t from 'tap';
import type { Store } from '../../src/store/index.js';
import { MemoryStore } from '../../src/store/memory.js';
import { storeContract } from './store-suite.js';

storeContract(t, async ({ replaySize }) => {
  // One process: every "instance" is the same in-memory store.
  const store: Store = new MemoryStore({ replaySize });
  return { store: async () => store, close: () => store.close() };
});
