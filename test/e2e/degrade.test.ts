// Adaptive degradation with the real server process: a room pushed past the gateway's limit
// (thresholds set so low that pressure is certain: any CPU use over 1% of a core) is degraded
// step by step to level 3: its viewers get BATCH frames less often than the viewers of a small
// room with the same traffic, danmaku are shed to the lowered cap, likes keep their totals,
// and every gift arrives. The way down is the policy's unit test (test/unit/degrade.test.ts).

import t from 'tap';
import type { DanmakuClient } from '../../src/client/client.js';
import { Kind } from '../../src/protocol/kinds.js';
import { metricValue, sleep, startServer, waitFor } from '../helpers/server.js';

interface Batch {
  r: string;
  s: number;
  d: { s: number; k: number; a?: number }[];
}

/** What one viewer got: frames (with when), gift seqs in arrival order, the like total. */
function watch(c: DanmakuClient) {
  const got = { frames: [] as number[], gifts: [] as number[], likes: 0, shed: 0 };
  c.on('batch', (b: Batch) => {
    got.frames.push(Date.now());
    got.shed += b.s;
    for (const it of b.d) {
      if (it.k === Kind.Gift) got.gifts.push(it.s);
      if (it.k === Kind.Like) got.likes += it.a ?? 1;
    }
  });
  return got;
}

/** How many times each seq arrived. */
function arrivals(seqs: readonly number[]): Map<number, number> {
  const n = new Map<number, number>();
  for (const s of seqs) n.set(s, (n.get(s) ?? 0) + 1);
  return n;
}

t.test('degrade - a hot room under pressure goes to level 3: fewer batches, danmaku shed, like totals kept, every gift delivered', async (t) => {
  const srv = await startServer({
    DEGRADE: 'on',
    DEGRADE_CPU: '0.01',
    DEGRADE_LAG_MS: '0',
    DEGRADE_OUTBOUND_BYTES: '0',
    DEGRADE_MIN_MEMBERS: '3',
    MERGE_WINDOW_MS: '50',
    USER_MESSAGE_RATE: '1000',
    USER_MESSAGE_BURST: '1000',
    CONN_FRAME_RATE: '1000',
    CONN_FRAME_BURST: '1000',
  });
  t.teardown(() => srv.stop());
  const clients: DanmakuClient[] = [];
  t.teardown(() => clients.forEach((c) => c.close()));
  const join = async (uid: string, room: string) => {
    const c = await srv.connect(uid);
    clients.push(c);
    await c.join(room);
    return c;
  };
  // hot: a sender and two viewers (3 members); cold: one member that sends to itself
  const sender = await join('sender', 'hot');
  const hotViewers = [await join('v1', 'hot'), await join('v2', 'hot')];
  const cold = await join('c1', 'cold');
  const hotGot = hotViewers.map(watch);
  const coldGot = watch(cold);

  const gifts: number[] = [];
  let likes = 0;
  let sending = true;
  let failures = 0;
  const traffic = (async () => {
    for (let i = 0; sending; i++) {
      // 50 danmaku/s to each room, a like every 60 ms and a gift every 200 ms to the hot one
      const sends: Promise<unknown>[] = [sender.send({ k: Kind.Danmaku, x: `d${i}` }), cold.send({ k: Kind.Danmaku, x: `c${i}` })];
      if (i % 3 === 0) {
        likes += 2;
        sends.push(sender.send({ k: Kind.Like, a: 2 }));
      }
      if (i % 10 === 0) sends.push(sender.send({ k: Kind.Gift, g: 'rose', a: 1 }).then((ack) => gifts.push(ack.body.s as number)));
      await Promise.all(sends).catch(() => failures++);
      await sleep(20);
    }
  })();

  await waitFor(async () => metricValue(await srv.metrics(), 'danmaku_degrade_level') === 3, 30_000, 'level 3');
  const m = await srv.metrics();
  t.ok(metricValue(m, 'danmaku_degrade_steps_total', { direction: 'up', signal: 'cpu' }) >= 3, 'three steps up, by cpu');
  t.equal(metricValue(m, 'danmaku_degrade_steps_total', { direction: 'down', signal: 'none' }), 0, 'none down');
  t.equal(metricValue(m, 'danmaku_degraded_rooms'), 1, 'the hot room only: the cold one has one member');
  const raised = srv.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('degradation level raised'));
  t.same(raised.map((l) => l.level), [1, 2, 3], 'each step logged at info with its level');
  t.equal(raised[0]?.signal, 'cpu');

  // at level 3 (400 ms windows) the hot room's viewers get far fewer frames than the cold
  // room's member for the same 50 items/s
  const from = Date.now();
  await sleep(3000);
  const to = Date.now();
  const inWindow = (frames: number[]) => frames.filter((at) => at >= from && at < to).length;
  const coldFrames = inWindow(coldGot.frames);
  for (const [i, got] of hotGot.entries()) {
    const hot = inWindow(got.frames);
    t.ok(hot * 3 < coldFrames, `hot viewer ${i}: ${hot} BATCH frames in 3 s against the cold room's ${coldFrames}`);
    t.ok(hot <= 3000 / 400 + 2, `hot viewer ${i}: at most one frame per 400 ms window (${hot})`);
  }

  sending = false;
  await traffic;
  t.equal(failures, 0, 'every send acknowledged');
  t.ok(gifts.length >= 20, `${gifts.length} gifts sent`);
  // held likes go out within a second and one window (400 ms); the last window within 400 ms
  await waitFor(() => hotGot.every((g) => gifts.every((s) => g.gifts.includes(s)) && g.likes === likes), 5000, 'every gift and the like total at each hot viewer');
  await sleep(500); // a copy would come within a window
  for (const [i, got] of hotGot.entries()) {
    const n = arrivals(got.gifts);
    t.equal(n.size, gifts.length, `hot viewer ${i}: every gift`);
    t.same([...n.entries()].filter(([, k]) => k !== 1), [], `hot viewer ${i}: each gift exactly once`);
    t.same(got.gifts, [...got.gifts].sort((a, b) => a - b), `hot viewer ${i}: gifts in increasing s`);
    t.same([...got.gifts].sort((a, b) => a - b), [...gifts].sort((a, b) => a - b), `hot viewer ${i}: the gifts sent, no other`);
    t.equal(got.likes, likes, 'the like total');
    t.ok(got.shed > 0, `danmaku shed to the lowered cap (BATCH s: ${got.shed})`);
  }
  t.equal(coldGot.shed, 0, 'the cold room sheds nothing at 50/s under its cap of 60');
  const after = await srv.metrics();
  t.ok(metricValue(after, 'danmaku_dropped_total', { reason: 'degraded' }) > 0, 'the degradation\'s shedding counted as degraded');
  t.equal(metricValue(after, 'danmaku_dropped_total', { reason: 'never_shed_dropped' }), 0);
});

