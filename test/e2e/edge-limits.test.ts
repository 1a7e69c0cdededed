// Per-client limits at the upgrade with the real server process: per-address connections and
// connect rate (HTTP 429 with Retry-After), the Origin allow-list (HTTP 403), per-user
// connections (open, then close 4505), and client addresses named by a trusted proxy. Each is
// counted in danmaku_upgrades_limited_total and none touches the overload refusals' metrics.

import t from 'tap';
import type { Socket } from 'node:net';
import type { Test } from 'tap';
import { closeOf, RawConnection, rawUpgrade } from '../helpers/raw-ws.js';
import { metricValue, startServer, waitFor, type RunningServer } from '../helpers/server.js';

const retryAfter = (head: string) => Number(/^retry-after: (\d+)$/im.exec(head)?.[1] ?? NaN);

async function untouchedAdmission(t: Test, srv: RunningServer): Promise<void> {
  const m = await srv.metrics();
  for (const reason of ['draining', 'capacity', 'lag', 'outbound']) t.equal(metricValue(m, 'danmaku_upgrades_refused_total', { reason }), 0, `refused{${reason}} untouched`);
  t.equal(metricValue(m, 'danmaku_admission_open'), 1, 'admission stays open');
}

t.test('edge limits - per address: 429 with Retry-After past MAX_CONNECTIONS_PER_IP; a spoofed X-Forwarded-For changes nothing', async (t) => {
  const srv = await startServer({ MAX_CONNECTIONS_PER_IP: '2' });
  t.teardown(() => srv.stop());
  const held: Socket[] = [];
  t.teardown(() => held.forEach((s) => s.destroy()));
  for (let i = 0; i < 2; i++) {
    const up = await rawUpgrade(srv.port, '/');
    held.push(up.socket);
    t.equal(up.status, 101, `connection ${i + 1} admitted`);
  }
  const over = await rawUpgrade(srv.port, '/', { 'X-Forwarded-For': '203.0.113.50' });
  over.socket.destroy();
  t.equal(over.status, 429, over.head.split('\r\n')[0] ?? '');
  const s = retryAfter(over.head);
  t.ok(s >= 1 && s <= 5, `Retry-After ${s} s`);
  t.match(over.rest.toString(), /too many connections from this address/);
  const m = await srv.metrics();
  t.equal(metricValue(m, 'danmaku_upgrades_limited_total', { reason: 'ip_connections' }), 1, 'counted');
  await untouchedAdmission(t, srv);
  // one closes: the address may connect again
  held.shift()!.destroy();
  await waitFor(async () => metricValue(await srv.metrics(), 'danmaku_connections') === 1, 5000, 'the close');
  const again = await rawUpgrade(srv.port, '/');
  held.push(again.socket);
  t.equal(again.status, 101, 'admitted once one closed');
});

t.test('edge limits - connect rate per address: 429 ip_rate once the burst is spent', async (t) => {
  const srv = await startServer({ IP_CONNECT_RATE: '0.5', IP_CONNECT_BURST: '2' });
  t.teardown(() => srv.stop());
  const statuses: number[] = [];
  let head = '';
  for (let i = 0; i < 3; i++) {
    const up = await rawUpgrade(srv.port, '/');
    up.socket.destroy();
    statuses.push(up.status);
    head = up.head;
  }
  t.same(statuses, [101, 101, 429]);
  t.equal(retryAfter(head), 2, 'Retry-After: the seconds until a token (1 / 0.5 per s)');
  t.equal(metricValue(await srv.metrics(), 'danmaku_upgrades_limited_total', { reason: 'ip_rate' }), 1);
  await untouchedAdmission(t, srv);
});

t.test('edge limits - origins: listed and wildcard allowed, others 403, absent allowed; per user: close 4505', async (t) => {
  const srv = await startServer({ ALLOWED_ORIGINS: 'https://app.example, https://*.site.example', MAX_CONNECTIONS_PER_USER: '1' });
  t.teardown(() => srv.stop());
  const held: Socket[] = [];
  t.teardown(() => held.forEach((s) => s.destroy()));
  const cases: [string | null, number][] = [
    ['https://app.example', 101],
    ['https://a.site.example', 101],
    [null, 101],
    ['https://evil.example', 403],
    ['https://site.example', 403],
    ['http://app.example', 403],
  ];
  for (const [origin, want] of cases) {
    const up = await rawUpgrade(srv.port, '/', origin === null ? {} : { Origin: origin });
    held.push(up.socket);
    t.equal(up.status, want, `Origin ${origin ?? '(none)'}: ${want}`);
    if (want === 403) {
      t.match(up.rest.toString(), /^origin not allowed/);
      t.notMatch(up.head, /retry-after/i, 'no Retry-After on 403');
    }
  }
  t.equal(metricValue(await srv.metrics(), 'danmaku_upgrades_limited_total', { reason: 'origin' }), 3);

  const first = await srv.connect('alice');
  t.teardown(() => first.close());
  const second = await rawUpgrade(srv.port, `/?token=${srv.token('alice')}`);
  t.equal(second.status, 101, 'the upgrade succeeds: the close code says why');
  const conn = new RawConnection(second.socket, second.rest);
  const frames = await conn.until((f) => f.some((x) => closeOf(x) !== null));
  t.equal(frames.map(closeOf).find((c) => c !== null)?.code, 4505, 'closed with 4505 too_many_connections');
  const m = await srv.metrics();
  t.equal(metricValue(m, 'danmaku_upgrades_limited_total', { reason: 'user_connections' }), 1);
  t.equal(metricValue(m, 'danmaku_connections_closed_total', { reason: 'too_many_connections' }), 1);
  t.ok(first.welcome, 'the first connection is untouched');
  const other = await srv.connect('bob');
  t.teardown(() => other.close());
  t.ok(other.welcome, 'another user connects');
  await untouchedAdmission(t, srv);
});

t.test('edge limits - behind a trusted proxy, each client address named in X-Forwarded-For is limited on its own', async (t) => {
  const srv = await startServer({ TRUSTED_PROXIES: '127.0.0.1', MAX_CONNECTIONS_PER_IP: '1' });
  t.teardown(() => srv.stop());
  const held: Socket[] = [];
  t.teardown(() => held.forEach((s) => s.destroy()));
  const up = async (xff: string | null) => {
    const u = await rawUpgrade(srv.port, '/', xff === null ? {} : { 'X-Forwarded-For': xff });
    held.push(u.socket);
    return u.status;
  };
  t.equal(await up('203.0.113.1'), 101, 'client 1');
  t.equal(await up('203.0.113.2'), 101, 'client 2, same proxy');
  t.equal(await up('2001:db8::7, 127.0.0.1'), 101, 'client 3 (IPv6) behind two trusted hops');
  t.equal(await up('203.0.113.1'), 429, 'client 1 again: over its limit');
  t.equal(await up('198.51.100.9, 203.0.113.2'), 429, 'client 2 cannot escape by prepending an address');
  // A proxy that appends a header line of its own (HAProxy's forwardfor) after the client's forged one.
  t.equal(await up('198.51.100.66\r\nX-Forwarded-For: 203.0.113.2'), 429, 'nor by sending a line of its own before the proxy\'s');
  t.equal(await up('2001:DB8:0::7'), 429, 'the same IPv6 client written otherwise');
  t.equal(await up(null), 101, 'the proxy itself (no header) is its own address');
  t.equal(await up('garbage'), 429, 'an unreadable header counts against the proxy');
  t.equal(metricValue(await srv.metrics(), 'danmaku_upgrades_limited_total', { reason: 'ip_connections' }), 5);
});
