// Resuming a room (docs/protocol.md, "Resuming a room") against the real server, standalone and
// in a cluster of two gateways: a viewer that comes back with `since` gets what it missed, or
// is told exactly what it did not get; a superseded join is answered; a slow consumer that
// would lose a gift is closed, and gets the gift back when it resumes.

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import { RequestFailed, type DanmakuClient, type ServerFrame } from '../../src/client/client.js';
import { decode, encodeFrame } from '../../src/protocol/codec.js';
import { CloseCodes, Errors } from '../../src/protocol/errors.js';
import { Kind } from '../../src/protocol/kinds.js';
import { Op } from '../../src/protocol/ops.js';
import { FAST, startCluster } from '../helpers/cluster.js';
import { FLOOD_ROOM } from '../helpers/flood.js';
import { clientFrame, closeOf, RawConnection, rawUpgrade, type RawFrame } from '../helpers/raw-ws.js';
import { metricValue, sleep, startServer, waitFor, type RunningServer } from '../helpers/server.js';

interface Item {
  s: number;
  k: number;
}

interface Joined {
  room: string;
  seq: number;
  epoch: string;
  recovered?: boolean;
  kept?: boolean;
  replay: Item[];
}

/** A viewer of one room: every seq it was shown, from JOINED and BATCH frames. */
class Viewer {
  readonly seen = new Set<number>();
  epoch = '';

  constructor(
    readonly client: DanmakuClient,
    readonly room: string,
  ) {
    client.on('batch', (b: { r: string; d: Item[] }) => {
      if (b.r === room) for (const it of b.d) if (it.s > 0) this.seen.add(it.s);
    });
  }

  static async join(client: DanmakuClient, room: string, resume?: { since: number; epoch: string }): Promise<{ viewer: Viewer; joined: Joined }> {
    const v = new Viewer(client, room);
    const joined = (await client.request(Op.Join, { room, ...resume })).body as unknown as Joined;
    if (joined.epoch !== '') v.epoch = joined.epoch;
    for (const it of joined.replay) v.seen.add(it.s);
    return { viewer: v, joined };
  }

  get last(): number {
    return Math.max(0, ...this.seen);
  }
}

/** Sends danmaku every `everyMs` and a gift every tenth, for `ms`; resolves with the acknowledged seqs by kind. */
async function traffic(sender: DanmakuClient, ms: number, everyMs = 100): Promise<{ danmaku: number[]; gifts: number[] }> {
  const out = { danmaku: [] as number[], gifts: [] as number[] };
  const end = Date.now() + ms;
  for (let i = 0; Date.now() < end; i++) {
    const gift = i % 10 === 0;
    const ack = await sender.send(gift ? { k: Kind.Gift, g: 'rose', a: 1, id: `g-${i}` } : { k: Kind.Danmaku, x: `d${i}`, id: `d-${i}` });
    (gift ? out.gifts : out.danmaku).push(ack.body.s as number);
    await sleep(everyMs);
  }
  return out;
}

const missing = (seen: ReadonlySet<number>, seqs: readonly number[]) => seqs.filter((s) => !seen.has(s));

/**
 * A viewer away for `awayMs` while the room gets danmaku and gifts, then back with `since`
 * through `back` (another gateway in a cluster).
 */
async function awayAndBack(t: Test, first: RunningServer, back: RunningServer, awayMs: number) {
  const sender = await first.connect('sender');
  await sender.join('live');
  const { viewer } = await Viewer.join(await first.connect('viewer'), 'live');
  t.ok(viewer.epoch.length > 0, `JOINED carries the room's epoch (${viewer.epoch})`);
  const before = await traffic(sender, 500);
  await waitFor(() => missing(viewer.seen, [...before.danmaku, ...before.gifts]).length === 0, 5000, 'the first items');
  viewer.client.close();
  const since = viewer.last;
  const away = await traffic(sender, awayMs);
  const c2 = await back.connect('viewer');
  const resumed = await Viewer.join(c2, 'live', { since, epoch: viewer.epoch });
  return { sender, since, away, resumed };
}

async function recoversEverything(t: Test, first: RunningServer, back: RunningServer): Promise<void> {
  const { sender, since, away, resumed } = await awayAndBack(t, first, back, 5000);
  t.equal(resumed.joined.recovered, true, 'recovered');
  t.equal(resumed.joined.kept, true, 'kept');
  t.equal(resumed.joined.epoch, resumed.viewer.epoch);
  t.ok(resumed.joined.replay.some((it) => it.s === since + 1), 'the replay goes on from since');
  const all = [...away.danmaku, ...away.gifts];
  t.same(missing(resumed.viewer.seen, all), [], `every one of the ${away.danmaku.length} danmaku and ${away.gifts.length} gifts sent while away`);
  // And the live stream goes on after the JOINED, without a gap.
  const more = await traffic(sender, 300);
  await waitFor(() => missing(resumed.viewer.seen, [...more.danmaku, ...more.gifts]).length === 0, 5000, 'live items after the resume');
  const m = await back.metrics();
  t.equal(metricValue(m, 'danmaku_room_recoveries_total', { result: 'recovered' }), 1, 'counted');
  sender.close();
  resumed.viewer.client.close();
}

