// Every bad input gets its documented answer, is counted, and disturbs nobody else.

import { createSigner } from 'fast-jwt';
import { Packr } from 'msgpackr';
import t from 'tap';
import { DanmakuClient, RequestFailed } from '../../src/client/client.js';
import { encodeFrame } from '../../src/protocol/codec.js';
import { CloseCodes, Errors } from '../../src/protocol/errors.js';
import { Op } from '../../src/protocol/ops.js';
import { Kind } from '../../src/protocol/kinds.js';
import { closeOf, RawConnection, rawUpgrade } from '../helpers/raw-ws.js';
import { metricValue, SECRET, sleep, startServer, waitFor } from '../helpers/server.js';

type Srv = Awaited<ReturnType<typeof startServer>>;

function nextError(c: DanmakuClient): Promise<Record<string, unknown>> {
  return new Promise((resolve) => c.once('error-frame', resolve));
}

function closed(c: DanmakuClient): Promise<{ code: number; reason: string }> {
  if (c.closed) return Promise.resolve(c.closed);
  return new Promise((resolve) => c.once('close', (code: number, reason: string) => resolve({ code, reason })));
}

async function refused(srv: Srv, token: string | undefined): Promise<{ code: number; reason: string }> {
  try {
    await DanmakuClient.connect(srv.url, { token, heartbeat: false });
  } catch (err) {
    return err as { code: number; reason: string };
  }
  throw new Error('connection was accepted');
}

t.test('bad input - each malformed frame gets an error frame and the connection lives on', async (t) => {
  const srv = await startServer();
  t.teardown(() => srv.stop());
  const bystander = await srv.connect('bystander');
  await bystander.join('calm');
  const c = await srv.connect('mallory');
  const cases: [string, Buffer, number][] = [
    ['malformed msgpack', Buffer.from([0x93, 0x01]), Errors.BadFrame.code],
    ['not an array', encodeFrame(Op.Ping, 0, null).subarray(1), Errors.BadFrame.code],
    ['unknown op', encodeFrame(77, 0, null), Errors.UnknownOp.code],
  ];
  for (const [name, bytes, code] of cases) {
    const err = nextError(c);
    c.ws.send(bytes);
    t.equal((await err).code, code, name);
  }
  const reqErr = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err) {
      if (err instanceof RequestFailed) return err.frame.body.code;
    }
    return 'no error';
  };
  t.equal(await reqErr(c.join('bad room!')), Errors.InvalidRoom.code, 'invalid room id');
  t.equal(await reqErr(c.request(Op.Join, null)), Errors.InvalidRoom.code, 'join without a room');
  t.equal(await reqErr(c.send({ k: Kind.Danmaku, x: 'hi' })), Errors.NotInRoom.code, 'send before joining');
  await c.join('calm');
  t.equal(await reqErr(c.send({ k: Kind.Danmaku })), Errors.BadField.code, 'missing text');
  t.equal(await reqErr(c.send({ k: 42, x: 'hi' })), Errors.BadField.code, 'unknown kind');
  t.equal(await reqErr(c.send({ k: Kind.Danmaku, x: 'x'.repeat(101) })), Errors.BadField.code, 'text too long');
  t.equal(await reqErr(c.send({ k: Kind.Notice, x: 'fake notice' })), Errors.Forbidden.code, 'notice without a role');
  t.equal(await reqErr(c.send({ k: Kind.Danmaku, x: 'hi', room: 'elsewhere' })), Errors.NotInRoom.code, 'send to another room');
  const ok = await c.send({ k: Kind.Danmaku, x: 'still here' });
  t.equal(ok.op, Op.Ack, 'the connection still works');
  t.equal((await bystander.request(Op.Ping, null)).op, Op.Pong, 'the bystander is undisturbed');
  const m = await srv.metrics();
  t.equal(metricValue(m, 'danmaku_errors_total', { reason: 'bad_frame' }), 2);
  t.equal(metricValue(m, 'danmaku_errors_total', { reason: 'unknown_op' }), 1);
  t.equal(metricValue(m, 'danmaku_errors_total', { reason: 'bad_field' }), 3);
  t.equal(metricValue(m, 'danmaku_errors_total', { reason: 'invalid_room' }), 2);
  t.equal(metricValue(m, 'danmaku_upstream_messages_total', { result: 'bad_field' }), 3, 'the logic counts rejections by result');
  c.close();
  bystander.close();
});

