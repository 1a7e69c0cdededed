import t from 'tap';
import { MemoryRegistry } from '../../src/registry/memory.js';
import { registryContract } from './registry-suite.js';

registryContract(t, async () => {
  const registry = new MemoryRegistry();
  return { registry: async () => registry, close: async () => undefined };
});
