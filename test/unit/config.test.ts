// The configuration's parsers (src/config.ts), through loadConfig: DEGRADE_CPU takes a plain
// decimal only (Number() alone would also take hex, exponents and spaces); X_FILE reads X from
// a file.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError, DEV_TOKEN_SECRET, loadConfig } from '../../src/config.js';

t.test('config - DEGRADE_CPU: a plain decimal in [0, 64]', async (t) => {
  t.equal(loadConfig({}).degradeCpu, 0.9, 'the default');
  for (const [raw, want] of [['0.5', 0.5], ['2', 2], ['.25', 0.25], ['1.', 1], ['0', 0], ['64', 64], ['007.50', 7.5]] as const) {
    t.equal(loadConfig({ DEGRADE_CPU: raw }).degradeCpu, want, raw);
  }
  for (const raw of ['0x2', '1e0', '2E-1', '-0.5', '+1', ' 1', '1 ', '1,5', 'Infinity', 'NaN', '0b1', '0o7', '64.5', '1..2', '.']) {
    t.throws(() => loadConfig({ DEGRADE_CPU: raw }), { name: 'ConfigError', message: /DEGRADE_CPU must be a decimal number in \[0, 64\]/ }, JSON.stringify(raw));
  }
  t.type(new ConfigError('x'), Error);
});

t.test('config - the drain windows: none standalone, 5 s and 30 s in cluster mode, unless set', async (t) => {
  const standalone = loadConfig({});
  t.same([standalone.drainNotReadyMs, standalone.drainWindowMs], [0, 0], 'standalone: no other gateway to move to');
  const cluster = loadConfig({ NATS_URL: 'nats://127.0.0.1:4222', REDIS_URL: 'redis://127.0.0.1:6379' });
  t.same([cluster.drainNotReadyMs, cluster.drainWindowMs], [5_000, 30_000], 'cluster');
  const set = loadConfig({ DRAIN_NOT_READY_MS: '1000', DRAIN_WINDOW_MS: '2000' });
  t.same([set.drainNotReadyMs, set.drainWindowMs], [1_000, 2_000], 'standalone when set');
});

t.test('config - X_FILE: the secrets and credential URLs from a file (mounted secrets), less one trailing newline', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'danmaku-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const cluster = loadConfig({
    TOKEN_SECRET_FILE: file('token', 'token-secret-from-a-file\n'),
    ADMIN_SECRET_FILE: file('admin', 'admin-secret-from-a-file\r\n'),
    NATS_URL_FILE: file('nats', 'nats://nats-1:4222,nats://nats-2:4222'),
    REDIS_URL_FILE: file('redis', 'redis://:pw@redis:6379/0\n'),
    NODE_ENV: 'production',
  });
  t.equal(cluster.tokenSecret, 'token-secret-from-a-file', 'one \\n removed');
  t.equal(cluster.adminSecret, 'admin-secret-from-a-file', 'one \\r\\n removed');
  t.equal(cluster.natsUrl, 'nats://nats-1:4222,nats://nats-2:4222', 'no newline: taken as it is');
  t.equal(cluster.redisUrl, 'redis://:pw@redis:6379/0');
  t.equal(loadConfig({ TOKEN_SECRET_FILE: file('two', 'a-secret-of-16-chars\n\n') }).tokenSecret.length, 21, 'only one newline removed');
  t.equal(loadConfig({ PORT_FILE: file('port', '9005\n') }).port, 9001, 'only the secrets and credential URLs: PORT_FILE is not read');
  t.equal(loadConfig({ TOKEN_SECRET: 'from-the-environment-1', TOKEN_SECRET_FILE: '' }).tokenSecret, 'from-the-environment-1', 'an empty X_FILE is unset');
  t.equal(loadConfig({ SSL_CERT_FILE: join(dir, 'missing') }).port, 9001, 'a _FILE variable the config does not read is left alone');
  t.throws(() => loadConfig({ TOKEN_SECRET: 'from-the-environment-1', TOKEN_SECRET_FILE: file('both', 'from-a-file-0123456') }),
    { name: 'ConfigError', message: 'set TOKEN_SECRET or TOKEN_SECRET_FILE, not both' }, 'both set');
  t.throws(() => loadConfig({ REDIS_URL_FILE: join(dir, 'missing'), NATS_URL: 'nats://127.0.0.1:4222' }),
    { name: 'ConfigError', message: /^REDIS_URL_FILE: cannot read ".*missing" \(ENOENT\)$/ }, 'a missing file');
  t.throws(() => loadConfig({ ADMIN_SECRET_FILE: dir }), { name: 'ConfigError', message: /^ADMIN_SECRET_FILE: cannot read .* \(EISDIR\)$/ }, 'a directory');
  t.throws(() => loadConfig({ TOKEN_SECRET_FILE: file('empty', '\n') }), { name: 'ConfigError', message: /^TOKEN_SECRET_FILE: ".*empty" is empty$/ }, 'an empty file');
  t.throws(() => loadConfig({ TOKEN_SECRET_FILE: file('short', 'short\n') }), { name: 'ConfigError', message: 'TOKEN_SECRET must be at least 16 characters' },
    'the value is validated as if it were set directly');
  t.throws(() => loadConfig({ NODE_ENV: 'production', TOKEN_SECRET_FILE: file('dev', `${DEV_TOKEN_SECRET}\n`) }), { name: 'ConfigError', message: /public development secret/ });
});
