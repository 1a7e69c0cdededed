// Cluster mode, overload: past the bound on pending requests (the gateway's
// UPSTREAM_MAX_PENDING, the logic's LOGIC_MAX_INFLIGHT) a SEND is refused at once with ERROR 32
// `overloaded` and a retry hint, counted where it was refused; nothing refused is published,
// nothing acknowledged is lost, and once the burst is over the same ids go through. Bounds are
// set tiny so that one burst of a few hundred SENDs crosses them; no timing is asserted.

import t, { type Test } from 'tap';
import { RequestFailed, type DanmakuClient } from '../../src/client/client.js';
import { Errors } from '../../src/protocol/errors.js';
import { Kind } from '../../src/protocol/kinds.js';
import { FAST, items, startCluster, type Item } from '../helpers/cluster.js';
import { metricValue, waitFor, type RunningServer } from '../helpers/server.js';

const BURST = 300;

interface Outcome {
  readonly id: string;
  readonly ack?: number;
  readonly code?: number;
  readonly retryMs?: unknown;
}

/** Sends `ids` at once (one write burst) and collects one outcome per SEND. */
async function burst(c: DanmakuClient, ids: string[]): Promise<Outcome[]> {
  return Promise.all(
    ids.map((id) =>
      c.send({ k: Kind.Danmaku, x: id, id }).then(
        (f) => ({ id, ack: f.body.s as number }),
        (err: unknown) => {
          if (!(err instanceof RequestFailed)) throw err;
          return { id, code: err.frame.body.code as number, retryMs: err.frame.body.retryMs };
        },
      ),
    ),
  );
}

/** Retries each id until it is acknowledged (a real client waits retryMs; the bound is per id). */
async function retryAll(c: DanmakuClient, ids: string[]): Promise<void> {
  for (const id of ids) {
    for (let attempt = 0; ; attempt++) {
      const [o] = await burst(c, [id]);
      if (o!.ack !== undefined) break;
      if (attempt >= 20) throw new Error(`${id} not accepted after 20 retries (last code ${o!.code})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function overloadCase(t: Test, where: 'gateway' | 'logic', env: Record<string, string>): Promise<void> {
  const c = await startCluster({ gateways: 1, logics: 1, env: { ...FAST, USER_MESSAGE_RATE: '100000', USER_MESSAGE_BURST: '100000', CONN_FRAME_RATE: '100000', CONN_FRAME_BURST: '100000', ROOM_DISPLAY_CAP: '1000000', ...env } });
  t.teardown(() => c.stop());
  const gw = c.gateways[0] as RunningServer;
  const sender = await gw.connect('sender');
  await sender.join('r');
  const viewer = await gw.connect();
  await viewer.join('r');
  const seen: Item[] = items(viewer);
  const ids = Array.from({ length: BURST }, (_, i) => `m${i}`);

  const outcomes = await burst(sender, ids);
  const refused = outcomes.filter((o) => o.code === Errors.Overloaded.code);
  const acked = outcomes.filter((o) => o.ack !== undefined);
  t.equal(acked.length + refused.length, BURST, 'every SEND got an ACK or ERROR 32, nothing else');
  t.ok(refused.length > 0, `${refused.length} of ${BURST} refused with ERROR 32`);
  t.ok(acked.length > 0, `${acked.length} acknowledged`);
  t.ok(
    refused.every((o) => Number.isInteger(o.retryMs) && (o.retryMs as number) > 0),
    'each refusal carries a retryMs hint',
  );
  const proc = where === 'gateway' ? gw : c.logics[0]!;
  t.equal(metricValue(await proc.metrics(), 'danmaku_upstream_shed_total', { where }), refused.length, `counted as shed by the ${where}`);
  t.equal(metricValue(await gw.metrics(), 'danmaku_errors_total', { reason: 'overloaded' }), refused.length, 'and as ERROR 32 frames');

  // The burst is over: the same ids go through, each published once.
  await retryAll(
    sender,
    refused.map((o) => o.id),
  );
  await waitFor(() => new Set(seen.map((i) => i.x)).size === BURST, 10_000, 'every message delivered');
  const delivered = new Map<string, number>();
  for (const i of seen) delivered.set(i.x!, (delivered.get(i.x!) ?? 0) + 1);
  t.equal(delivered.size, BURST, 'every acknowledged message delivered, none lost');
  t.ok(
    [...delivered.values()].every((n) => n === 1),
    'none published twice: a refused SEND was not published',
  );
  t.equal(metricValue(await gw.metrics(), 'danmaku_upstream_pending', {}), 0, 'nothing left pending at the gateway');
  sender.close();
  viewer.close();
}

t.test('cluster overload - past UPSTREAM_MAX_PENDING the gateway refuses at once with ERROR 32, and recovers', (t) =>
  overloadCase(t, 'gateway', { UPSTREAM_MAX_PENDING: '20' }),
);

t.test('cluster overload - past LOGIC_MAX_INFLIGHT the logic refuses the rest of a batch with ERROR 32, and recovers', (t) =>
  overloadCase(t, 'logic', { LOGIC_MAX_INFLIGHT: '10' }),
);
