// The SDK's token refresh against a scripted fake WebSocket: with a token function and a
// WELCOME exp, a REFRESH after 70-90% of the time left, REFRESHED updating welcome and
// planning the next; a static token never refreshes; ERROR 23 is an error event and no retry
// when less than 2 s are left (the server's 4502 and a reconnect follow).

import t from 'tap';
import type { Welcome } from '../../src/sdk/index.js';
import { Op } from '../../src/protocol/ops.js';
import { FakeSocket, fakeClient, record } from '../helpers/sdk-support.js';
import { sleep, waitFor } from '../helpers/server.js';

const latest = () => FakeSocket.all.at(-1)!;

t.test('sdk refresh - a token function: REFRESH after 70-90% of the time left; REFRESHED moves exp on', async (t) => {
  let calls = 0;
  const c = fakeClient({ token: () => `t${++calls}` });
  t.teardown(() => c.close());
  const refreshed: Welcome[] = [];
  c.on('refreshed', (w) => refreshed.push(w));
  await waitFor(() => FakeSocket.all.length === 1, 1000, 'a socket');
  const opened = Date.now();
  const exp = (opened + 1000) / 1000;
  latest().accept({ exp });
  t.equal(c.welcome?.exp, exp);
  await waitFor(() => latest().lastRequest(Op.Refresh) !== undefined, 2000, 'the REFRESH');
  const after = Date.now() - opened;
  t.ok(after >= 650 && after <= 1500, `sent ${after} ms after WELCOME (due at 700-900 ms; exp at 1000 ms)`);
  const [, rid, body] = latest().lastRequest(Op.Refresh)!;
  t.same(body, { token: 't2' }, 'a token from the function');
  latest().push(Op.Refreshed, rid, { exp: exp + 60, name: 'Alicia', roles: [] });
  t.equal(refreshed.length, 1);
  t.match(c.welcome, { exp: exp + 60, name: 'Alicia', uid: 'alice' });
  t.equal(c.state, 'open');
  t.equal(FakeSocket.all.length, 1, 'no reconnect');
});

t.test('sdk refresh - a static token is never refreshed; a guest neither', async (t) => {
  const c = fakeClient({ token: 'static' });
  t.teardown(() => c.close());
  latest().accept({ exp: (Date.now() + 300) / 1000 });
  const g = fakeClient({});
  t.teardown(() => g.close());
  latest().accept({ uid: 'guest-1', guest: true });
  await sleep(400);
  t.equal(FakeSocket.all.flatMap((s) => s.sent).filter((f) => f[0] === Op.Refresh).length, 0);
});

t.test('sdk refresh - ERROR 23 is an error event; no retry with under 2 s left (4502 then reconnects)', async (t) => {
  let calls = 0;
  const c = fakeClient({ token: () => `t${++calls}` });
  t.teardown(() => c.close());
  const r = record(c);
  await waitFor(() => FakeSocket.all.length === 1, 1000, 'a socket');
  latest().accept({ exp: (Date.now() + 500) / 1000 });
  await waitFor(() => latest().lastRequest(Op.Refresh) !== undefined, 2000, 'the REFRESH');
  const [, rid] = latest().lastRequest(Op.Refresh)!;
  latest().push(Op.Error, rid, { code: 23, reason: 'token_refused', message: 'another user' });
  t.match(r.errors.at(-1), { code: 23 });
  await sleep(300);
  t.equal(latest().sent.filter((f) => f[0] === Op.Refresh).length, 1, 'not sent again');
  latest().serverClose(4502);
  await waitFor(() => FakeSocket.all.length === 2, 1000, 'the reconnect');
  t.equal(new URL(latest().url).searchParams.get('token'), `t${calls}`, 'with a fresh token');
});
