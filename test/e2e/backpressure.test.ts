// Slow consumers over a raw TCP socket that really stops reading: what they receive when the
// server gives up on them, and what is counted.

import t from 'tap';
import type { DanmakuClient } from '../../src/client/client.js';
import { decode, encodeFrame } from '../../src/protocol/codec.js';
import { CloseCodes } from '../../src/protocol/errors.js';
import { Kind } from '../../src/protocol/kinds.js';
import { Op } from '../../src/protocol/ops.js';
import { FLOOD_ROOM } from '../helpers/flood.js';
import { closeOf, RawConnection, rawUpgrade, type RawFrame } from '../helpers/raw-ws.js';
import { metricValue, sleep, startServer, waitFor } from '../helpers/server.js';

type Srv = Awaited<ReturnType<typeof startServer>>;

const ENV = {
  OUTBOUND_SOFT_LIMIT_BYTES: '16384',
  SLOW_CONSUMER_GRACE_MS: '1000',
  IDLE_TIMEOUT_MS: '60000', // sweeps every second
  ...FLOOD_ROOM,
};

const opOf = (f: RawFrame) => (f.opcode === 0x2 ? (decode(f.payload) as [number])[0] : -1);

/** A raw connection of `uid` in `room`, reading until told to pause. */
async function rawMember(srv: Srv, uid: string, room: string): Promise<RawConnection> {
  const up = await rawUpgrade(srv.port, `/?token=${srv.token(uid)}`);
  if (up.status !== 101) throw new Error(`upgrade answered ${up.head}`);
  const conn = new RawConnection(up.socket, up.rest);
  await conn.until((fs) => fs.some((f) => opOf(f) === Op.Welcome));
  conn.send(encodeFrame(Op.Join, 1, { room }));
  await conn.until((fs) => fs.some((f) => opOf(f) === Op.Joined));
  return conn;
}

/**
 * Pushes long danmaku into the room until the server has decided to close a slow consumer.
 * Danmaku, not gifts or notices: a BATCH with one of those that cannot be queued closes the
 * connection at once (room-recovery.test.ts); this is the sweep's close, after the grace.
 */
async function flood(srv: Srv, pusher: DanmakuClient, decided: () => Promise<boolean>): Promise<number> {
  const text = '語'.repeat(2000); // 6 KB of UTF-8 in MAX_TEXT_LENGTH code points
  for (let round = 0; round < 200; round++) {
    await Promise.all(Array.from({ length: 20 }, () => pusher.send({ k: Kind.Danmaku, x: text })));
    if (await decided()) return round;
    await sleep(50);
  }
  throw new Error('the slow consumer was never closed');
}

t.test('backpressure - a consumer that stops reading gets what was queued, then close 4002', async (t) => {
  // a longer grace leaves time to resume reading between the decision and the abort
  const srv = await startServer({ ...ENV, SLOW_CONSUMER_GRACE_MS: '2000' });
  t.teardown(() => srv.stop());
  const pusher = await srv.connect('pusher');
  await pusher.join('busy');
  const slow = await rawMember(srv, 'slow', 'busy');
  slow.pause();
  const rounds = await flood(srv, pusher, async () => metricValue(await srv.metrics(), 'danmaku_errors_total', { reason: 'slow_consumer' }) >= 1);
  t.comment(`closed after ${rounds + 1} rounds of 20 danmaku; ${slow.received} bytes read before the pause`);
  await sleep(100);
  slow.resume();
  const { frames, trailing } = await slow.ended;
  t.comment(`${slow.received} bytes in ${frames.length} frames`);
  const last = frames[frames.length - 1];
  t.same(last && closeOf(last), { code: CloseCodes.SlowConsumer.code, reason: CloseCodes.SlowConsumer.message }, 'the stream ends with the close frame');
  t.equal(trailing, 0, 'no frame was cut short');
  t.ok(frames.slice(0, -1).every((f) => f.opcode === 0x2 && ([Op.Welcome, Op.Inbox, Op.Joined, Op.Batch, Op.Online] as number[]).includes(opOf(f))), 'before it: whole frames of the session (the INBOX push, and an ONLINE tick may come in between)');
  t.equal((await pusher.request(Op.Ping, null)).op, Op.Pong, 'the pusher is undisturbed');
  const m = await srv.metrics();
  t.equal(metricValue(m, 'danmaku_connections_closed_total', { reason: 'slow_consumer' }), 1);
  t.equal(metricValue(m, 'danmaku_connections_closed_total', { reason: 'aborted' }), 0);
  t.ok(metricValue(m, 'danmaku_dropped_frames_total', { reason: 'backpressure' }) > 0, 'frames dropped for it are counted');
  t.equal(metricValue(m, 'danmaku_dropped_total', { reason: 'never_shed_dropped' }), 0, 'no gift or notice was among them');
  pusher.close();
});

t.test('backpressure - a consumer that never reads again is dropped after the grace, and counted', async (t) => {
  const srv = await startServer(ENV);
  t.teardown(() => srv.stop());
  const pusher = await srv.connect('pusher');
  await pusher.join('busy');
  const stuck = await rawMember(srv, 'stuck', 'busy');
  stuck.pause();
  await flood(srv, pusher, async () => metricValue(await srv.metrics(), 'danmaku_errors_total', { reason: 'slow_consumer' }) >= 1);
  await waitFor(async () => metricValue(await srv.metrics(), 'danmaku_connections_closed_total', { reason: 'aborted' }) === 1, 6000, 'the abort');
  const m = await srv.metrics();
  t.equal(metricValue(m, 'danmaku_connections_closed_total', { reason: 'slow_consumer' }), 0, 'no close frame went out');
  t.equal(metricValue(m, 'danmaku_connections'), 1, 'only the pusher is left');
  stuck.socket.destroy();
  pusher.close();
});
