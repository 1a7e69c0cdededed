// The alert rules have one source (deploy/alerts/alerts.yaml): the committed Prometheus rules
// file and PrometheusRule must be its render, and docs/metrics.md must name every alert it
// defines and no other.

import { readFileSync } from 'node:fs';
import t from 'tap';
import { parse } from 'yaml';
import { AlertSourceError, PROMETHEUS_RULE, ROOT, RULES_FILE, SOURCE, parseSource, render } from '../../deploy/alerts/render.js';

const source = readFileSync(ROOT + SOURCE, 'utf8');

t.test('alerts - the committed renders are the render of the source', async (t) => {
  const out = render(source);
  t.same(Object.keys(out).sort(), [PROMETHEUS_RULE, RULES_FILE].sort());
  for (const [path, text] of Object.entries(out)) {
    t.equal(readFileSync(ROOT + path, 'utf8'), text, `${path} is up to date (npm run alerts)`);
  }
});

t.test('alerts - the PrometheusRule carries exactly the rules file groups', async (t) => {
  const out = render(source);
  const rules = parse(out[RULES_FILE]!) as { groups: unknown[] };
  const crd = parse(out[PROMETHEUS_RULE]!) as { apiVersion: string; kind: string; spec: { groups: unknown[] } };
  t.equal(crd.apiVersion, 'monitoring.coreos.com/v1');
  t.equal(crd.kind, 'PrometheusRule');
  t.same(crd.spec.groups, rules.groups);
  t.ok(rules.groups.length > 0);
});

t.test('alerts - a rule without a severity, a summary or a unique name is refused', async (t) => {
  const groups = parseSource(source);
  const rule = groups[0]!.rules[0]!;
  const variants: [string, unknown][] = [
    ['no severity', { ...rule, labels: {} }],
    ['unknown severity', { ...rule, labels: { severity: 'page' } }],
    ['no summary', { ...rule, annotations: { description: 'x' } }],
    ['bad name', { ...rule, alert: 'redis down' }],
  ];
  for (const [what, bad] of variants) {
    const text = JSON.stringify({ groups: [{ name: 'g', rules: [bad] }] });
    t.throws(() => render(text), AlertSourceError, what);
  }
  t.throws(() => render(JSON.stringify({ groups: [{ name: 'g', rules: [rule, rule] }] })), AlertSourceError, 'a name used twice');
  t.throws(() => render('groups: []'), AlertSourceError, 'no groups');
  t.throws(() => render('not: [a, mapping'), 'not YAML');
});

t.test('alerts - docs/metrics.md names every alert, and only those', async (t) => {
  const doc = readFileSync(ROOT + 'docs/metrics.md', 'utf8');
  const defined = parseSource(source).flatMap((g) => g.rules.map((r) => r.alert)).sort();
  const documented = [...new Set(doc.match(/`Danmaku[A-Za-z]+`/g) ?? [])].map((s) => s.slice(1, -1)).sort();
  t.same(documented, defined);
});
