// Per-address limits and the Origin allow-list at the upgrade (gateway/ip-limits.ts), and how
// admission answers them (HTTP 403 and 429, close 4505 for a user over its limit).

import t from 'tap';
import { mintToken, TokenVerifier } from '../../src/auth/token.js';
import { Admission } from '../../src/gateway/admission.js';
import { IpLimits, limitKey, ORIGIN_PATTERN, OriginPolicy } from '../../src/gateway/ip-limits.js';
import { CloseCodes } from '../../src/protocol/errors.js';

const SECRET = 'test-secret-0123456789abcdef';

t.test('ip limits - open connections per address, released at close', async (t) => {
  const l = new IpLimits({ maxConnectionsPerIp: 2, ipConnectRate: 0, ipConnectBurst: 20 });
  t.equal(l.admit('10.0.0.1', 0), null);
  t.equal(l.admit('10.0.0.1', 0), null);
  t.same(l.admit('10.0.0.1', 0), { reason: 'ip_connections', retryAfter: null });
  t.equal(l.admit('10.0.0.2', 0), null, 'another address is not affected');
  l.closed('10.0.0.1');
  t.equal(l.connections('10.0.0.1'), 1);
  t.equal(l.admit('10.0.0.1', 0), null, 'admitted again once one closed');
  l.closed('10.0.0.1');
  l.closed('10.0.0.1');
  l.closed('10.0.0.1');
  t.equal(l.connections('10.0.0.1'), 0, 'never below zero');
  l.closed('10.0.0.2');
  t.same(l.size, [0, 0], 'addresses without connections are forgotten');
});

t.test('ip limits - connect rate: a burst, then one per 1/rate, Retry-After until the next token', async (t) => {
  const l = new IpLimits({ maxConnectionsPerIp: 0, ipConnectRate: 2, ipConnectBurst: 3 });
  for (let i = 0; i < 3; i++) t.equal(l.admit('a', 1000), null, `burst ${i}`);
  t.same(l.admit('a', 1000), { reason: 'ip_rate', retryAfter: 1 }, '0.5 s to a token: 1 s');
  t.same(l.admit('a', 1400), { reason: 'ip_rate', retryAfter: 1 });
  t.equal(l.admit('a', 1600), null, 'a token after 1/rate');
  t.equal(l.admit('b', 1600), null, 'per address');
  const slow = new IpLimits({ maxConnectionsPerIp: 0, ipConnectRate: 0.1, ipConnectBurst: 1 });
  t.equal(slow.admit('a', 0), null);
  t.same(slow.admit('a', 0), { reason: 'ip_rate', retryAfter: 10 }, 'whole seconds, rounded up');
});

t.test('ip limits - a refusal for open connections takes no connect token', async (t) => {
  const l = new IpLimits({ maxConnectionsPerIp: 1, ipConnectRate: 1, ipConnectBurst: 2 });
  t.equal(l.admit('a', 0), null);
  for (let i = 0; i < 5; i++) t.equal(l.admit('a', 0)?.reason, 'ip_connections');
  l.closed('a');
  t.equal(l.admit('a', 0), null, 'the second token is still there');
});

t.test('ip limits - memory stays bounded under a flood of distinct addresses', async (t) => {
  const l = new IpLimits({ maxConnectionsPerIp: 0, ipConnectRate: 1, ipConnectBurst: 2 }, 1000);
  for (let i = 0; i < 50_000; i++) l.admit(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 0);
  t.equal(l.size[1], 1000, 'at most the bound, the oldest forgotten');
  t.equal(l.admit('10.0.195.79', 0), null, 'a recent address keeps its bucket (one token left)');
  t.equal(l.admit('10.0.195.79', 0)?.reason, 'ip_rate');
  // refilled buckets are swept (burst 2 at 1/s: full after 2 s; the sweep runs every 10 s)
  l.admit('x', 20_000);
  t.equal(l.size[1], 1, 'after the sweep only the new address is left');
});

t.test('origins - exact, wildcard subdomains, absent always allowed', async (t) => {
  const p = new OriginPolicy(['https://app.example', 'https://*.example.com', 'http://localhost:8080']);
  t.ok(p.allows(''), 'no Origin: not a browser');
  t.ok(p.allows('https://app.example'));
  t.ok(p.allows('HTTPS://APP.EXAMPLE'), 'case-insensitive');
  t.ok(p.allows('https://a.example.com'));
  t.ok(p.allows('https://a.b.example.com'), 'deeper subdomains');
  t.ok(p.allows('http://localhost:8080'));
  t.notOk(p.allows('https://example.com'), 'the bare domain is not a subdomain');
  t.notOk(p.allows('http://a.example.com'), 'another scheme');
  t.notOk(p.allows('https://evil-example.com'));
  t.notOk(p.allows('https://a.example.com.evil.net'));
  t.notOk(p.allows('https://a.example.com:8443'), 'another port');
  t.notOk(p.allows('https://app.example.evil'));
  t.notOk(p.allows('null'), 'an opaque origin');
  t.notOk(p.allows('https://x/.example.com'));
  t.ok(new OriginPolicy([]).allows('https://anything.example'), 'empty list: any origin');
  for (const ok of ['https://a.example', 'https://*.example.com', 'http://localhost:8080', 'app://x']) t.match(ok, ORIGIN_PATTERN);
  for (const bad of ['a.example', '*.example.com', 'https://a.example/', 'https://*.*.example', 'https://a.*.example', 'https://', 'https://a b']) t.notMatch(bad, ORIGIN_PATTERN, bad);
});

