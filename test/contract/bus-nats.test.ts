import t from 'tap';
import { connectNatsBus, type NatsBus } from '../../src/bus/nats.js';
import { subjects } from '../../src/bus/subjects.js';
import { nullBusObserver } from '../../src/bus/index.js';
import { createLogger } from '../../src/log.js';
import { startNats } from '../helpers/infra.js';
import { busContract } from './bus-suite.js';

const log = createLogger('silent');

busContract(t, async () => {
  const nats = await startNats();
  const url = `nats://127.0.0.1:${nats.port}`;
  const nodes: NatsBus[] = [];
  return {
    node: async () => {
      const bus = await connectNatsBus({ url, name: `test-${nodes.length}`, subjects: subjects('test'), observer: nullBusObserver, log });
      nodes.push(bus);
      return bus;
    },
    // A flush of every node is a round trip to the server: what was published before it has
    // been sent on by then; the pause lets the receiving sockets be read.
    settle: async () => {
      for (let i = 0; i < 2; i++) await Promise.all(nodes.map((n) => n.flush().catch(() => undefined)));
      await new Promise((r) => setTimeout(r, 20));
    },
    close: async () => {
      await Promise.all(nodes.map((n) => n.close()));
      await nats.dispose();
    },
  };
});
