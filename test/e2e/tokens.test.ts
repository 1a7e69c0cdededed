// Tokens against the real server: an open connection is closed with 4502 when its token
// expires, and stays open past that with a REFRESH; two keys (kid) are live at once and a key
// removed from TOKEN_KEYS (a restart) refuses its tokens while the other key's still work; the
// SDK refreshes by itself with a token function, and reconnects after 4502 when that fails.

import t from 'tap';
import { mintToken } from '../../src/auth/token.js';
import { DanmakuClient, RequestFailed } from '../../src/client/client.js';
import { Op } from '../../src/protocol/ops.js';
import type { Welcome } from '../../src/sdk/index.js';
import { metricValue, SECRET, sleep, startServer, waitFor } from '../helpers/server.js';
import { record, sdkClient, stateIs } from '../helpers/sdk-support.js';

t.setTimeout(90_000);

const KEY_A = 'rotation-key-a-0123456789';
const KEY_B = 'rotation-key-b-0123456789';
const KEYS = `a=${KEY_A},b=${KEY_B}`;

const closeOf = (c: DanmakuClient) => new Promise<number>((resolve) => (c.closed ? resolve(c.closed.code) : c.once('close', (code: number) => resolve(code))));

t.test('tokens - an open connection is closed 4502 at its exp; one that REFRESHed stays open past it', async (t) => {
  const srv = await startServer({ TOKEN_KEYS: KEYS, MAX_FRAME_BYTES: '1024', WEB: 'false' });
  t.teardown(() => srv.stop());
  const short = () => mintToken(KEY_A, { uid: 'alice', kid: 'a', ttlSeconds: 3 });

  const plain = await DanmakuClient.connect(srv.url, { token: short(), heartbeat: false });
  const exp = plain.welcome!.exp as number;
  t.ok(typeof exp === 'number' && exp * 1000 > Date.now(), `WELCOME exp ${exp}`);
  const refreshed = await DanmakuClient.connect(srv.url, { token: short(), heartbeat: false });
  t.equal(refreshed.welcome!.exp, exp);

  // A REFRESH with a token longer than MAX_FRAME_BYTES (1024 here) is not closed 1009.
  const long = mintToken(KEY_B, { uid: 'alice', kid: 'b', name: 'Alice', roles: ['r'.repeat(60), ...Array.from({ length: 30 }, (_, i) => `${'role'.repeat(12)}${i}`)], ttlSeconds: 60 });
  t.ok(long.length > 1024 && long.length < 4096, `a ${long.length}-byte token`);
  const reply = await refreshed.request(Op.Refresh, { token: long });
  t.equal(reply.op, Op.Refreshed);
  t.equal(reply.body.name, 'Alice');
  t.ok((reply.body.exp as number) >= exp + 50, 'the new exp');
  t.equal((reply.body.roles as string[]).length, 31);

  const other = await refreshed.request(Op.Refresh, { token: mintToken(KEY_A, { uid: 'bob', kid: 'a' }) }).catch((e: unknown) => e);
  t.ok(other instanceof RequestFailed && other.frame.body.code === 23, 'another sub: ERROR 23');
  const bad = await refreshed.request(Op.Refresh, { token: mintToken('not-the-key-0123456789', { uid: 'alice', kid: 'a' }) }).catch((e: unknown) => e);
  t.ok(bad instanceof RequestFailed && bad.frame.body.code === 23, 'a bad signature: ERROR 23');

  t.equal(await closeOf(plain), 4502, 'closed with 4502');
  t.ok(Date.now() <= exp * 1000 + 4000, `closed within the sweep's second after exp (${Date.now() - exp * 1000} ms after)`);
  await sleep(Math.max(0, exp * 1000 + 1500 - Date.now()));
  t.equal(refreshed.closed, null, 'the refreshed connection is still open past the first exp');
  t.equal((await refreshed.request(Op.Ping, null)).op, Op.Pong, 'and answers');
  t.equal(refreshed.closed, null);
  refreshed.close();

  const m = await srv.metrics();
  t.equal(metricValue(m, 'danmaku_token_refreshes_total', { result: 'ok' }), 1);
  t.equal(metricValue(m, 'danmaku_token_refreshes_total', { result: 'other_user' }), 1);
  t.equal(metricValue(m, 'danmaku_token_refreshes_total', { result: 'invalid' }), 1);
  t.equal(metricValue(m, 'danmaku_errors_total', { reason: 'token_refused' }), 2);
  t.ok(metricValue(m, 'danmaku_connections_closed_total', { reason: 'token_expired' })! >= 1);
});

