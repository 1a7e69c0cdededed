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
  /** requests/s landing in each bucket (le), before STEP_AT_S and (`after`) from it on */
  readonly perBucket?: Readonly<Record<string, number>>;
  readonly after?: Readonly<Record<string, number>>;
  /** gone: its series are still in Prometheus' windows, but it is no longer scraped (up 0) */
  readonly gone?: boolean;
}

/** The load changes here, inside both rules' windows: the windows' bounds matter. */
const STEP_AT_S = 150;

const LES = ['0.005', '0.05', '+Inf'];
const pods: Pod[] = [
  { name: 'gw-a', role: 'gateway', connections: 9000 },
  { name: 'gw-b', role: 'gateway', connections: 7000 },
  // Busy and fast; at a trickle (gated to 0); busy with a slow half.
  { name: 'logic-a', role: 'logic', perBucket: { '0.005': 100, '0.05': 0, '+Inf': 0 } },
  { name: 'logic-b', role: 'logic', perBucket: { '0.005': 1, '0.05': 0, '+Inf': 0 } },
  { name: 'logic-c', role: 'logic', perBucket: { '0.005': 25, '0.05': 25, '+Inf': 0 }, after: { '0.005': 50, '0.05': 10, '+Inf': 0 } },
  { name: 'logic-d', role: 'logic', perBucket: { '0.005': 300, '0.05': 300, '+Inf': 0 }, gone: true },
];

/** Cumulative requests of `p` in bucket `le` (cumulative over buckets) at `s` seconds. */
function cumulative(p: Pod, le: string, s: number): number {
  const upTo = (rates: Readonly<Record<string, number>>) => LES.slice(0, LES.indexOf(le) + 1).reduce((a, x) => a + rates[x]!, 0);
  const before = upTo(p.perBucket!);
  const after = upTo(p.after ?? p.perBucket!);
  return s <= STEP_AT_S ? before * s : before * STEP_AT_S + after * (s - STEP_AT_S);
}

/** The scrape of `p` at `s` seconds, in the exposition format (cumulative buckets). */
function scrapeText(p: Pod, s: number): string {
  if (p.role === 'gateway') return `danmaku_connections{node="${p.name}"} ${p.connections}`;
  const lines = LES.map((le) => `danmaku_logic_request_seconds_bucket{op="send",le="${le}"} ${cumulative(p, le, s)}`);
  lines.push(`danmaku_logic_request_seconds_count{op="send"} ${cumulative(p, '+Inf', s)}`);
  return lines.join('\n');
}

/** The same as Prometheus series, with the labels the Prometheus Operator adds. */
function series(): { series: string; values: string }[] {
  const out: { series: string; values: string }[] = [];
  const labels = (p: Pod, extra: string) => `{namespace="danmaku",role="${p.role}",pod="${p.name}"${extra}}`;
  const at = (p: Pod, le: string) => Array.from({ length: SAMPLES }, (_, i) => cumulative(p, le, i * STEP_S)).join(' ');
  for (const p of pods) {
    out.push({ series: `up{namespace="danmaku",pod="${p.name}",job="danmaku"}`, values: `${p.gone ? 0 : 1}x${SAMPLES - 1}` });
    if (p.role === 'gateway') {
      out.push({ series: `danmaku_connections${labels(p, `,node="${p.name}"`)}`, values: `${p.connections}x${SAMPLES - 1}` });
      continue;
    }
    for (const le of LES) out.push({ series: `danmaku_logic_request_seconds_bucket${labels(p, `,op="send",le="${le}"`)}`, values: at(p, le) });
    out.push({ series: `danmaku_logic_request_seconds_count${labels(p, ',op="send"')}`, values: at(p, '+Inf') });
  }
  return out;
}

/** What the rehearsal reads per pod at AT_S, from scrapes every STEP_S. */
function rehearsalValues(): Map<string, Record<string, number | null>> {
  const reader = new PodReader(m.rules);
  const out = new Map<string, Record<string, number | null>>();
  for (const p of pods.filter((x) => !x.gone)) {
    for (let s = 0; s <= AT_S; s += STEP_S) {
      const r = reader.add(p.name, p.role, s, scrapeText(p, s));
      if (s === AT_S) out.set(p.name, { ...r.values });
    }
  }
  return out;
}

