// Throughput of the chat storage queue on a local nats-server of its own (JetStream, file
// store in a temporary directory, removed at the end): how many records per second enqueue()
// confirms when records arrive `perTurn` per turn of the event loop (one queue message per
// turn), and how many a writer with a no-op apply takes off a backlog.
//   node dist/bench/queue-throughput.js [records=200000] [perTurn=100] [inflight=20000]

import { subjects } from '../src/bus/subjects.js';
import { createLogger } from '../src/log.js';
import { encode } from '../src/protocol/codec.js';
import { nullQueueObserver, type StoredRecord } from '../src/queue/index.js';
import { connectJetStreamQueue } from '../src/queue/jetstream.js';
import { startNats } from './lib/services.js';

const [total = 200_000, perTurn = 100, inflight = 20_000] = process.argv.slice(2).map(Number);

function record(i: number): StoredRecord {
  const s = i + 1;
  // About a chat message's size: a 60-character text, a group of two recipients.
  const t = Date.now();
  const id = `id${String(i).padStart(14, '0')}`;
  return { c: `group:g${i % 100}`, s, id, t, u: `u${i % 1000}`, m: encode({ g: `g${i % 100}`, s, u: `u${i % 1000}`, n: 'nick', t, x: 'x'.repeat(60), id }), r: [`u${i % 1000}`, 'u9'] };
}

const nats = await startNats();
try {
  const queue = await connectJetStreamQueue({ url: nats.url, name: 'queue-bench', subjects: subjects('qbench'), observer: nullQueueObserver, log: createLogger('warn') });
  let sent = 0;
  let done = 0;
  let failed = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const turn = () => {
      for (let k = 0; k < perTurn && sent < total && sent - done < inflight; k++, sent++) {
        queue.enqueue(record(sent)).then(
          () => {
            if (++done === total) resolve();
          },
          () => {
            failed++;
            if (++done === total) resolve();
          },
        );
      }
      if (sent < total) setImmediate(turn);
    };
    turn();
  });
  const enqueueMs = performance.now() - t0;
  console.log(`enqueue: ${total} records, ${perTurn} per turn, ${failed} failed: ${Math.round(total / (enqueueMs / 1000))} records/s (${enqueueMs.toFixed(0)} ms)`);

  let applied = 0;
  const t1 = performance.now();
  let finished!: () => void;
  const all = new Promise<void>((r) => (finished = r));
  const writer = queue.consume(async (records) => {
    applied += records.length;
    if (applied >= total - failed) finished();
  });
  await all;
  const applyMs = performance.now() - t1;
  console.log(`writer (no-op apply): ${applied} records: ${Math.round(applied / (applyMs / 1000))} records/s (${applyMs.toFixed(0)} ms)`);
  await writer.stop();
  await queue.close();
} finally {
  await nats.dispose();
}
