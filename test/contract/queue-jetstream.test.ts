// The chat storage queue contract against JetStream: a real nats-server (JetStream, file
// store in its own directory) per test; each instance is a connection of its own, as a
// process of the cluster. A unique subject prefix per fixture, as a deployment's own.

import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import t from 'tap';
import { subjects } from '../../src/bus/subjects.js';
import { createLogger } from '../../src/log.js';
import { nullQueueObserver, type ChatQueue } from '../../src/queue/index.js';
import { connectJetStreamQueue, type JetStreamQueue } from '../../src/queue/jetstream.js';
import { startNats } from '../helpers/infra.js';
import { queueContract } from './queue-suite.js';

const log = createLogger(process.env.QUEUE_TEST_LOG ?? 'silent');
let fixtures = 0;

queueContract(t, async (opts) => {
  const nats = await startNats();
  const s = subjects(`qtest${process.pid}x${++fixtures}`);
  const queues: JetStreamQueue[] = [];
  const admin = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  return {
    sharedWriters: true,
    instance: async (o) => {
      const q = await connectJetStreamQueue({
        url: nats.url,
        name: `queue-test-${queues.length}`,
        subjects: s,
        observer: o?.observer ?? nullQueueObserver,
        log,
        maxBytes: o?.maxBytes ?? opts?.maxBytes,
        ackWaitMs: o?.ackWaitMs,
        backoffCapMs: 500,
        fetchExpiresMs: 1_000,
      });
      queues.push(q);
      return q;
    },
    cluster: {
      kill: async (q: ChatQueue) => {
        await (q as JetStreamQueue).nc.close();
      },
      stopServer: () => nats.stop(),
      startServer: () => nats.start(),
      publishRaw: async (data) => {
        admin.publish(s.chatStore, data);
        await admin.flush();
      },
      backlog: async () => {
        const jsm = await jetstreamManager(admin);
        return (await jsm.streams.info(s.chatStream)).state.messages;
      },
    },
    close: async () => {
      await Promise.all(queues.map((q) => q.close()));
      await admin.close();
      await nats.dispose();
    },
  };
}, { cluster: true });