const roleOf = (metric: string) => (m.gateway.metrics.some((x) => x.name === metric) ? 'gateway' : 'logic');

/** The adapter's query for the HPA's current pods (its <<.GroupBy>> is pod; its matchers name the pods the HPA asks about). */
function adapterQuery(rule: AdapterRule, role: string): string {
  const current = pods.filter((p) => p.role === role && !p.gone).map((p) => p.name).join('|');
  return rule.metricsQuery.replaceAll('<<.Series>>', rule.series).replaceAll('<<.LabelMatchers>>', `namespace="danmaku",pod=~"${current}"`).replaceAll('<<.GroupBy>>', 'pod');
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
      exp_samples: pods.filter((p) => p.role === role && !p.gone).map((p) => ({ labels: `{pod="${p.name}"}`, value: values.get(p.name)![metric]! })),
    };
  });
  t.same(exprs.map((e) => e.exp_samples.length), [2, 3, 3], 'two gateways, three current logic pods');
  t.same(exprs[1]!.exp_samples.map((x) => Math.round(x.value * 1e6) / 1e6), [100, 1, 55], 'the rates over [120 s, 180 s]: logic-c at 50/s until 150 s and 60/s after');
  t.same(exprs[2]!.exp_samples.map((x) => Math.round(x.value * 1e6) / 1e6), [4.95, 0, 48.888235], 'the p99s in ms: fast, gated to 0 at 1 request/s, logic-c\'s over [60 s, 180 s]: 3,750 fast, 2,550 slow, rank 6,237 at 5 + 45 x 2,487/2,550 ms');
  const r = promtool(['test', 'rules', testFile(exprs)], dir);
  t.equal(r.status, 0, r.output);
});

t.test('autoscaling queries - each KEDA trigger is the sum over pods of its adapter rule', async (t) => {
  const values = rehearsalValues();
  const exprs: { expr: string; exp_samples: { labels: string; value: number }[] }[] = [];
  for (const [hpa, keda] of [[m.gateway, m.keda.gateway], [m.logic, m.keda.logic]] as const) {
    hpa.metrics.forEach((metric, i) => {
      const role = roleOf(metric.name);
      const sum = pods.filter((p) => p.role === role && !p.gone).reduce((a, p) => a + values.get(p.name)![metric.name]!, 0);
      exprs.push({ expr: keda.metrics[i]!.name, exp_samples: [{ labels: '{}', value: sum }] });
    });
  }
  t.equal(exprs.length, 3, 'one trigger per HPA metric');
  const r = promtool(['test', 'rules', testFile(exprs)], dir);
  t.equal(r.status, 0, r.output);
  // The gone pod (logic-d, up 0) is in neither sum; without the `up` join it would be in KEDA's.
  const unjoined = exprs[1]!.expr.replace(/ and on \(pod\) \(up\{[^}]*\} == 1\)\)$/, ')');
  t.not(unjoined, exprs[1]!.expr, 'the rate trigger has the join');
  t.not(promtool(['test', 'rules', testFile([{ expr: unjoined, exp_samples: exprs[1]!.exp_samples }])], dir).status, 0, 'without it the gone pod inflates the sum');
  // A KEDA query pooling the pods' p99 (what overlays/keda had before) reads something else: the test can fail.
  const pooled = 'histogram_quantile(0.99, sum by (le) (rate(danmaku_logic_request_seconds_bucket{namespace="danmaku",role="logic"}[2m])))';
  const wrong = promtool(['test', 'rules', testFile([{ expr: pooled, exp_samples: [{ labels: '{}', value: exprs[2]!.exp_samples[0]!.value }] }])], dir);
  t.not(wrong.status, 0, 'the pooled p99 is not the sum of the per-pod p99s');
});
