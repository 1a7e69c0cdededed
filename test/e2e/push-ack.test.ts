// Push ACK and resend end to end (docs/protocol.md, "Acknowledging pushes"), standalone and in
// a cluster (2 gateways, 2 logic processes, real nats-server and redis-server): a client that
// withholds RECEIVED gets the MESSAGE exactly 1 + PUSH_RESENDS times, byte for byte the same,
// no sooner than the configured times, and then finds it by SYNC; a client that acknowledges
// gets it once; a connection that closes gives up its pending pushes; hostile RECEIVED frames
// get ERROR 3 and log nothing at error level. Timing asserts lower bounds only (loopback
// jitter aside): the machine may be busy.

import t from 'tap';
import { DanmakuClient, RequestFailed, type ServerFrame } from '../../src/client/client.js';
import { decode, encodeFrame } from '../../src/protocol/codec.js';
import { Op } from '../../src/protocol/ops.js';
import { FAST } from '../helpers/cluster.js';
import { pollUntil, startChat, syncAll } from '../helpers/chat.js';
import { metricValue, sleep, waitFor, type RunningServer } from '../helpers/server.js';

t.setTimeout(180_000);

const ACK_TIMEOUT_MS = 600;
const RESEND_INTERVAL_MS = 300;
const RESENDS = 2;
const ENV = { ...FAST, PUSH_ACK_TIMEOUT_MS: String(ACK_TIMEOUT_MS), PUSH_RESEND_INTERVAL_MS: String(RESEND_INTERVAL_MS), PUSH_RESENDS: String(RESENDS) };
/** A resend leaves the server no sooner than its time; its arrival can still be this much ahead of the first copy's delay. */
const JITTER_MS = 25;

interface Arrival {
  readonly at: number;
  readonly raw: Buffer;
  readonly body: Record<string, unknown>;
}

/** Every MESSAGE frame a client receives, with its bytes and arrival time. */
function arrivals(c: DanmakuClient): Arrival[] {
  const out: Arrival[] = [];
  c.ws.on('message', (raw: Buffer) => {
    const [op, , body] = decode(raw) as [number, number, Record<string, unknown>];
    if (op === Op.Message) out.push({ at: Date.now(), raw: Buffer.from(raw), body });
  });
  return out;
}

async function sum(gateways: RunningServer[], name: string, labels?: Record<string, string>): Promise<number> {
  let n = 0;
  for (const g of new Set(gateways)) n += metricValue(await g.metrics(), name, labels);
  return n;
}

/** Live delivery finds a user once the gateway has written the registry (batched) and a logic process's cache has no older answer. */
async function registered(gateways: RunningServer[], users: number): Promise<void> {
  await waitFor(async () => (await sum(gateways, 'danmaku_registry_users')) >= users, 5000, 'the users in the registry');
}

