// The SDK in a cluster (2 gateways, 2 logic processes, real nats-server and redis-server): the
// gateway a viewer is on is killed; the client reconnects to its next URL (the other gateway),
// resumes its room there (recovered: every item sent while it was away arrives in the replay,
// nothing twice), and a send made while it was away is delivered once.

import t from 'tap';
import type { DanmakuClient } from '../../src/sdk/index.js';
import { FAST, startCluster } from '../helpers/cluster.js';
import { sleep, waitFor, type RunningServer } from '../helpers/server.js';
import { record, sdkClient, startProxy, texts } from '../helpers/sdk-support.js';

t.setTimeout(120_000);

t.test('sdk cluster - its gateway killed, the client moves to the other one and resumes: recovered, nothing lost, nothing twice', async (t) => {
  const c = await startCluster({ gateways: 2, logics: 2, env: FAST });
  t.teardown(() => c.stop());
  const byId = (id: string) => c.gateways.find((g) => g.name === id) as RunningServer;
  const [g0, g1] = [byId('gw-0'), byId('gw-1')];
  // The viewer reaches gw-1 through a proxy, refused until the test has sent what it misses.
  const proxy = await startProxy(g1.port);
  t.teardown(() => proxy.close());
  proxy.down();
  const clients: DanmakuClient[] = [];
  t.teardown(() => clients.forEach((x) => x.close()));
  const sender = sdkClient(g1.url, { token: g1.token('sender') });
  const viewer = sdkClient([g0.url, proxy.url], { token: g0.token('viewer') });
  clients.push(sender, viewer);
  const rv = record(viewer);
  await sender.join('live');
  const first = await viewer.join('live');
  t.equal(viewer.welcome?.gateway, 'gw-0');
  for (let i = 0; i < 5; i++) await sender.send(`before ${i}`);
  await waitFor(() => texts(rv).length === 5, 10_000, 'the first items');

  await g0.kill();
  const away: number[] = [];
  for (let i = 0; i < 8; i++) away.push((await sender.send(`away ${i}`)).s);
  away.push((await sender.gift('rose', 2)).s);
  // The viewer's own send while it is away: queued, sent once it is back in the room.
  const own = viewer.send('sent while away', { id: 'viewer-away-1' });
  // Back after the merge window has put them in the room's recovery window: a resume within it
  // gets the newest in the next BATCH instead (protocol.md, "Sequence semantics").
  await sleep(300);
  proxy.up();
  await waitFor(() => rv.joins.length >= 2, 20_000, 'the resume on the other gateway');
  t.equal(viewer.welcome?.gateway, 'gw-1', 'on the other gateway');
  const resume = rv.joins[1]!;
  t.match(resume, { room: 'live', resumed: true, recovered: true, kept: true, reset: false, epoch: first.epoch });
  const ack = await own;
  t.match(ack, { id: 'viewer-away-1', dup: false });
  await waitFor(() => rv.items.some((i) => i.item.s === ack.s), 10_000, 'its own item');
  const shown = new Set(rv.items.map((i) => i.item.s));
  t.same(away.filter((s) => !shown.has(s)), [], `all ${away.length} items sent while away shown`);
  t.ok(away.every((s) => rv.items.find((i) => i.item.s === s)!.meta.replay), 'from the replay');
  const seqs = rv.items.map((i) => i.item.s);
  t.equal(new Set(seqs).size, seqs.length, 'no item shown twice');
  t.equal(texts(rv).filter((x) => x === 'sent while away').length, 1, 'its own send once');
  const drop = rv.states.find((s) => s.state === 'reconnecting')!;
  t.equal(drop.detail.code, 1006, 'the gateway died: 1006');
});