const WINDOW_ENV = { ROOM_RECOVERY_MS: '2000', ROOM_RECOVERY_KEEP_MS: '60000' };

async function keepsGifts(t: Test, first: RunningServer, back: RunningServer): Promise<void> {
  // Away 3.5 s with danmaku kept 2 s: the first ones sent while away have left the window.
  const { sender, since, away, resumed } = await awayAndBack(t, first, back, 3500);
  t.equal(resumed.joined.recovered, false, 'not recovered: danmaku sent while away left the window');
  t.equal(resumed.joined.kept, true, 'but every gift is still there');
  t.same(missing(resumed.viewer.seen, away.gifts), [], `all ${away.gifts.length} gifts sent while away are in the replay`);
  const recent = resumed.joined.replay.filter((it) => it.k === Kind.Danmaku).map((it) => it.s);
  t.ok(recent.length > 0 && recent.every((s) => s > since), 'with the recent danmaku of the plain replay');
  t.ok(missing(resumed.viewer.seen, away.danmaku).length > 0, 'older danmaku are not claimed');
  t.equal(metricValue(await back.metrics(), 'danmaku_room_recoveries_total', { result: 'kept' }), 1);
  sender.close();
  resumed.viewer.client.close();
}

t.test('room recovery - standalone: back after 5 s, every item', async (t) => {
  const srv = await startServer(FAST);
  t.teardown(() => srv.stop());
  await recoversEverything(t, srv, srv);
});

t.test('room recovery - standalone: back after the danmaku window, gifts kept', async (t) => {
  const srv = await startServer({ ...FAST, ...WINDOW_ENV });
  t.teardown(() => srv.stop());
  await keepsGifts(t, srv, srv);
});

t.test('room recovery - cluster: back on the other gateway after 5 s, every item; a superseded join is answered', async (t) => {
  const c = await startCluster({ gateways: 2, logics: 1, env: FAST });
  t.teardown(() => c.stop());
  await recoversEverything(t, c.gateways[0]!, c.gateways[1]!);

  // A JOIN overtaken while the gateway subscribes to the room (a NATS round trip) gets ERROR 15.
  // One write: the gateway reads the four frames in one go (frames sent one by one can arrive
  // apart on a loaded machine, after the first join's subscription was done: seen in CI).
  const sw = await rawUpgrade(c.gateways[1]!.port, `/?token=${c.gateways[1]!.token('switcher')}`);
  const swc = new RawConnection(sw.socket, sw.rest);
  await swc.until((fs) => fs.some((f) => frameOf(f)?.[0] === Op.Welcome));
  sw.socket.write(Buffer.concat([encodeFrame(Op.Join, 1, { room: 'a' }), encodeFrame(Op.Join, 2, { room: 'b' }), encodeFrame(Op.Switch, 3, { room: 'c' }), encodeFrame(Op.Leave, 4, null)].map((f) => clientFrame(f))));
  const answers = (await swc.until((fs) => [1, 2, 3, 4].every((rid) => fs.some((f) => frameOf(f)?.[1] === rid)))).map(frameOf);
  const answer = (rid: number) => answers.find((f) => f?.[1] === rid)!;
  t.same([1, 2, 3].map((rid) => (answer(rid)[0] === Op.Error ? answer(rid)[2].code : answer(rid)[0])), [15, 15, 15], 'each overtaken join gets ERROR 15 superseded');
  t.same([answer(4)[0], answer(4)[2]], [Op.Left, { room: null }], 'the LEAVE that overtook them: in no room');
  sw.socket.write(clientFrame(encodeFrame(Op.Join, 5, { room: 'd' })));
  const joinedD = (await swc.until((fs) => fs.some((f) => frameOf(f)?.[1] === 5))).map(frameOf).find((f) => f?.[1] === 5)!;
  t.same([joinedD[0], joinedD[2].room], [Op.Joined, 'd'], 'a join that nothing overtakes is answered JOINED');
  t.equal(metricValue(await c.gateways[1]!.metrics(), 'danmaku_errors_total', { reason: Errors.Superseded.reason }), 3);
  sw.socket.destroy();

  // A resume of the room the connection is in, waiting on its epoch check (a Redis round
  // trip), is overtaken by SWITCH B then SWITCH A (a member keeps A's room on the gateway):
  // the resume gets ERROR 15, not a JOINED after the later one's.
  const keeper = await c.gateways[1]!.connect('keeper');
  await keeper.join('sup-a');
  const up = await rawUpgrade(c.gateways[1]!.port, `/?token=${c.gateways[1]!.token('resumer')}`);
  const raw = new RawConnection(up.socket, up.rest);
  await raw.until((fs) => fs.some((f) => frameOf(f)?.[0] === Op.Welcome));
  raw.send(encodeFrame(Op.Join, 1, { room: 'sup-a' }));
  const plain = (await raw.until((fs) => fs.some((f) => frameOf(f)?.[1] === 1))).map(frameOf).find((f) => f?.[1] === 1)!;
  await sleep(1_100); // past EPOCH_CHECK_MS: the resume waits for the store
  const resume = { room: 'sup-a', since: plain[2].seq as number, epoch: plain[2].epoch as string };
  // One write: the gateway reads the three frames in one go.
  raw.socket.write(Buffer.concat([encodeFrame(Op.Join, 2, resume), encodeFrame(Op.Switch, 3, { room: 'sup-b' }), encodeFrame(Op.Switch, 4, { room: 'sup-a' })].map((f) => clientFrame(f))));
  await raw.until((fs) => [2, 3, 4].every((rid) => fs.some((f) => frameOf(f)?.[1] === rid)));
  await sleep(200); // a late JOINED for rid 2 would show here
  const all = (await raw.until(() => true)).map(frameOf).filter((f) => f !== null && f[1] >= 2).sort((a, b) => a![1] - b![1]); // by rid: the later ones can be answered first
  t.same(all.map((f) => [f![1], f![0], f![0] === Op.Error ? f![2].code : null]), [
    [2, Op.Error, 15],
    [3, Op.Error, 15],
    [4, Op.Joined, null],
  ], 'the overtaken resume and switch get ERROR 15; only the last request is answered JOINED');
  raw.socket.destroy();
  keeper.close();
});