t.test('degrade - off: the same pressure that degrades a server with DEGRADE=on leaves the level at 0', async (t) => {
  // The same thresholds and load on two servers side by side: the one with DEGRADE=on is the
  // control, so that the off one cannot pass for want of pressure.
  const env = { DEGRADE_CPU: '0.01', DEGRADE_LAG_MS: '0', DEGRADE_OUTBOUND_BYTES: '0', DEGRADE_MIN_MEMBERS: '1' };
  const [off, on] = await Promise.all([startServer({ ...env, DEGRADE: 'off' }), startServer({ ...env, DEGRADE: 'on' })]);
  t.teardown(() => Promise.all([off.stop(), on.stop()]));
  const clients = await Promise.all([off.connect('a'), on.connect('a')]);
  t.teardown(() => clients.forEach((c) => c.close()));
  await Promise.all(clients.map((c) => c.join('r')));
  let sending = true;
  const load = clients.map(async (c) => {
    for (let i = 0; sending; i++) {
      await c.send({ k: Kind.Danmaku, x: `d${i}` }).catch(() => undefined);
      await sleep(50);
    }
  });
  await waitFor(async () => metricValue(await on.metrics(), 'danmaku_degrade_level') >= 1, 20_000, 'the DEGRADE=on control degrades');
  // the off server ran under the same load for as long, and a second more
  await sleep(1000);
  sending = false;
  await Promise.all(load);
  const m = await off.metrics();
  t.equal(metricValue(m, 'danmaku_degrade_level'), 0, 'off: level 0');
  t.equal(metricValue(m, 'danmaku_degraded_rooms'), 0);
  t.equal(metricValue(m, 'danmaku_degrade_steps_total', { direction: 'up', signal: 'cpu' }), 0, 'off: no step');
  t.ok(metricValue(await on.metrics(), 'danmaku_degrade_steps_total', { direction: 'up', signal: 'cpu' }) >= 1, 'on: stepped up by cpu');
});