for (const mode of ['standalone', 'cluster'] as const) {
  t.test(`push ack (${mode}) - withheld: the same MESSAGE 1 + PUSH_RESENDS times, then in the inbox; acknowledged: once`, async (t) => {
    const d = await startChat(mode, ENV);
    t.teardown(() => d.stop());
    const [gw0, gw1] = d.gateways as [RunningServer, RunningServer];
    const sam = await gw0.connect('sam');
    const wendy = await gw0.connect('wendy', { autoAck: false });
    const amy = await gw1.connect('amy', { ackDelayMs: 50 });
    const held = arrivals(wendy);
    const got = arrivals(amy);
    await registered(d.gateways, 3);

    const toWendy = await sam.message({ to: 'wendy', x: 'withheld', id: 'w-1' });
    const toAmy = await sam.message({ to: 'amy', x: 'acknowledged', id: 'a-1' });
    t.equal(toWendy.op, Op.Ack);
    t.equal(toAmy.op, Op.Ack);
    await waitFor(() => held.length >= 1 + RESENDS, 10_000, 'the resends');
    // Long enough for one more resend (and for giving up), were there to be one.
    await sleep(2 * RESEND_INTERVAL_MS + 500);
    t.equal(held.length, 1 + RESENDS, `wendy got it exactly ${1 + RESENDS} times`);
    const id = held[0]!.body.id as string;
    t.match(id, /^[A-Za-z0-9_-]{16}$/, 'a server message id');
    t.ok(held.every((a) => a.raw.equals(held[0]!.raw)), 'every copy byte for byte the same frame (same id)');
    t.equal(held[0]!.body.x, 'withheld');
    const gaps = held.slice(1).map((a, i) => a.at - held[i]!.at);
    t.comment(`copies ${gaps.map((g) => `+${g} ms`).join(', ')} apart (configured ${ACK_TIMEOUT_MS}, then ${RESEND_INTERVAL_MS})`);
    t.ok(gaps[0]! >= ACK_TIMEOUT_MS - JITTER_MS, `first resend ${gaps[0]} ms after the push (>= ${ACK_TIMEOUT_MS})`);
    for (const g of gaps.slice(1)) t.ok(g >= RESEND_INTERVAL_MS - JITTER_MS, `next resend ${g} ms later (>= ${RESEND_INTERVAL_MS})`);

    t.equal(got.length, 1, 'amy acknowledged: she got it once');
    t.equal(got[0]!.body.x, 'acknowledged');

    // Given up, it is in the inbox: SYNC finds it (storage is asynchronous: poll).
    const synced = await pollUntil(() => syncAll(wendy, 0), (r) => r.messages.some((m) => m.id === id), 10_000, 'the message in wendy\'s inbox');
    t.equal(synced.messages.filter((m) => m.id === id).length, 1, 'SYNC finds it once, under the same id');

    await waitFor(async () => (await sum(d.gateways, 'danmaku_push_pending')) === 0, 5000, 'nothing pending');
    t.ok((await sum(d.gateways, 'danmaku_push_resends_total')) >= RESENDS, 'resends counted');
    t.equal(await sum(d.gateways, 'danmaku_push_given_up_total', { reason: 'unacked' }), 1, 'one given up: wendy\'s');
    t.ok((await sum(d.gateways, 'danmaku_push_acked_total')) >= 2, 'acknowledged: amy\'s copy, and sam\'s own copies');
    t.ok((await sum(d.gateways, 'danmaku_push_ack_frames_total')) >= 2, 'RECEIVED frames counted');
    for (const c of [sam, wendy, amy]) c.close();
  });

  t.test(`push ack (${mode}) - a connection that closes gives up its pending pushes; hostile RECEIVED gets ERROR 3 and is harmless`, async (t) => {
    const d = await startChat(mode, ENV);
    t.teardown(() => d.stop());
    const [gw0] = d.gateways as [RunningServer];
    const sam = await gw0.connect('sam');
    const vic = await gw0.connect('vic', { autoAck: false });
    const held = arrivals(vic);
    await registered(d.gateways, 2);

    // Hostile or malformed RECEIVED: ERROR 3 with the frame's rid, the connection stays.
    const bad: unknown[] = [null, 'x', [], {}, { ids: 'a' }, { ids: [] }, { ids: [1] }, { ids: [''] }, { ids: ['x'.repeat(65)] }, { ids: [{ a: 1 }] }, { ids: Array.from({ length: 101 }, (_, i) => `${i}`) }, { ids: Array.from({ length: 1500 }, () => 'a') }];
    for (const body of bad) {
      const err = await vic.request(Op.Received, body).then(
        () => null,
        (e: unknown) => (e instanceof RequestFailed ? e.frame.body : e),
      );
      t.match(err, { code: 3, reason: 'bad_field' }, `ERROR 3 for ${JSON.stringify(body).slice(0, 40)}`);
    }
    // Well-formed with unknown ids: no reply at all; the next request is answered normally.
    vic.sendFrame(Op.Received, 0, { ids: ['nope', 'x'.repeat(64)] });
    vic.ws.send(encodeFrame(Op.Received, 9, { ids: ['also-nope'] }));
    const pong: ServerFrame = await vic.request(Op.Ping, null);
    t.equal(pong.op, Op.Pong, 'unknown ids: ignored, nothing sent back');

    await sam.message({ to: 'vic', x: 'then gone', id: 'v-1' });
    await waitFor(() => held.length === 1, 5000, 'the push');
    vic.close();
    await waitFor(async () => (await sum(d.gateways, 'danmaku_push_given_up_total', { reason: 'closed' })) === 1, 5000, 'given up as closed');
    await sleep(ACK_TIMEOUT_MS + 300);
    t.equal(await sum(d.gateways, 'danmaku_push_resends_total'), 0, 'nothing resent to a closed connection');
    t.equal(await sum(d.gateways, 'danmaku_push_pending'), 0);
    const again = await gw0.connect('vic');
    const synced = await pollUntil(() => syncAll(again, 0), (r) => r.messages.some((m) => m.x === 'then gone'), 10_000, 'the message in vic\'s inbox');
    t.equal(synced.messages.filter((m) => m.x === 'then gone')[0]!.id, held[0]!.body.id, 'found by SYNC on the next connection, same id');
    for (const g of new Set(d.gateways)) t.same(g.logs.filter((l) => (l.level as number) >= 50), [], 'no error-level log lines');
    for (const c of [sam, again]) c.close();
  });
}