t.test('tokens - TOKEN_EXPIRY_CLOSE=false: exp is checked at connect only, as before', async (t) => {
  const srv = await startServer({ TOKEN_EXPIRY_CLOSE: 'false', WEB: 'false' });
  t.teardown(() => srv.stop());
  const c = await DanmakuClient.connect(srv.url, { token: mintToken(SECRET, { uid: 'carol', ttlSeconds: 1 }), heartbeat: false });
  await sleep(2500);
  t.equal(c.closed, null);
  c.close();
  const late = await DanmakuClient.connect(srv.url, { token: mintToken(SECRET, { uid: 'carol', ttlSeconds: 1 }), heartbeat: false }).catch((e: { code?: number }) => e);
  t.equal((late as { code?: number }).code, undefined, 'a fresh one connects');
  (late as DanmakuClient).close();
});

t.test('tokens - rotation: kid a and kid b accepted at once; after a restart without a, a is refused and b works', async (t) => {
  const env = { TOKEN_KEYS: KEYS, WEB: 'false' };
  const first = await startServer(env, 'keys-ab');
  const a = await DanmakuClient.connect(first.url, { token: mintToken(KEY_A, { uid: 'ua', kid: 'a' }), heartbeat: false });
  const b = await DanmakuClient.connect(first.url, { token: mintToken(KEY_B, { uid: 'ub', kid: 'b' }), heartbeat: false });
  const plain = await DanmakuClient.connect(first.url, { token: mintToken(SECRET, { uid: 'u0' }), heartbeat: false });
  t.same([a.welcome!.uid, b.welcome!.uid, plain.welcome!.uid], ['ua', 'ub', 'u0'], 'both kids and TOKEN_SECRET at once');
  const unknown = await DanmakuClient.connect(first.url, { token: mintToken(KEY_A, { uid: 'ux', kid: 'c' }), heartbeat: false }).catch((e: { code?: number }) => e);
  t.equal((unknown as { code?: number }).code, 4501, 'an unknown kid: 4501');
  await first.stop();

  const second = await startServer({ ...env, TOKEN_KEYS: `b=${KEY_B}` }, 'keys-b');
  t.teardown(() => second.stop());
  const refused = await DanmakuClient.connect(second.url, { token: mintToken(KEY_A, { uid: 'ua', kid: 'a' }), heartbeat: false }).catch((e: { code?: number }) => e);
  t.equal((refused as { code?: number }).code, 4501, 'kid a removed: 4501');
  const still = await DanmakuClient.connect(second.url, { token: mintToken(KEY_B, { uid: 'ub', kid: 'b' }), heartbeat: false });
  t.equal(still.welcome!.uid, 'ub', 'kid b still works');
  still.close();
});

t.test('tokens - SDK: with a token function it refreshes before exp and stays connected', async (t) => {
  const srv = await startServer({ TOKEN_KEYS: KEYS, WEB: 'false' });
  t.teardown(() => srv.stop());
  let calls = 0;
  const c = sdkClient(srv.url, { token: () => (calls++, mintToken(KEY_B, { uid: 'dave', name: `Dave ${calls}`, kid: 'b', ttlSeconds: 3 })) });
  t.teardown(() => c.close());
  const r = record(c);
  const refreshes: Welcome[] = [];
  c.on('refreshed', (w) => refreshes.push(w));
  await stateIs(c, 'open');
  const firstExp = c.welcome!.exp!;
  t.ok(firstExp > 0, 'WELCOME exp');
  await waitFor(() => Date.now() > firstExp * 1000 + 1500, 10_000, 'past the first exp');
  t.ok(refreshes.length >= 1, `refreshed ${refreshes.length} time(s)`);
  t.ok(c.welcome!.exp! > firstExp, 'a later exp');
  t.match(c.welcome!.name, /^Dave \d+$/);
  t.equal(c.state, 'open');
  t.notOk(r.states.some((s) => s.state === 'reconnecting'), 'never reconnected');
  t.equal(Number(await c.ping()) > 0, true);
});

t.test('tokens - SDK: a refresh refused (ERROR 23) falls back to 4502 and a reconnect with a fresh token', async (t) => {
  const srv = await startServer({ WEB: 'false' });
  t.teardown(() => srv.stop());
  let calls = 0;
  // The refresh (second call) gets another user's token: ERROR 23; later calls are good again.
  const c = sdkClient(srv.url, { token: () => (++calls === 2 ? mintToken(SECRET, { uid: 'mallory', ttlSeconds: 60 }) : mintToken(SECRET, { uid: 'erin', ttlSeconds: calls === 1 ? 3 : 60 })) });
  t.teardown(() => c.close());
  const r = record(c);
  await stateIs(c, 'open');
  await waitFor(() => r.states.some((s) => s.state === 'reconnecting'), 10_000, 'the 4502');
  const closed = r.states.find((s) => s.state === 'reconnecting')!;
  t.equal(closed.detail.code, 4502);
  t.ok(r.errors.some((e) => (e as { code?: number }).code === 23), 'the ERROR 23 as an error event');
  await stateIs(c, 'open');
  t.equal(c.welcome!.uid, 'erin');
  t.ok(calls >= 3, `the function was called for the reconnect (${calls} calls)`);
});
