// The autoscalers' queries on a real PromQL engine (Debian's promtool): every prometheus-adapter
// rule, its templates filled in as the adapter does for one namespace, gives per pod what the
// rehearsal's PodReader computes from the same scrapes (so the rehearsal simulates what a cluster
// would read), and each KEDA trigger gives the sum of those per-pod values (so KEDA's HPA,
// dividing by the replicas, compares what the adapter's HPA averages). Fails, not skips, when
// promtool is missing: .ci/run installs it.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';
import { readAutoscaling, type AdapterRule } from '../../bench/lib/hpa-manifests.js';
import { PodReader } from '../../bench/lib/rehearsal-run.js';
import { promtool } from '../helpers/prometheus.js';

const dir = mkdtempSync(join(tmpdir(), 'danmaku-autoscaling-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const m = readAutoscaling();
const STEP_S = 15;
const SAMPLES = 13; // 0..180 s
const AT_S = STEP_S * (SAMPLES - 1);

/** A pod's load: requests per second by latency bucket upper bound, and connections. */
interface Pod {
  readonly name: string;
  readonly role: 'gateway' | 'logic';
  readonly connections?: number;
  /** requests/s landing in each bucket (le) */
  readonly perBucket?: Readonly<Record<string, number>>;
}

const LES = ['0.005', '0.05', '+Inf'];
const pods: Pod[] = [
  { name: 'gw-a', role: 'gateway', connections: 9000 },
  { name: 'gw-b', role: 'gateway', connections: 7000 },
  // Busy and fast; at a trickle (gated to 0); busy with a slow half.
  { name: 'logic-a', role: 'logic', perBucket: { '0.005': 100, '0.05': 0, '+Inf': 0 } },
  { name: 'logic-b', role: 'logic', perBucket: { '0.005': 1, '0.05': 0, '+Inf': 0 } },
  { name: 'logic-c', role: 'logic', perBucket: { '0.005': 25, '0.05': 25, '+Inf': 0 } },
];

/** The scrape of `p` at `s` seconds, in the exposition format (cumulative buckets). */
function scrapeText(p: Pod, s: number): string {
  if (p.role === 'gateway') return `danmaku_connections{node="${p.name}"} ${p.connections}`;
  let cum = 0;
  const lines: string[] = [];
  for (const le of LES) {
    cum += p.perBucket![le]!;
    lines.push(`danmaku_logic_request_seconds_bucket{op="send",le="${le}"} ${cum * s}`);
  }
  lines.push(`danmaku_logic_request_seconds_count{op="send"} ${cum * s}`);
  return lines.join('\n');
}

/** The same as Prometheus series, with the labels the Prometheus Operator adds. */
function series(): { series: string; values: string }[] {
  const out: { series: string; values: string }[] = [];
  const labels = (p: Pod, extra: string) => `{namespace="danmaku",role="${p.role}",pod="${p.name}"${extra}}`;
  for (const p of pods) {
    if (p.role === 'gateway') {
      out.push({ series: `danmaku_connections${labels(p, `,node="${p.name}"`)}`, values: `${p.connections}x${SAMPLES - 1}` });
      continue;
    }
    let cum = 0;
    for (const le of LES) {
      cum += p.perBucket![le]!;
      out.push({ series: `danmaku_logic_request_seconds_bucket${labels(p, `,op="send",le="${le}"`)}`, values: `0+${cum * STEP_S}x${SAMPLES - 1}` });
    }
    out.push({ series: `danmaku_logic_request_seconds_count${labels(p, ',op="send"')}`, values: `0+${cum * STEP_S}x${SAMPLES - 1}` });
  }
  return out;
}

/** What the rehearsal reads per pod at AT_S, from scrapes every STEP_S. */
function rehearsalValues(): Map<string, Record<string, number | null>> {
  const reader = new PodReader(m.rules);
  const out = new Map<string, Record<string, number | null>>();
  for (const p of pods) {
    for (let s = 0; s <= AT_S; s += STEP_S) {
      const r = reader.add(p.name, p.role, s, scrapeText(p, s));
      if (s === AT_S) out.set(p.name, { ...r.values });
    }
  }
  return out;
}

const roleOf = (metric: string) => (m.gateway.metrics.some((x) => x.name === metric) ? 'gateway' : 'logic');

/** The adapter's query for every pod of the namespace (its <<.GroupBy>> is pod; its matchers select the pods of the HPA). */
function adapterQuery(rule: AdapterRule, role: string): string {
  return rule.metricsQuery.replaceAll('<<.Series>>', rule.series).replaceAll('<<.LabelMatchers>>', `namespace="danmaku",role="${role}"`).replaceAll('<<.GroupBy>>', 'pod');
}

function testFile(exprs: { expr: string; exp_samples: { labels: string; value: number }[] }[]): string {
  const file = join(dir, `queries-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(file, stringify({ rule_files: [], evaluation_interval: '15s', tests: [{ interval: `${STEP_S}s`, input_series: series(), promql_expr_test: exprs.map((e) => ({ ...e, eval_time: `${AT_S}s` })) }] }));
  return file;
}

t.test('autoscaling queries - each adapter rule per pod is what the rehearsal reads', async (t) => {
  const values = rehearsalValues();
  const exprs = Object.entries(m.rules).map(([metric, rule]) => {
    const role = roleOf(metric);
    return {
      expr: adapterQuery(rule, role),
      exp_samples: pods.filter((p) => p.role === role).map((p) => ({ labels: `{pod="${p.name}"}`, value: values.get(p.name)![metric]! })),
    };
  });
  t.same(exprs.map((e) => e.exp_samples.length), [2, 3, 3], 'two gateways, three logic pods');
  t.same(exprs[2]!.exp_samples.map((x) => Math.round(x.value * 1e6) / 1e6), [0.00495, 0, 0.0491], 'the p99s: fast, gated to 0 at 1 request/s, the slow half');
  const r = promtool(['test', 'rules', testFile(exprs)], dir);
  t.equal(r.status, 0, r.output);
});

t.test('autoscaling queries - each KEDA trigger is the sum over pods of its adapter rule', async (t) => {
  const values = rehearsalValues();
  const exprs: { expr: string; exp_samples: { labels: string; value: number }[] }[] = [];
  for (const [hpa, keda] of [[m.gateway, m.keda.gateway], [m.logic, m.keda.logic]] as const) {
    hpa.metrics.forEach((metric, i) => {
      const role = roleOf(metric.name);
      const sum = pods.filter((p) => p.role === role).reduce((a, p) => a + values.get(p.name)![metric.name]!, 0);
      exprs.push({ expr: keda.metrics[i]!.name, exp_samples: [{ labels: '{}', value: sum }] });
    });
  }
  t.equal(exprs.length, 3, 'one trigger per HPA metric');
  const r = promtool(['test', 'rules', testFile(exprs)], dir);
  t.equal(r.status, 0, r.output);
  // A KEDA query pooling the pods' p99 (what overlays/keda had before) reads something else: the test can fail.
  const pooled = 'histogram_quantile(0.99, sum by (le) (rate(danmaku_logic_request_seconds_bucket{namespace="danmaku",role="logic"}[2m])))';
  const wrong = promtool(['test', 'rules', testFile([{ expr: pooled, exp_samples: [{ labels: '{}', value: exprs[2]!.exp_samples[0]!.value }] }])], dir);
  t.not(wrong.status, 0, 'the pooled p99 is not the sum of the per-pod p99s');
});
