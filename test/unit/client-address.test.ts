// The client address at the upgrade: uWS's binary peer formatted here, and the forwarding
// headers read only from trusted proxies, walked from the right to the first untrusted hop.

import t from 'tap';
import { ClientAddress, formatAddress, hopsOf, normalizeAddress, parseTrustedProxies, type ClientIpHeader } from '../../src/gateway/client-address.js';

const bytes = (...b: number[]) => new Uint8Array(b);
const v6 = (hex: string) => new Uint8Array(Buffer.from(hex.replace(/:/g, ''), 'hex'));

t.test('client address - binary peers: IPv4, IPv4-mapped, IPv6 compressed', async (t) => {
  t.equal(formatAddress(bytes(127, 0, 0, 1)), '127.0.0.1');
  t.equal(formatAddress(bytes(10, 255, 0, 7)), '10.255.0.7');
  t.equal(formatAddress(v6('0000:0000:0000:0000:0000:ffff:c000:0201')), '192.0.2.1', '::ffff:192.0.2.1 is IPv4');
  t.equal(formatAddress(v6('0000:0000:0000:0000:0000:0000:0000:0001')), '::1');
  t.equal(formatAddress(v6('0000:0000:0000:0000:0000:0000:0000:0000')), '::');
  t.equal(formatAddress(v6('2001:0db8:0000:0000:0000:0000:0000:0001')), '2001:db8::1');
  t.equal(formatAddress(v6('2001:0db8:0000:0000:0001:0000:0000:0001')), '2001:db8::1:0:0:1', 'the first of two equal zero runs');
  t.equal(formatAddress(v6('2001:0db8:0000:0001:0000:0000:0000:0001')), '2001:db8:0:1::1', 'the longest zero run');
  t.equal(formatAddress(v6('2001:0db8:0000:0001:0001:0001:0001:0001')), '2001:db8:0:1:1:1:1:1', 'a single zero group stays');
  t.equal(formatAddress(v6('fe80:0000:0000:0000:abcd:0000:0000:0000')), 'fe80::abcd:0:0:0');
  t.equal(formatAddress(v6('0000:0000:0000:0000:0000:fffe:c000:0201')), '::fffe:c000:201', 'not the mapped prefix');
  t.equal(formatAddress(v6('0001:0000:0000:0000:0000:ffff:c000:0201')), '1::ffff:c000:201', 'ffff in place, non-zero before it');
  t.equal(formatAddress(bytes()), '', 'empty: unknown');
  t.equal(formatAddress(bytes(1, 2, 3)), '', 'another length: unknown');
});