t.test('admission - per-client refusals: 403 origin, 429 per address, 4505 per user; none moves admission', async (t) => {
  const users = new Map<string, number>();
  const opts = { maxConnections: 0, admitMaxLagMs: 0, admitMaxOutboundBytes: 0, allowGuests: true, maxTokenBytes: 4096, maxConnectionsPerIp: 1, ipConnectRate: 0, ipConnectBurst: 20, maxConnectionsPerUser: 2, allowedOrigins: ['https://ok.example'] };
  const a = new Admission(new TokenVerifier(SECRET), opts, () => ({ connections: 0, lagMs: 0, outboundBytes: 0 }), () => 0.5, (uid) => users.get(uid) ?? 0);
  const req = (address: string, origin = '', token = '') => ({ token, since: '', address, origin });
  const o = a.admit(req('1.1.1.1', 'https://evil.example'), 1);
  t.same(o.upgrade === false && [o.limited, o.reason, o.status, o.retryAfter, o.body], [true, 'origin', '403 Forbidden', null, 'origin not allowed\n']);
  t.equal(a.addressConnections('1.1.1.1'), 0, 'a refused origin is not counted');
  t.equal(a.admit(req('1.1.1.1', 'https://ok.example'), 2).upgrade, true);
  const ip = a.admit(req('1.1.1.1'), 3);
  t.same(ip.upgrade === false && [ip.limited, ip.reason, ip.status, ip.retryAfter], [true, 'ip_connections', '429 Too Many Requests', 3]);
  t.equal(a.refusal(), null, 'admission stays open');
  a.released('1.1.1.1');
  t.equal(a.admit(req('1.1.1.1'), 4).upgrade, true, 'released at close');
  t.equal(a.admit(req(''), 5).upgrade, true, 'unknown address: not limited');
  t.equal(a.admit(req(''), 6).upgrade, true);
  const token = mintToken(SECRET, { uid: 'u1' });
  users.set('u1', 2);
  const u = a.admit(req('2.2.2.2', '', token), 7);
  t.same(u.upgrade && [u.identity.uid, u.refuse], ['u1', CloseCodes.UserConnections], 'opened, then closed 4505');
  users.set('u1', 1);
  const u2 = a.admit(req('3.3.3.3', '', token), 8);
  t.same(u2.upgrade && u2.refuse, null, 'below the limit');
});

t.test('config - the edge settings: defaults, and clear errors for bad lists', async (t) => {
  const { loadConfig } = await import('../../src/config.js');
  const c = loadConfig({});
  t.same([c.trustedProxies, c.clientIpHeader, c.maxConnectionsPerIp, c.ipConnectRate, c.ipConnectBurst, c.maxConnectionsPerUser, c.allowedOrigins, c.tlsCert, c.tlsReloadMs], [[], 'x-forwarded-for', 0, 0, 20, 0, [], null, 60_000]);
  const d = loadConfig({ TRUSTED_PROXIES: '10.0.0.0/8, ::1', CLIENT_IP_HEADER: 'Forwarded', ALLOWED_ORIGINS: 'https://a.example,https://*.b.example', IP_CONNECT_RATE: '0.5' });
  t.same([d.trustedProxies, d.clientIpHeader, d.allowedOrigins, d.ipConnectRate], [['10.0.0.0/8', '::1'], 'forwarded', ['https://a.example', 'https://*.b.example'], 0.5]);
  t.throws(() => loadConfig({ TRUSTED_PROXIES: '10.0.0.0/8,proxy.internal' }), /TRUSTED_PROXIES: not an IP address or CIDR: "proxy.internal"/);
  t.throws(() => loadConfig({ CLIENT_IP_HEADER: 'x-client-ip' }), /CLIENT_IP_HEADER must be one of/);
  t.throws(() => loadConfig({ ALLOWED_ORIGINS: 'a.example' }), /ALLOWED_ORIGINS entries must be origins/);
  t.throws(() => loadConfig({ ALLOWED_ORIGINS: 'https://a.example/' }), /ALLOWED_ORIGINS/);
  t.throws(() => loadConfig({ MAX_CONNECTIONS_PER_IP: '-1' }), /MAX_CONNECTIONS_PER_IP must be an integer/);
});

t.test('ip limits - an IPv6 client is counted by its /64; IPv4 as it is', async (t) => {
  t.equal(limitKey('203.0.113.7'), '203.0.113.7');
  t.equal(limitKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64');
  t.equal(limitKey('2001:db8:1:2::1'), '2001:db8:1:2::/64', 'the same /64, compressed');
  t.equal(limitKey('2001:db8::1'), '2001:db8:0:0::/64');
  t.equal(limitKey('::1'), '0:0:0:0::/64');
  const limits = new IpLimits({ maxConnectionsPerIp: 2, ipConnectRate: 0, ipConnectBurst: 1 });
  t.equal(limits.admit('2001:db8:1:2::a', 0), null);
  t.equal(limits.admit('2001:db8:1:2::b', 0), null);
  t.match(limits.admit('2001:db8:1:2:ffff::c', 0), { reason: 'ip_connections' }, 'a third address of the same /64 is over the limit');
  t.equal(limits.admit('2001:db8:1:3::a', 0), null, 'the next /64 is another client');
  limits.closed('2001:db8:1:2::a');
  t.equal(limits.admit('2001:db8:1:2::d', 0), null, 'released by its own address');
});

t.test('origin policy - a pattern with the scheme\'s default port matches what browsers send', async (t) => {
  const p = new OriginPolicy(['https://a.example:443', 'http://b.example:80', 'https://c.example:8443']);
  t.ok(p.allows('https://a.example'));
  t.ok(p.allows('http://b.example'));
  t.ok(p.allows('https://c.example:8443'));
  t.notOk(p.allows('https://c.example'));
});
