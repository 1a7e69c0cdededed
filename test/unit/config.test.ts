// The configuration's parsers (src/config.ts), through loadConfig: DEGRADE_CPU takes a plain
// decimal only (Number() alone would also take hex, exponents and spaces).

import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config.js';

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