t.test('client address - header addresses normalise to the same key as peers', async (t) => {
  t.equal(normalizeAddress('203.0.113.9'), '203.0.113.9');
  t.equal(normalizeAddress('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
  t.equal(normalizeAddress('::ffff:203.0.113.9'), '203.0.113.9');
  t.equal(normalizeAddress('::FFFF:cb00:7109'), '203.0.113.9');
  t.equal(normalizeAddress('fe80::1%eth0'), '', 'zone ids refused');
  for (const bad of ['', 'unknown', 'example.com', '1.2.3', '01.2.3.4', '1.2.3.4.5', '256.1.1.1', '1.2.3.4:80', '_hidden', ' 1.2.3.4', '::g', '1:2:3:4:5:6:7:8:9']) {
    t.equal(normalizeAddress(bad), '', `${JSON.stringify(bad)} is not an address`);
  }
});

t.test('client address - TRUSTED_PROXIES parses IPs and CIDRs of both families and refuses the rest', async (t) => {
  t.equal(parseTrustedProxies(''), null);
  t.equal(parseTrustedProxies(' , '), null);
  const list = parseTrustedProxies('10.0.0.0/8, 192.0.2.7 ,fd00::/8,2001:db8::1')!;
  t.ok(list.check('10.1.2.3', 'ipv4'));
  t.ok(list.check('192.0.2.7', 'ipv4'));
  t.notOk(list.check('192.0.2.8', 'ipv4'));
  t.ok(list.check('fd12::1', 'ipv6'));
  t.ok(list.check('2001:db8::1', 'ipv6'));
  t.notOk(list.check('2001:db8::2', 'ipv6'));
  for (const bad of ['10.0.0.0/33', 'fd00::/129', 'example.com', '10.0.0.0/8/1', '1.2.3', '10.0.0.0/x', '10.0.0.0/-1']) {
    t.throws(() => parseTrustedProxies(bad), new RegExp('not an IP address or CIDR'), bad);
  }
});

t.test('client address - the hops of each header', async (t) => {
  t.same(hopsOf('x-forwarded-for', '203.0.113.9, 10.0.0.2'), ['203.0.113.9', '10.0.0.2']);
  t.same(hopsOf('x-forwarded-for', '203.0.113.9:5555,[2001:db8::1]:80'), ['203.0.113.9', '2001:db8::1'], 'ports dropped');
  t.same(hopsOf('x-real-ip', ' 203.0.113.9 '), ['203.0.113.9']);
  t.same(hopsOf('forwarded', 'for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711"'), ['192.0.2.60', '2001:db8:cafe::17']);
  t.same(hopsOf('forwarded', 'proto=https, for=unknown'), ['', 'unknown'], 'an element without for=, and an unknown node');
  t.same(hopsOf('forwarded', 'for=_hidden'), ['_hidden']);
});

function resolver(trusted: string, header: ClientIpHeader = 'x-forwarded-for') {
  return new ClientAddress({ trusted: parseTrustedProxies(trusted), header });
}

t.test('client address - without trusted proxies the peer is the client, whatever the headers say', async (t) => {
  const r = resolver('');
  t.notOk(r.readsHeader('127.0.0.1'));
  t.equal(r.resolve('127.0.0.1', '203.0.113.9'), '127.0.0.1');
});

t.test('client address - spoofing from an untrusted peer is ignored', async (t) => {
  const r = resolver('10.0.0.0/8');
  t.notOk(r.readsHeader('198.51.100.4'));
  t.equal(r.resolve('198.51.100.4', '1.1.1.1'), '198.51.100.4', 'a direct client naming another address');
  t.equal(r.resolve('198.51.100.4', '10.0.0.1'), '198.51.100.4', 'a direct client naming a trusted proxy');
});

t.test('client address - X-Forwarded-For from a trusted proxy: the first untrusted hop from the right', async (t) => {
  const r = resolver('10.0.0.0/8, 127.0.0.1');
  t.ok(r.readsHeader('127.0.0.1'));
  t.equal(r.resolve('127.0.0.1', '203.0.113.9'), '203.0.113.9');
  t.equal(r.resolve('10.0.0.1', '203.0.113.9, 10.0.0.2, 10.0.0.3'), '203.0.113.9', 'trusted hops skipped');
  t.equal(r.resolve('10.0.0.1', '1.1.1.1, 203.0.113.9, 10.0.0.2'), '203.0.113.9', 'what the client claimed left of its own address is not believed');
  t.equal(r.resolve('10.0.0.1', '10.0.0.5, 10.0.0.2'), '10.0.0.5', 'all trusted: the leftmost');
  t.equal(r.resolve('10.0.0.1', ''), '10.0.0.1', 'no header: the proxy itself');
  t.equal(r.resolve('10.0.0.1', '2001:DB8::1'), '2001:db8::1', 'IPv6 normalised');
  t.equal(r.resolve('10.0.0.1', '::ffff:203.0.113.9'), '203.0.113.9', 'mapped IPv4 normalised');
});

t.test('client address - malformed headers stop at the last trusted hop', async (t) => {
  const r = resolver('10.0.0.0/8');
  t.equal(r.resolve('10.0.0.1', 'garbage'), '10.0.0.1');
  t.equal(r.resolve('10.0.0.1', '203.0.113.9, garbage'), '10.0.0.1', 'garbage right of a real address: nothing left of it is believed');
  t.equal(r.resolve('10.0.0.1', '203.0.113.9,, 10.0.0.2'), '10.0.0.2', 'an empty hop after a trusted one');
  t.equal(r.resolve('10.0.0.1', ' , '), '10.0.0.1');
  t.equal(r.resolve('10.0.0.1', '203.0.113.9 10.0.0.2'), '10.0.0.1', 'spaces are not separators');
  t.equal(r.resolve('10.0.0.1', 'x'.repeat(5000)), '10.0.0.1', 'a long token');
  const long = [...Array(100).keys()].map(() => '10.0.0.9').join(',');
  t.equal(r.resolve('10.0.0.1', `203.0.113.9,${long}`), '10.0.0.9', 'a chain past the hop bound ends at the last hop looked at');
});

t.test('client address - X-Real-IP and Forwarded', async (t) => {
  const real = resolver('127.0.0.1', 'x-real-ip');
  t.equal(real.resolve('127.0.0.1', '203.0.113.9'), '203.0.113.9');
  t.equal(real.resolve('127.0.0.1', '203.0.113.9, 1.1.1.1'), '127.0.0.1', 'X-Real-IP is one address');
  t.equal(real.resolve('192.0.2.1', '203.0.113.9'), '192.0.2.1', 'untrusted peer');
  const fwd = resolver('127.0.0.1, 10.0.0.0/8', 'forwarded');
  t.equal(fwd.resolve('127.0.0.1', 'for=203.0.113.9;proto=https'), '203.0.113.9');
  t.equal(fwd.resolve('127.0.0.1', 'for="[2001:db8::7]:443", for=10.0.0.3'), '2001:db8::7');
  t.equal(fwd.resolve('127.0.0.1', 'for=_hidden, for=10.0.0.3'), '10.0.0.3', 'an obfuscated node stops the walk');
  t.equal(fwd.resolve('127.0.0.1', 'proto=https'), '127.0.0.1', 'no for=');
});