t.test('bad input - guests may watch but not send', async (t) => {
  const srv = await startServer();
  t.teardown(() => srv.stop());
  const guest = await srv.connect();
  t.equal(guest.welcome!.guest, true);
  await guest.join('r');
  const err = await guest.send({ k: Kind.Danmaku, x: 'hi' }).then(() => null, (e: unknown) => e);
  t.ok(err instanceof RequestFailed);
  t.match((err as RequestFailed).frame.body, { code: Errors.GuestCannotSend.code, reason: 'guest_cannot_send' });
  guest.close();
});

t.test('bad input - tokens: invalid, expired, missing when guests are disabled', async (t) => {
  const srv = await startServer({ ALLOW_GUESTS: 'false' });
  t.teardown(() => srv.stop());
  const forged = createSigner({ key: 'another-secret-0123456789', expiresIn: 60_000 })({ sub: 'eve' });
  t.match(await refused(srv, forged), { code: CloseCodes.TokenInvalid.code, reason: CloseCodes.TokenInvalid.message });
  t.match(await refused(srv, 'not-a-jwt'), { code: CloseCodes.TokenInvalid.code });
  const expired = createSigner({ key: SECRET })({ sub: 'old', exp: Math.floor(Date.now() / 1000) - 10 });
  t.match(await refused(srv, expired), { code: CloseCodes.TokenExpired.code });
  t.match(await refused(srv, undefined), { code: CloseCodes.GuestsDisabled.code });
  const ok = await srv.connect('alice');
  t.equal(ok.welcome!.uid, 'alice', 'a valid token still gets in');
  const m = await srv.metrics();
  t.equal(metricValue(m, 'danmaku_errors_total', { reason: 'token_invalid' }), 2);
  t.equal(metricValue(m, 'danmaku_errors_total', { reason: 'token_expired' }), 1);
  t.equal(metricValue(m, 'danmaku_connections_closed_total', { reason: 'guests_disabled' }), 1);
  ok.close();
});

t.test('bad input - oversized upgrades: a token over MAX_TOKEN_BYTES gets 4504, a request head over MAX_HEADER_BYTES HTTP 431', async (t) => {
  const srv = await startServer();
  t.teardown(() => srv.stop());
  // a valid token, only too long: 500 roles make about 7 KB
  const big = srv.token('many-roles', Array.from({ length: 500 }, (_, i) => `role-${i}`));
  t.ok(big.length > 6 * 1024, `token of ${big.length} bytes`);
  t.match(await refused(srv, big), { code: CloseCodes.TokenTooLarge.code, reason: CloseCodes.TokenTooLarge.message }, 'in the query');
  const header = await rawUpgrade(srv.port, '/', { Authorization: `Bearer ${big}` });
  t.equal(header.status, 101, 'in the Authorization header: a WebSocket...');
  const { frames } = await new RawConnection(header.socket, header.rest).ended;
  t.same(frames.map(closeOf).filter(Boolean), [{ code: CloseCodes.TokenTooLarge.code, reason: CloseCodes.TokenTooLarge.message }], '...closed with 4504, no WELCOME');
  const cookies = await rawUpgrade(srv.port, `/?token=${srv.token('crumbs')}`, { Cookie: `session=${'c'.repeat(6 * 1024)}` });
  t.equal(cookies.status, 101, '6 KB of cookies are within MAX_HEADER_BYTES');
  const conn = new RawConnection(cookies.socket, cookies.rest);
  await conn.until((fs) => fs.some((f) => f.opcode === 0x2), 5000);
  conn.socket.destroy();
  const huge = await rawUpgrade(srv.port, `/?token=${srv.token('crumbs')}`, { Cookie: `session=${'c'.repeat(20 * 1024)}` });
  t.equal(huge.status, 431, '20 KB of cookies: HTTP 431, no WebSocket');
  huge.socket.destroy();
  t.equal((await srv.connect('after')).welcome!.uid, 'after', 'the gateway serves on');
  const m = await srv.metrics();
  t.equal(metricValue(m, 'danmaku_errors_total', { reason: 'token_too_large' }), 2);
  t.equal(metricValue(m, 'danmaku_connections_closed_total', { reason: 'token_too_large' }), 2);
});

