// The autoscaling settings the rehearsal uses, read from deploy/kubernetes so that they cannot
// drift from what a cluster runs: each HorizontalPodAutoscaler of overlays/hpa (metrics and
// targets, min/max, behaviour, defaults where the manifest leaves them out), the
// prometheus-adapter rule behind each metric (a gauge, a rate or a gated quantile, with its
// window), the Deployments' CPU requests and limits, and KEDA's ScaledObjects, which must scale
// the same (compare() lists where they do not, down to each trigger's query).

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { DEFAULT_SCALE_DOWN, DEFAULT_SCALE_UP, DEFAULT_TOLERANCE, type HpaSpec, type MetricSpec, type ScalingPolicy, type ScalingRules, type SelectPolicy } from './hpa.js';

/** The repository's root, from dist/bench/lib. */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const SUFFIX: Record<string, number> = { m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };

/** A Kubernetes quantity ("8000", "20m", "500m", "1", "1.5", "256Mi") as a number. */
export function quantity(q: string | number): number {
  if (typeof q === 'number') return q;
  const m = /^([+-]?\d+(?:\.\d+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(q.trim());
  if (!m) throw new Error(`not a Kubernetes quantity: ${JSON.stringify(q)}`);
  return Number((Number(m[1]) * SUFFIX[m[2] ?? '']!).toPrecision(12));
}

interface RulesDoc {
  stabilizationWindowSeconds?: number;
  selectPolicy?: SelectPolicy;
  policies?: ScalingPolicy[];
  tolerance?: string | number;
}

/** A behaviour's rules with autoscaling/v2's defaults for what it leaves out. */
function rules(doc: RulesDoc | undefined, defaults: ScalingRules): ScalingRules {
  return {
    stabilizationWindowSeconds: doc?.stabilizationWindowSeconds ?? defaults.stabilizationWindowSeconds,
    selectPolicy: doc?.selectPolicy ?? defaults.selectPolicy,
    policies: doc?.policies?.map((p) => ({ type: p.type, value: p.value, periodSeconds: p.periodSeconds })) ?? defaults.policies,
    tolerance: doc?.tolerance === undefined ? DEFAULT_TOLERANCE : quantity(doc.tolerance),
  };
}

interface HpaDoc {
  kind: string;
  metadata: { name: string };
  spec: {
    minReplicas?: number;
    maxReplicas: number;
    metrics: { type: string; pods?: { metric: { name: string }; target: { type: string; averageValue?: string } } }[];
    behavior?: { scaleUp?: RulesDoc; scaleDown?: RulesDoc };
  };
}

/** One HorizontalPodAutoscaler document: Pods metrics with AverageValue targets, as ours have. */
export function hpaSpec(doc: HpaDoc): HpaSpec {
  if (doc.kind !== 'HorizontalPodAutoscaler') throw new Error(`${doc.metadata?.name}: not a HorizontalPodAutoscaler (${doc.kind})`);
  const metrics = doc.spec.metrics.map((m): MetricSpec => {
    if (m.type !== 'Pods' || !m.pods || m.pods.target.type !== 'AverageValue' || m.pods.target.averageValue === undefined) throw new Error(`${doc.metadata.name}: the rehearsal reads Pods metrics with AverageValue targets`);
    return { name: m.pods.metric.name, source: 'Pods', targetType: 'AverageValue', target: quantity(m.pods.target.averageValue) };
  });
  if (metrics.length === 0) throw new Error(`${doc.metadata.name}: no metrics`);
  return {
    name: doc.metadata.name,
    minReplicas: doc.spec.minReplicas ?? 1,
    maxReplicas: doc.spec.maxReplicas,
    metrics,
    scaleUp: rules(doc.spec.behavior?.scaleUp, DEFAULT_SCALE_UP),
    scaleDown: rules(doc.spec.behavior?.scaleDown, DEFAULT_SCALE_DOWN),
  };
}

interface ScaledObjectDoc {
  kind: string;
  metadata: { name: string };
  spec: {
    minReplicaCount?: number;
    maxReplicaCount?: number;
    pollingInterval?: number;
    advanced?: { horizontalPodAutoscalerConfig?: { behavior?: { scaleUp?: RulesDoc; scaleDown?: RulesDoc } } };
    triggers: { type: string; metricType?: 'AverageValue' | 'Value' | 'Utilization'; metadata: { query: string; threshold: string } }[];
  };
}

/** A KEDA ScaledObject with Prometheus triggers, as an HPA spec of External metrics (KEDA's defaults: min 0, max 100, AverageValue). */
export function scaledObjectSpec(doc: ScaledObjectDoc): HpaSpec & { readonly pollingInterval: number } {
  const metrics = doc.spec.triggers.map((t): MetricSpec => {
    if (t.type !== 'prometheus') throw new Error(`${doc.metadata.name}: the rehearsal reads prometheus triggers only (${t.type})`);
    const targetType = t.metricType ?? 'AverageValue';
    if (targetType === 'Utilization') throw new Error(`${doc.metadata.name}: a prometheus trigger cannot be Utilization`);
    return { name: t.metadata.query, source: 'External', targetType, target: quantity(t.metadata.threshold) };
  });
  if (metrics.length === 0) throw new Error(`${doc.metadata.name}: no triggers`);
  const behavior = doc.spec.advanced?.horizontalPodAutoscalerConfig?.behavior;
  return {
    name: doc.metadata.name,
    minReplicas: doc.spec.minReplicaCount ?? 0,
    maxReplicas: doc.spec.maxReplicaCount ?? 100,
    metrics,
    scaleUp: rules(behavior?.scaleUp, DEFAULT_SCALE_UP),
    scaleDown: rules(behavior?.scaleDown, DEFAULT_SCALE_DOWN),
    pollingInterval: doc.spec.pollingInterval ?? 30,
  };
}

/**
 * How a prometheus-adapter rule computes its per-pod value, enough to compute it from each pod's
 * /metrics: a gauge summed over the pod's series, a counter's rate over a window, or a
 * histogram_quantile over a window, counted only above a request rate (`... > R`, 0 below it).
 */
export type AdapterRule = {
  /** the metric the HPA names (`name.as`), the series the rule reads (seriesQuery's), its metricsQuery */
  readonly as: string;
  readonly series: string;
  readonly metricsQuery: string;
} & ({ readonly kind: 'gauge' } | { readonly kind: 'rate'; readonly windowSeconds: number } | { readonly kind: 'quantile'; readonly windowSeconds: number; readonly quantile: number; readonly minRate: number; readonly scale: number });

function windowOf(metricsQuery: string): number {
  const w = /\[(\d+)(s|m|h)\]/.exec(metricsQuery);
  if (!w) throw new Error(`no rate window in ${metricsQuery}`);
  return Number(w[1]) * { s: 1, m: 60, h: 3600 }[w[2] as 's' | 'm' | 'h'];
}

/**
 * The rate window and quantile of a histogram_quantile metricsQuery, and the request rate per
 * pod it counts the quantile above (`... > R`; 0 when the rule has no such gate).
 */
export function adapterQuantile(metricsQuery: string): { quantile: number; windowSeconds: number; minRate: number; scale: number } {
  const q = /histogram_quantile\(\s*([\d.]+)\s*,/.exec(metricsQuery);
  if (!q || !/\[\d+[smh]\]/.test(metricsQuery)) throw new Error(`not a histogram_quantile over a rate window: ${metricsQuery}`);
  const gate = /le="\+Inf"\}\[\w+\]\)\)\s*>\s*([\d.]+)/.exec(metricsQuery);
  // A unit change right after the quantile (`histogram_quantile(...)) * 1000`: seconds to ms).
  const scale = /\]\)\)\)\s*\*\s*([\d.]+)/.exec(metricsQuery);
  return { quantile: Number(q[1]), windowSeconds: windowOf(metricsQuery), minRate: gate ? Number(gate[1]) : 0, scale: scale ? Number(scale[1]) : 1 };
}

