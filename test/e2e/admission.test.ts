// Admission at the upgrade with the real server process: refusals are HTTP 503 with a
// Retry-After and a reason, counted, and the viewers already connected are not touched.

import t from 'tap';
import type { DanmakuClient } from '../../src/client/client.js';
import { Kind } from '../../src/protocol/kinds.js';
import { rawUpgrade } from '../helpers/raw-ws.js';
import { metricValue, startServer, waitFor } from '../helpers/server.js';

t.test('admission - the upgrade past MAX_CONNECTIONS gets 503 with Retry-After; the connected keep receiving', async (t) => {
  const srv = await startServer({ MAX_CONNECTIONS: '3', MERGE_WINDOW_MS: '0' });
  t.teardown(() => srv.stop());
  const viewers: DanmakuClient[] = [];
  for (const uid of ['a', 'b', 'c']) {
    const c = await srv.connect(uid);
    await c.join('r1');
    viewers.push(c);
  }
  t.teardown(() => viewers.forEach((c) => c.close()));

  const up = await rawUpgrade(srv.port, `/?token=${srv.token('d')}`);
  up.socket.destroy();
  t.equal(up.status, 503, up.head.split('\r\n')[0] ?? '');
  const retry = Number(/^retry-after: (\d+)$/im.exec(up.head)?.[1]);
  t.ok(retry >= 1 && retry <= 5, `Retry-After ${retry} s`);
  t.match(up.rest.toString(), /^capacity/, 'the body names the reason');

  const m = await srv.metrics();
  t.equal(metricValue(m, 'danmaku_upgrades_refused_total', { reason: 'capacity' }), 1);
  t.equal(metricValue(m, 'danmaku_connections_max'), 3);
  t.equal(metricValue(m, 'danmaku_admission_open'), 0, 'closed while full');
  t.equal(metricValue(m, 'danmaku_connections'), 3);

  // the three connected viewers still get the room's items; one of them sends
  const got = new Set<number>();
  viewers.forEach((c, i) => c.on('batch', (b: { d: { x?: string }[] }) => {
    if (b.d.some((item) => item.x === 'still here')) got.add(i);
  }));
  await viewers[0]!.send({ k: Kind.Danmaku, x: 'still here' });
  await waitFor(() => got.size === viewers.length, 5000, 'the item at every viewer').catch(() => undefined);
  t.equal(got.size, 3, 'every connected viewer received the item');

  // a place frees up: the next upgrade is admitted
  viewers.pop()!.close();
  await waitFor(async () => metricValue(await srv.metrics(), 'danmaku_admission_open') === 1, 5000, 'admission to reopen');
  const again = await srv.connect('d');
  viewers.push(again);
  t.ok(again.welcome, 'admitted once below the cap');
});

t.test('admission - a lag threshold of 1 ms refuses upgrades under load and counts them as lag', async (t) => {
  // 1 ms is below the worst delay of any second of a process that is starting and taking
  // connections: the server's own lag, nothing injected
  const srv = await startServer({ ADMIT_MAX_LAG_MS: '1' });
  t.teardown(() => srv.stop());
  let refused = 0;
  let head = '';
  let body = '';
  const deadline = Date.now() + 15_000; // two seconds' worst lags, both over 1 ms
  for (let i = 0; Date.now() < deadline && refused === 0; i++) {
    const ups = await Promise.all(Array.from({ length: 20 }, (_, j) => rawUpgrade(srv.port, `/?token=${srv.token(`u${i}-${j}`)}`)));
    for (const up of ups) {
      up.socket.destroy();
      if (up.status === 503) {
        refused++;
        head = up.head;
        body = up.rest.toString();
      }
    }
  }
  t.ok(refused > 0, `${refused} upgrades refused`);
  t.match(body, /lag/, 'the body names the reason');
  t.match(head, /retry-after: [1-5]\r?$/im, 'with a Retry-After');
  const m = await srv.metrics();
  t.equal(metricValue(m, 'danmaku_upgrades_refused_total', { reason: 'lag' }), refused);
  t.equal(metricValue(m, 'danmaku_upgrades_refused_total', { reason: 'capacity' }), 0);
  await waitFor(async () => metricValue(await srv.metrics(), 'danmaku_event_loop_lag_seconds_count') > 0, 5000, 'the lag histogram').catch(() => undefined);
  t.ok(metricValue(await srv.metrics(), 'danmaku_event_loop_lag_seconds_count') > 0, 'the lag histogram is exported, with samples');
});