t.test('bad input - text frames and oversized frames close with their codes', async (t) => {
  const srv = await startServer({ MAX_FRAME_BYTES: '1024' });
  t.teardown(() => srv.stop());
  const bystander = await srv.connect();
  const text = await srv.connect('texter');
  text.ws.send('hello');
  t.equal((await closed(text)).code, CloseCodes.TextFrame.code);
  const big = await srv.connect('big');
  big.ws.send(encodeFrame(Op.Send, 1, { k: Kind.Danmaku, x: 'x'.repeat(2000) }));
  const bigClose = await closed(big);
  t.equal(bigClose.code, CloseCodes.TooLarge.code, 'oversized frame');
  t.equal((await bystander.request(Op.Ping, null)).op, Op.Pong, 'others undisturbed');
  const m = await srv.metrics();
  t.equal(metricValue(m, 'danmaku_errors_total', { reason: 'text_frame' }), 1);
  t.equal(metricValue(m, 'danmaku_connections_closed_total', { reason: 'frame_too_large' }), 1);
  bystander.close();
});

t.test('bad input - a flood is answered with errors, then closed; others keep being served', async (t) => {
  const srv = await startServer({ CONN_FRAME_RATE: '10', CONN_FRAME_BURST: '10', FLOOD_CLOSE_AFTER: '20' });
  t.teardown(() => srv.stop());
  const bystander = await srv.connect();
  const flooder = await srv.connect('flooder');
  let floodErrors = 0;
  flooder.on('frame', (f: { op: number; body: { code?: number } }) => {
    if (f.op === Op.Error && f.body.code === Errors.Flood.code) floodErrors++;
  });
  for (let i = 0; i < 200; i++) flooder.sendFrame(Op.Ping, i + 1, null);
  t.equal((await closed(flooder)).code, CloseCodes.Flood.code);
  t.ok(floodErrors >= 1 && floodErrors <= 20, `${floodErrors} flood errors before the close`);
  t.equal((await bystander.request(Op.Ping, null)).op, Op.Pong);
  const m = await srv.metrics();
  t.ok(metricValue(m, 'danmaku_errors_total', { reason: 'flood' }) >= 1);
  t.equal(metricValue(m, 'danmaku_connections_closed_total', { reason: 'flood_close' }), 1);
  bystander.close();
});

t.test('bad input - the per-user rate limit answers rate_limited', async (t) => {
  const srv = await startServer({ USER_MESSAGE_RATE: '1', USER_MESSAGE_BURST: '3' });
  t.teardown(() => srv.stop());
  const c = await srv.connect('chatty');
  await c.join('r');
  const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => c.send({ k: Kind.Danmaku, x: `m${i}` })));
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 3);
  const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  t.ok(rejected.every((r) => r.reason instanceof RequestFailed && r.reason.frame.body.code === Errors.RateLimited.code));
  c.close();
});

t.test('connection - idle connections are closed with 4001; heartbeats keep them open', async (t) => {
  const srv = await startServer({ HEARTBEAT_INTERVAL_MS: '100', IDLE_TIMEOUT_MS: '400' });
  t.teardown(() => srv.stop());
  const silent = await srv.connect('silent');
  const beating = await DanmakuClient.connect(srv.url, { token: srv.token('beating'), heartbeat: true });
  t.equal(beating.welcome!.heartbeat, 100);
  t.equal(beating.welcome!.idleTimeout, 400);
  t.equal((await closed(silent)).code, CloseCodes.IdleTimeout.code);
  await sleep(300);
  t.equal(beating.closed, null, 'the client that sends PINGs is still open');
  beating.close();
});

t.test('connection - shutdown closes clients with 1012 and exits 0', async (t) => {
  const srv = await startServer();
  const cs = await Promise.all([srv.connect('a'), srv.connect(), srv.connect()]);
  await cs[0]!.join('r');
  const closes = Promise.all(cs.map(closed));
  const code = await srv.stop();
  t.equal(code, 0, 'exit code');
  t.same((await closes).map((c) => c.code), [1012, 1012, 1012]);
  await waitFor(() => srv.logs.some((l) => l.msg === 'stopped'), 1000, 'stopped log line');
});