/** One rule of the adapter's `rules:` as the rehearsal computes it. */
export function adapterRule(rule: { seriesQuery: string; name: { as: string }; metricsQuery: string }): AdapterRule {
  const series = /^\s*([a-zA-Z_:][\w:]*)/.exec(rule.seriesQuery)?.[1];
  if (!series) throw new Error(`no series in ${rule.seriesQuery}`);
  const base = { as: rule.name.as, series, metricsQuery: rule.metricsQuery };
  if (/histogram_quantile/.test(rule.metricsQuery)) return { ...base, kind: 'quantile', ...adapterQuantile(rule.metricsQuery) };
  if (/\brate\(/.test(rule.metricsQuery)) return { ...base, kind: 'rate', windowSeconds: windowOf(rule.metricsQuery) };
  return { ...base, kind: 'gauge' };
}

/**
 * The KEDA query that scales as the adapter rule does: the sum over the pods of the rule's
 * per-pod value, the templates filled in for the namespace and the role, counting only pods
 * Prometheus scrapes now (`up == 1`: the adapter asks for the HPA's current pods only, where a
 * rate window still holds a pod that is gone). With an AverageValue threshold KEDA's HPA asks
 * for ceil(sum / target), which is the adapter's ceil(average x pods / target) when every pod
 * reports, up to the milli-unit each rounds to (the adapter truncates each pod's value, KEDA the
 * sum: at 8,000 connections or 15 ms expressed in ms, a thousandth of a unit).
 */
export function kedaQueryFor(rule: AdapterRule, namespace: string, role: string): string {
  const per = rule.metricsQuery.replaceAll('<<.Series>>', rule.series).replaceAll('<<.LabelMatchers>>', `namespace="${namespace}",role="${role}"`).replaceAll('<<.GroupBy>>', 'pod');
  return `sum((${per}) and on (pod) (up{namespace="${namespace}"} == 1))`;
}

export interface Resources {
  readonly cpuRequest: number;
  readonly cpuLimit: number;
}

export interface AutoscalingManifests {
  readonly gateway: HpaSpec;
  readonly logic: HpaSpec;
  /** the adapter rule behind each Pods metric of the two HPAs, by the metric's name */
  readonly rules: Readonly<Record<string, AdapterRule>>;
  /** the namespace the overlays set */
  readonly namespace: string;
  readonly resources: { readonly gateway: Resources; readonly logic: Resources };
  readonly keda: { readonly gateway: ReturnType<typeof scaledObjectSpec>; readonly logic: ReturnType<typeof scaledObjectSpec> };
}

const K8S = 'deploy/kubernetes';

function docs(root: string, file: string): any[] {
  return parseAllDocuments(readFileSync(join(root, K8S, file), 'utf8')).map((d) => d.toJS());
}

function resources(root: string, file: string): Resources {
  const dep = docs(root, file)[0];
  const r = dep.spec.template.spec.containers[0].resources;
  return { cpuRequest: quantity(r.requests.cpu), cpuLimit: quantity(r.limits.cpu) };
}

/** Everything the rehearsal takes from deploy/kubernetes (`root`: the repository). */
export function readAutoscaling(root = REPO_ROOT): AutoscalingManifests {
  const gateway = hpaSpec(docs(root, 'overlays/hpa/gateway-hpa.yaml')[0]);
  const logic = hpaSpec(docs(root, 'overlays/hpa/logic-hpa.yaml')[0]);
  const adapter = docs(root, 'overlays/hpa/prometheus-adapter-rules.yaml')[0];
  const all = (parse(adapter.data['config.yaml']) as { rules: { seriesQuery: string; name: { as: string }; metricsQuery: string }[] }).rules.map(adapterRule);
  const rules: Record<string, AdapterRule> = {};
  for (const m of [...gateway.metrics, ...logic.metrics]) {
    const rule = all.find((r) => r.as === m.name);
    if (!rule) throw new Error(`no prometheus-adapter rule serves ${m.name}`);
    rules[m.name] = rule;
  }
  const scaled = docs(root, 'overlays/keda/scaledobjects.yaml').map(scaledObjectSpec);
  const named = (n: string) => {
    const s = scaled.find((x) => x.name === n);
    if (!s) throw new Error(`no ScaledObject ${n} in overlays/keda`);
    return s;
  };
  const namespace = String(docs(root, 'overlays/hpa/kustomization.yaml')[0].namespace);
  return {
    gateway,
    logic,
    rules,
    namespace,
    resources: { gateway: resources(root, 'base/gateway-deployment.yaml'), logic: resources(root, 'base/logic-deployment.yaml') },
    keda: { gateway: named(gateway.name), logic: named(logic.name) },
  };
}

const spaces = (q: string) => q.replace(/\s+/g, ' ').replace(/\(\s/g, '(').replace(/\s\)/g, ')').trim();

/**
 * Where a ScaledObject would scale differently from its HPA (empty: they agree): min/max and
 * behaviour, and trigger by metric, in order: an AverageValue threshold equal to the target and
 * the query kedaQueryFor() derives from the adapter rule behind the HPA's metric. `role`: the
 * pods' role label, `namespace`: the overlays'.
 */
export function compare(hpa: HpaSpec, keda: HpaSpec, rules: Readonly<Record<string, AdapterRule>>, namespace: string, role: string): string[] {
  const out: string[] = [];
  for (const k of ['minReplicas', 'maxReplicas'] as const) if (hpa[k] !== keda[k]) out.push(`${hpa.name}: ${k} ${hpa[k]} (HPA) vs ${keda[k]} (KEDA)`);
  for (const side of ['scaleUp', 'scaleDown'] as const) if (JSON.stringify(hpa[side]) !== JSON.stringify(keda[side])) out.push(`${hpa.name}: ${side} ${JSON.stringify(hpa[side])} (HPA) vs ${JSON.stringify(keda[side])} (KEDA)`);
  if (hpa.metrics.length !== keda.metrics.length) out.push(`${hpa.name}: ${hpa.metrics.length} metrics (HPA) vs ${keda.metrics.length} triggers (KEDA)`);
  hpa.metrics.forEach((m, i) => {
    const k = keda.metrics[i];
    if (!k) return;
    if (k.targetType !== 'AverageValue') out.push(`${hpa.name}: trigger ${i + 1} is ${k.targetType}; AverageValue divides by the replicas as the HPA's Pods metric averages`);
    if (k.target !== m.target) out.push(`${hpa.name}: target of ${m.name} ${m.target} (HPA) vs ${k.target} (KEDA trigger ${i + 1})`);
    const rule = rules[m.name];
    if (!rule) out.push(`${hpa.name}: no adapter rule for ${m.name}`);
    else if (spaces(k.name) !== spaces(kedaQueryFor(rule, namespace, role))) out.push(`${hpa.name}: trigger ${i + 1}'s query is not the sum over pods of the adapter rule for ${m.name}: expected ${kedaQueryFor(rule, namespace, role)}`);
  });
  return out;
}
