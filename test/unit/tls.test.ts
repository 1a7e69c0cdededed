// TLS files: validation (a mismatched pair is refused with a clear message), the names a
// certificate covers, and the reload through SNI with a fake app (the real one: test/e2e/tls.test.ts).

import t from 'tap';
import { copyFileSync, utimesSync, writeFileSync } from 'node:fs';
import { certificateNames, readTlsPair, TlsReloader } from '../../src/gateway/tls.js';
import { loadConfig } from '../../src/config.js';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { makeCertPairs } from '../helpers/tls.js';
import { createLogger } from '../../src/log.js';

const pairs = makeCertPairs();
t.teardown(() => pairs.remove());

t.test('tls - a good pair is read with its names and fingerprint; a mismatch or missing file is refused', async (t) => {
  const a = readTlsPair({ cert: pairs.a.cert, key: pairs.a.key, passphrase: null });
  t.same(a.names, ['localhost']);
  t.match(a.fingerprint, /^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/);
  t.throws(() => readTlsPair({ cert: pairs.a.cert, key: pairs.b.key, passphrase: null }), /not a usable PEM certificate and matching key/);
  t.throws(() => readTlsPair({ cert: `${pairs.dir}/nope.pem`, key: pairs.a.key, passphrase: null }), /cannot read the certificate or key \(ENOENT\)/);
  t.throws(() => loadConfig({ TLS_CERT: pairs.a.cert, TLS_KEY: pairs.b.key }), /TLS_CERT\/TLS_KEY: not a usable PEM/);
  t.throws(() => loadConfig({ TLS_CERT: pairs.a.cert }), /set both TLS_CERT and TLS_KEY/);
  t.throws(() => loadConfig({ TLS_PASSPHRASE: 'x' }), /TLS_PASSPHRASE is set but/);
  const c = loadConfig({ TLS_CERT: pairs.a.cert, TLS_KEY: pairs.a.key });
  t.same([c.tlsCert, c.tlsKey, c.tlsPassphrase, c.tlsReloadMs], [pairs.a.cert, pairs.a.key, null, 60_000]);
});

t.test('tls - certificate names', async (t) => {
  t.same(certificateNames(new X509Certificate(readFileSync(pairs.a.cert))), ['localhost'], 'DNS SANs only (the IP SAN is not an SNI name)');
});

t.test('tls - a reload replaces the SNI entries; a bad pair keeps the old one', async (t) => {
  const dir = pairs.dir;
  const files = { cert: `${dir}/live-cert.pem`, key: `${dir}/live-key.pem`, passphrase: null };
  copyFileSync(pairs.a.cert, files.cert);
  copyFileSync(pairs.a.key, files.key);
  const calls: string[] = [];
  const app = {
    addServerName: (h: string) => (calls.push(`add ${h}`), app),
    removeServerName: (h: string) => (calls.push(`remove ${h}`), app),
    domain: (h: string) => (calls.push(`domain ${h}`), app),
  } as never;
  const results: string[] = [];
  const r = new TlsReloader(app, files, 0, { tlsReload: (x) => results.push(x) }, createLogger('silent', {}), () => calls.push('routes'));
  const startFp = r.fingerprint;
  t.equal(r.check(), null, 'unchanged');
  t.same(calls, [], 'nothing to do before the files change');
  // B over the files
  copyFileSync(pairs.b.cert, files.cert);
  copyFileSync(pairs.b.key, files.key);
  const later = new Date(Date.now() + 5_000);
  utimesSync(files.cert, later, later);
  utimesSync(files.key, later, later);
  t.equal(r.check(), 'ok');
  t.not(r.fingerprint, startFp);
  t.same(calls, ['add localhost', 'domain localhost', 'routes', 'domain '], 'the name gets an entry and the routes; then the default router again');
  calls.length = 0;
  // a half-written pair: the certificate of A with the key of B
  copyFileSync(pairs.a.cert, files.cert);
  const later2 = new Date(Date.now() + 10_000);
  utimesSync(files.cert, later2, later2);
  t.equal(r.check(), 'failed');
  t.equal(r.check(), null, 'the same bad files are not tried again');
  t.same(calls, [], 'nothing replaced');
  copyFileSync(pairs.a.key, files.key);
  utimesSync(files.key, later2, later2);
  t.equal(r.check(), 'ok', 'fixed');
  t.same(calls, ['remove localhost', 'add localhost', 'domain localhost', 'routes', 'domain ']);
  t.same(results, ['ok', 'failed', 'ok']);
  writeFileSync(files.cert, 'garbage');
  utimesSync(files.cert, new Date(Date.now() + 20_000), new Date(Date.now() + 20_000));
  t.equal(r.check(), 'failed', 'garbage refused');
});