t.test('config - production refuses the development secret', async (t) => {
  await t.rejects(startServer({ NODE_ENV: 'production', TOKEN_SECRET: '' }), /TOKEN_SECRET is the public development secret/);
});

t.test('bad input - hostile MessagePack gets ERROR 1 with its rid, and nothing is logged at error level', async (t) => {
  const srv = await startServer();
  t.teardown(() => srv.stop());
  const c = await srv.connect('mallory');
  await c.join('calm');
  const cyclic: Record<string, unknown> = { k: Kind.Danmaku, x: 'loop' };
  cyclic.self = cyclic;
  const clone = new Packr({ structuredClone: true, useRecords: false });
  const records = new Packr({ useRecords: true });
  const deep = Buffer.concat([Buffer.from([0x93, Op.Send, 102]), Buffer.alloc(2000, 0x91), Buffer.from([0xc0])]);
  const cases: [string, Uint8Array, number][] = [
    ['a cyclic body (structured clone)', clone.pack([Op.Send, 101, cyclic]), 101],
    ['a 2,000-deep body', deep, 102],
    ['a body as a msgpackr record', records.pack([Op.Send, 103, { k: Kind.Danmaku, x: 'rec' }]), 103],
    ['a timestamp', new Packr({ useRecords: false }).pack([Op.Send, 104, { k: Kind.Danmaku, x: new Date(0) }]), 104],
  ];
  for (const [name, bytes, rid] of cases) {
    // The first ERROR (the INBOX push after WELCOME may come in between).
    const reply = new Promise<{ rid: number; body: Record<string, unknown> }>((resolve) => {
      const onFrame = (f: { op: number; rid: number; body: Record<string, unknown> }) => {
        if (f.op !== Op.Error) return;
        c.off('frame', onFrame);
        resolve(f);
      };
      c.on('frame', onFrame);
    });
    c.ws.send(bytes);
    const f = await reply;
    t.same({ rid: f.rid, code: f.body.code }, { rid, code: Errors.BadFrame.code }, name);
  }
  t.equal((await c.send({ k: Kind.Danmaku, x: 'still here' })).op, Op.Ack, 'the connection still works');
  await sleep(50);
  t.same(srv.logs.filter((l) => (l.level as number) >= 50), [], 'no error-level log lines');
  c.close();
});

t.test('bad input - 64-bit integers from other languages are ordinary integers', async (t) => {
  const srv = await startServer();
  t.teardown(() => srv.stop());
  const c = await srv.connect('gopher');
  await c.join('calm');
  // [SEND, rid, {k, g, a}] with every integer as uint64 (0xcf), as Go and Java libraries write it.
  const u64 = (n: number) => [0xcf, 0, 0, 0, 0, 0, 0, 0, n];
  const str = (s: string) => [0xa0 | s.length, ...Buffer.from(s)];
  const bytes = Buffer.from([0x93, ...u64(Op.Send), ...u64(9), 0x83, ...str('k'), ...u64(Kind.Gift), ...str('g'), ...str('rose'), ...str('a'), ...u64(2)]);
  const reply = new Promise<{ op: number; rid: number }>((resolve) => {
    const onFrame = (f: { op: number; rid: number }) => {
      if (f.rid === 0) return; // a push (the INBOX after WELCOME)
      c.off('frame', onFrame);
      resolve(f);
    };
    c.on('frame', onFrame);
  });
  c.ws.send(bytes);
  t.match(await reply, { op: Op.Ack, rid: 9 });
  c.close();
});

t.test('bad input - the admin API refuses a notice text with a lone surrogate', async (t) => {
  const srv = await startServer();
  t.teardown(() => srv.stop());
  const post = (raw: string) =>
    fetch(`http://127.0.0.1:${srv.adminPort}/api/users/alice/notices`, {
      method: 'POST',
      headers: { authorization: 'Bearer danmaku-dev-admin-secret', 'content-type': 'application/json' },
      body: raw,
    });
  const bad = await post('{"x":"broken \\ud800 text"}');
  t.equal(bad.status, 400);
  t.match(await bad.json(), { error: /lone surrogate/ });
  t.equal((await post('{"x":"fine 😀"}')).status, 200, 'a well-formed text is sent');
});
