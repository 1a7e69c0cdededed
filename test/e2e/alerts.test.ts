// The alert rules through Debian's promtool: both renders pass `promtool check rules`, the
// unit tests with input series in deploy/alerts/tests.yml pass, and a broken rule is caught
// (so this test can fail). Fails, not skips, when promtool is missing: .ci/run installs it.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import t from 'tap';
import { parse, stringify } from 'yaml';
import { PROMETHEUS_RULE, ROOT, RULES_FILE } from '../../deploy/alerts/render.js';
import { findTool, promtool } from '../helpers/prometheus.js';

const dir = mkdtempSync(join(tmpdir(), 'danmaku-alerts-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('alerts - promtool is installed', async (t) => {
  t.ok(findTool('promtool'), 'promtool on PATH or in /usr/bin (Debian package prometheus; .ci/run installs it)');
});

t.test('alerts - promtool check rules accepts the rules file', async (t) => {
  const r = promtool(['check', 'rules', ROOT + RULES_FILE]);
  t.equal(r.status, 0, r.output);
  t.match(r.output, /SUCCESS: \d+ rules found/);
});

t.test('alerts - promtool check rules accepts the PrometheusRule groups', async (t) => {
  const crd = parse(readFileSync(ROOT + PROMETHEUS_RULE, 'utf8')) as { spec: { groups: unknown[] } };
  const file = join(dir, 'prometheusrule-groups.yml');
  writeFileSync(file, stringify({ groups: crd.spec.groups }));
  const r = promtool(['check', 'rules', file]);
  t.equal(r.status, 0, r.output);
});

t.test('alerts - promtool test rules passes the unit tests with series', async (t) => {
  const r = promtool(['test', 'rules', 'deploy/alerts/tests.yml'], ROOT);
  t.equal(r.status, 0, r.output);
  t.match(r.output, /SUCCESS/);
});

t.test('alerts - a broken expression and a rule that no longer fires are caught', async (t) => {
  const rules = parse(readFileSync(ROOT + RULES_FILE, 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
  const all = rules.groups.flatMap((g) => g.rules);
  const redis = all.find((r) => r.alert === 'DanmakuRedisDown')!;
  redis.expr = 'danmaku_redis_connected == 0 and';
  writeFileSync(join(dir, 'broken.yml'), stringify(rules));
  t.not(promtool(['check', 'rules', join(dir, 'broken.yml')]).status, 0, 'a syntax error fails check rules');

  // The same tests against rules where Redis down would need the value 2: promtool test fails.
  redis.expr = 'danmaku_redis_connected == 2';
  mkdirAndWrite(join(dir, 'prometheus', 'alerts.yml'), stringify(rules));
  mkdirAndWrite(join(dir, 'alerts', 'tests.yml'), readFileSync(ROOT + 'deploy/alerts/tests.yml', 'utf8'));
  const r = promtool(['test', 'rules', 'alerts/tests.yml'], dir);
  t.not(r.status, 0, 'a rule that does not fire fails test rules');
  t.match(r.output, /DanmakuRedisDown/);
});

function mkdirAndWrite(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}