t.test('room recovery - cluster: back after the danmaku window, gifts kept', async (t) => {
  const c = await startCluster({ gateways: 2, logics: 1, env: { ...FAST, ...WINDOW_ENV } });
  t.teardown(() => c.stop());
  await keepsGifts(t, c.gateways[0]!, c.gateways[1]!);
});

t.test('room recovery - cluster: Redis restarted empty, the epoch changes and nothing is claimed', async (t) => {
  const c = await startCluster({ gateways: 2, logics: 1, env: FAST });
  t.teardown(() => c.stop());
  const [g0, g1] = [c.gateways[0]!, c.gateways[1]!];
  const sender = await g0.connect('sender');
  await sender.join('live');
  const { viewer } = await Viewer.join(await g0.connect('viewer'), 'live');
  const sent = await traffic(sender, 300);
  await waitFor(() => missing(viewer.seen, sent.danmaku).length === 0, 5000, 'the first items');
  viewer.client.close();

  // Without its append-only file: Redis comes back empty, as after losing its disk.
  await c.infra.redis.stop();
  for (const f of ['appendonlydir', 'appendonly.aof']) rmSync(join(c.infra.redis.dir, f), { recursive: true, force: true });
  await c.infra.redis.start();
  // The gateway holding the room sees its Redis connection come back and checks the epoch.
  await waitFor(async () => metricValue(await g0.metrics(), 'danmaku_room_epoch_resets_total') >= 1, 10_000, 'the epoch reset on g0');
  let s = 0;
  for (let i = 0; s === 0 && i < 100; i++) {
    s = await sender.send({ k: Kind.Danmaku, x: 'after', id: `after-${i}` }).then((a) => a.body.s as number, () => 0);
    if (s === 0) await sleep(100);
  }
  t.ok(s > 0 && s < viewer.last, `the room numbers again from 1 (s ${s}; the viewer held ${viewer.last})`);

  for (const g of [g0, g1]) {
    const { joined, viewer: back } = await Viewer.join(await g.connect('viewer'), 'live', { since: viewer.last, epoch: viewer.epoch });
    t.not(joined.epoch, viewer.epoch, `${g.name}: a new epoch`);
    t.equal(joined.recovered, false, `${g.name}: not recovered`);
    t.equal(joined.kept, false);
    // In the replay, or (still in the merge window at the join) in the next BATCH.
    await waitFor(() => back.seen.has(s), 3000, `${g.name}: the item of the new epoch`);
    t.equal(metricValue(await g.metrics(), 'danmaku_room_recoveries_total', { result: 'epoch_changed' }), 1);
    back.client.close();
  }

  // Flushed while every process stays connected: the next resume confirms the epoch first.
  const { viewer: again } = await Viewer.join(await g0.connect('viewer'), 'live');
  const redis = new Redis(c.infra.redisUrl);
  await redis.flushall();
  redis.disconnect();
  let s2 = 0;
  for (let i = 0; s2 === 0 && i < 100; i++) {
    s2 = await sender.send({ k: Kind.Danmaku, x: 'flushed', id: `flushed-${i}` }).then((a) => a.body.s as number, () => 0);
    if (s2 === 0) await sleep(100);
  }
  again.client.close();
  await sleep(1200); // past EPOCH_CHECK_MS since the gateway last confirmed it
  const { joined } = await Viewer.join(await g0.connect('viewer'), 'live', { since: again.last, epoch: again.epoch });
  t.not(joined.epoch, again.epoch, 'after FLUSHALL: a new epoch');
  t.equal(joined.recovered, false, 'after FLUSHALL: not recovered');
  sender.close();
});

