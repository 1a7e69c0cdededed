// The autoscaling settings the rehearsal uses, read from deploy/kubernetes so that they cannot
// drift from what a cluster runs: each HorizontalPodAutoscaler of overlays/hpa (target,
// min/max, behaviour, defaults where the manifest leaves them out), the prometheus-adapter
// rule's quantile and rate window for the logic latency, the Deployments' CPU requests and
// limits, and KEDA's ScaledObjects, which must say the same (compare() lists where they do not).

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { DEFAULT_SCALE_DOWN, DEFAULT_SCALE_UP, DEFAULT_TOLERANCE, type HpaSpec, type ScalingPolicy, type ScalingRules, type SelectPolicy } from './hpa.js';

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
    metrics: { type: string; pods?: { metric: { name: string }; target: { type: string; averageValue: string } } }[];
    behavior?: { scaleUp?: RulesDoc; scaleDown?: RulesDoc };
  };
}

/** One HorizontalPodAutoscaler document (a single Pods metric, as ours have). */
export function hpaSpec(doc: HpaDoc): HpaSpec {
  if (doc.kind !== 'HorizontalPodAutoscaler') throw new Error(`${doc.metadata?.name}: not a HorizontalPodAutoscaler (${doc.kind})`);
  const metrics = doc.spec.metrics;
  const pods = metrics[0]?.pods;
  if (metrics.length !== 1 || metrics[0]!.type !== 'Pods' || !pods || pods.target.type !== 'AverageValue') throw new Error(`${doc.metadata.name}: the rehearsal reads one Pods metric with an AverageValue target`);
  return {
    name: doc.metadata.name,
    minReplicas: doc.spec.minReplicas ?? 1,
    maxReplicas: doc.spec.maxReplicas,
    metric: pods.metric.name,
    target: quantity(pods.target.averageValue),
    targetType: 'AverageValue',
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
    triggers: { type: string; metricType?: 'AverageValue' | 'Value'; metadata: { query: string; threshold: string } }[];
  };
}

/** A KEDA ScaledObject with one Prometheus trigger, as an HPA spec (KEDA's defaults: min 0, max 100, AverageValue). */
export function scaledObjectSpec(doc: ScaledObjectDoc): HpaSpec & { readonly query: string; readonly pollingInterval: number } {
  const trigger = doc.spec.triggers[0];
  if (doc.spec.triggers.length !== 1 || trigger?.type !== 'prometheus') throw new Error(`${doc.metadata.name}: the rehearsal reads one prometheus trigger`);
  const behavior = doc.spec.advanced?.horizontalPodAutoscalerConfig?.behavior;
  return {
    name: doc.metadata.name,
    minReplicas: doc.spec.minReplicaCount ?? 0,
    maxReplicas: doc.spec.maxReplicaCount ?? 100,
    metric: trigger.metadata.query,
    target: quantity(trigger.metadata.threshold),
    targetType: trigger.metricType ?? 'AverageValue',
    scaleUp: rules(behavior?.scaleUp, DEFAULT_SCALE_UP),
    scaleDown: rules(behavior?.scaleDown, DEFAULT_SCALE_DOWN),
    query: trigger.metadata.query,
    pollingInterval: doc.spec.pollingInterval ?? 30,
  };
}

/**
 * The rate window and quantile of a prometheus-adapter rule's metricsQuery (histogram_quantile
 * over rate(...[W])), and the request rate per pod it counts the quantile above (`... > R`; 0
 * when the rule has no such gate).
 */
export function adapterQuantile(metricsQuery: string): { quantile: number; windowSeconds: number; minRate: number } {
  const q = /histogram_quantile\(\s*([\d.]+)\s*,/.exec(metricsQuery);
  const w = /\[(\d+)(s|m|h)\]/.exec(metricsQuery);
  if (!q || !w) throw new Error(`not a histogram_quantile over a rate window: ${metricsQuery}`);
  const gate = /le="\+Inf"\}\[\w+\]\)\)\s*>\s*([\d.]+)/.exec(metricsQuery);
  return { quantile: Number(q[1]), windowSeconds: Number(w[1]) * { s: 1, m: 60, h: 3600 }[w[2] as 's' | 'm' | 'h'], minRate: gate ? Number(gate[1]) : 0 };
}

export interface Resources {
  readonly cpuRequest: number;
  readonly cpuLimit: number;
}

export interface AutoscalingManifests {
  readonly gateway: HpaSpec;
  readonly logic: HpaSpec;
  /** the adapter rule behind the logic HPA's metric */
  readonly logicLatency: { readonly quantile: number; readonly windowSeconds: number; readonly minRate: number };
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
  const adapterRules = (parse(adapter.data['config.yaml']) as { rules: { name: { as: string }; metricsQuery: string }[] }).rules;
  const rule = adapterRules.find((r) => r.name.as === logic.metric);
  if (!rule) throw new Error(`no prometheus-adapter rule serves ${logic.metric}`);
  const scaled = docs(root, 'overlays/keda/scaledobjects.yaml').map(scaledObjectSpec);
  const named = (n: string) => {
    const s = scaled.find((x) => x.name === n);
    if (!s) throw new Error(`no ScaledObject ${n} in overlays/keda`);
    return s;
  };
  return {
    gateway,
    logic,
    logicLatency: adapterQuantile(rule.metricsQuery),
    resources: { gateway: resources(root, 'base/gateway-deployment.yaml'), logic: resources(root, 'base/logic-deployment.yaml') },
    keda: { gateway: named(gateway.name), logic: named(logic.name) },
  };
}

/** Where a ScaledObject would scale differently from its HPA (empty: they agree). */
export function compare(hpa: HpaSpec, keda: HpaSpec): string[] {
  const out: string[] = [];
  for (const k of ['minReplicas', 'maxReplicas', 'target'] as const) if (hpa[k] !== keda[k]) out.push(`${hpa.name}: ${k} ${hpa[k]} (HPA) vs ${keda[k]} (KEDA)`);
  for (const side of ['scaleUp', 'scaleDown'] as const) if (JSON.stringify(hpa[side]) !== JSON.stringify(keda[side])) out.push(`${hpa.name}: ${side} ${JSON.stringify(hpa[side])} (HPA) vs ${JSON.stringify(keda[side])} (KEDA)`);
  return out;
}