// A raw connection that stops reading: its buffer fills, and the gift behind it cannot be queued.
const SLOW_ENV = {
  OUTBOUND_SOFT_LIMIT_BYTES: '16384',
  SLOW_CONSUMER_GRACE_MS: '30000', // the sweep's own close must not come first
  ...FLOOD_ROOM,
};

const frameOf = (f: RawFrame) => (f.opcode === 0x2 ? (decode(f.payload) as [number, number, Record<string, unknown>]) : null);

t.test('room recovery - a slow consumer that would lose a gift is closed with 4002, and resumes it', async (t) => {
  const srv = await startServer(SLOW_ENV);
  t.teardown(() => srv.stop());
  const sender = await srv.connect('sender');
  await sender.join('busy');
  const up = await rawUpgrade(srv.port, `/?token=${srv.token('slow')}`);
  const slow = new RawConnection(up.socket, up.rest);
  await slow.until((fs) => fs.some((f) => frameOf(f)?.[0] === Op.Welcome));
  slow.send(encodeFrame(Op.Join, 1, { room: 'busy' }));
  const joinedFrame = (await slow.until((fs) => fs.some((f) => frameOf(f)?.[0] === Op.Joined))).map(frameOf).find((f) => f?.[0] === Op.Joined)!;
  const epoch = joinedFrame[2].epoch as string;
  slow.pause();

  // Long danmaku until frames are dropped for it (the kernel takes a few MB first): not a reason to close.
  const text = 'x'.repeat(2000);
  const dropped = async () => metricValue(await srv.metrics(), 'danmaku_dropped_frames_total', { reason: 'backpressure' });
  for (let round = 0; (await dropped()) === 0; round++) {
    if (round > 300) throw new Error('no frame was ever dropped');
    await Promise.all(Array.from({ length: 20 }, () => sender.send({ k: Kind.Danmaku, x: text })));
  }
  t.equal(metricValue(await srv.metrics(), 'danmaku_errors_total', { reason: 'slow_consumer' }), 0, 'danmaku dropped: no close yet');
  const gift = (await sender.send({ k: Kind.Gift, g: 'rocket', a: 1, id: 'the-gift' })).body.s as number;
  await waitFor(async () => metricValue(await srv.metrics(), 'danmaku_errors_total', { reason: 'slow_consumer' }) === 1, 5000, 'the close decision');
  const m = await srv.metrics();
  t.ok(metricValue(m, 'danmaku_dropped_total', { reason: 'never_shed_dropped' }) >= 1, 'the lost gift is counted');

  slow.resume();
  const { frames } = await slow.ended;
  const last = frames[frames.length - 1];
  t.same(last && closeOf(last), { code: CloseCodes.SlowConsumer.code, reason: CloseCodes.SlowConsumer.message }, 'closed with 4002');
  const got = new Set<number>();
  for (const f of frames) {
    const v = frameOf(f);
    if (v?.[0] === Op.Batch) for (const it of v[2].d as Item[]) got.add(it.s);
  }
  t.notOk(got.has(gift), 'the gift never reached it');
  const since = Math.max(...got);

  const back = await srv.connect('slow');
  const { viewer, joined } = await Viewer.join(back, 'busy', { since, epoch });
  t.equal(joined.kept, true, 'every gift after its last item is in the window');
  t.ok(viewer.seen.has(gift), 'the gift comes back with the resume');
  t.equal(metricValue(await srv.metrics(), 'danmaku_connections_closed_total', { reason: 'slow_consumer' }), 1);
  back.close();
  sender.close();
});
