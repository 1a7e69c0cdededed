// deploy/kubernetes/: every YAML document against the Kubernetes and CRD schemas (vendored
// from npm, made strict: test/fixtures/kubernetes/README.md), file by file, and what the
// schemas cannot say: the drain's grace period, the probes, env names the server reads, secret
// files that exist, selectors that match, autoscaling metrics that exist.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import t from 'tap';
import { quantity } from '../../bench/lib/hpa-manifests.js';
import { parse } from 'yaml';
import { Metrics } from '../../src/metrics.js';
import { configVariables, filesUnder, knownVariable, kubernetesValidator, repoFile, ROOT, yamlDocuments } from '../helpers/deploy.js';

const validate = kubernetesValidator();
const known = configVariables();

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

const files = filesUnder('deploy/kubernetes', ['.yaml', '.yml']);
const docs = new Map<string, Doc[]>(files.map((f) => [f, yamlDocuments(repoFile(f), f) as Doc[]]));
const all = [...docs.values()].flat();
const find = (kind: string, name: string): Doc => {
  const doc = all.find((d) => d.kind === kind && d.metadata?.name === name);
  if (doc === undefined) throw new Error(`no ${kind} ${name} in deploy/kubernetes`);
  return doc;
};

t.test('deploy-kubernetes - every document validates against its schema', async (t) => {
  t.ok(files.length >= 15, `the manifests were found (${files.length})`);
  for (const [file, list] of docs) {
    t.ok(list.length > 0, `${file} has a document`);
    for (const doc of list) {
      const { ok, why } = validate(doc);
      t.ok(ok, `${file}: ${doc.kind} ${doc.metadata?.name ?? ''} ${why}`);
    }
  }
});

t.test('deploy-kubernetes - a wrong field fails the schemas', async (t) => {
  const gateway = () => structuredClone(find('Deployment', 'danmaku-gateway'));
  const container = (d: Doc) => d.spec.template.spec.containers[0];
  t.ok(validate(gateway()).ok, 'the gateway as committed');
  const typo = gateway();
  container(typo).readinesProbe = container(typo).readinessProbe;
  t.notOk(validate(typo).ok, 'a misspelt field (readinesProbe)');
  const type = gateway();
  type.spec.template.spec.terminationGracePeriodSeconds = '45';
  t.notOk(validate(type).ok, 'a string where an integer goes');
  const missing = gateway();
  delete container(missing).name;
  t.notOk(validate(missing).ok, 'a required field left out (container name)');
  const monitor = structuredClone(find('ServiceMonitor', 'danmaku'));
  monitor.spec.endpoints[0].intervall = '15s';
  t.notOk(validate(monitor).ok, 'a CRD: an unknown ServiceMonitor endpoint field');
  const scaled = structuredClone(find('ScaledObject', 'danmaku-gateway'));
  scaled.spec.minReplicaCount = 'two';
  t.notOk(validate(scaled).ok, 'a CRD: ScaledObject minReplicaCount not an integer');
  const hpa = structuredClone(find('HorizontalPodAutoscaler', 'danmaku-gateway'));
  hpa.apiVersion = 'autoscaling/v2beta1';
  t.match(validate(hpa).why, /no schema for autoscaling\/v2beta1/, 'an API version we do not ship');
  const kustomization = structuredClone(docs.get('deploy/kubernetes/base/kustomization.yaml')![0]!) as unknown as Record<string, unknown>;
  kustomization.bases = ['../x'];
  t.notOk(validate(kustomization).ok, 'a Kustomization field we do not use (bases, deprecated)');
});

t.test('deploy-kubernetes - every kustomization resource exists', async (t) => {
  for (const file of files.filter((f) => f.endsWith('kustomization.yaml'))) {
    const k = docs.get(file)![0] as unknown as { resources: string[] };
    for (const r of k.resources) {
      const path = join(dirname(file), r);
      t.ok(existsSync(join(ROOT, path)), `${file}: ${r}`);
    }
  }
});

t.test('deploy-kubernetes - the pods: drain grace, probes, non-root, env the server reads', async (t) => {
  const configMap = find('ConfigMap', 'danmaku-config');
  const secret = find('Secret', 'danmaku-secrets');
  for (const key of Object.keys(configMap.data ?? {})) t.ok(known.has(key), `ConfigMap ${key} is read by src/config.ts`);
  for (const [name, role, grace] of [['danmaku-gateway', 'gateway', 45], ['danmaku-logic', 'logic', 30]] as const) {
    const deployment = find('Deployment', name);
    const pod = deployment.spec.template.spec;
    t.equal(pod.terminationGracePeriodSeconds, grace, `${name}: terminationGracePeriodSeconds ${grace}`);
    t.same(deployment.spec.selector.matchLabels, { 'app.kubernetes.io/name': 'danmaku', 'app.kubernetes.io/component': role }, `${name}: selector`);
    t.match(deployment.spec.template.metadata.labels, deployment.spec.selector.matchLabels, `${name}: the pods carry the selector's labels`);
    t.equal(pod.securityContext.runAsNonRoot, true, `${name}: non-root`);
    t.equal(pod.automountServiceAccountToken, false, `${name}: no API token`);
    const [c, ...rest] = pod.containers;
    t.equal(rest.length, 0, `${name}: one container`);
    t.equal(c.image, 'danmaku-server', `${name}: the one image (set by the kustomization's images)`);
    t.notOk(c.command ?? c.args, `${name}: the image's entrypoint, role by env`);
    t.same([c.livenessProbe.httpGet.path, c.readinessProbe.httpGet.path], ['/livez', '/readyz'], `${name}: probes`);
    t.same(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } }, `${name}: container security`);
    const ports = Object.fromEntries(c.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]));
    t.equal(ports.metrics, Number(configMap.data!.METRICS_PORT), `${name}: metrics port is METRICS_PORT`);
    if (role === 'gateway') t.equal(ports.ws, Number(configMap.data!.PORT), `${name}: ws port is PORT`);
    else t.equal(ports.admin, Number(configMap.data!.ADMIN_PORT), `${name}: admin port is ADMIN_PORT`);
    const env = new Map<string, { value?: string }>(c.env.map((e: { name: string }) => [e.name, e]));
    t.equal(env.get('ROLE')?.value, role, `${name}: ROLE=${role}`);
    for (const key of env.keys()) t.ok(knownVariable(key, known), `${name}: ${key} is read by src/config.ts`);
    const mount = c.volumeMounts.find((m: { name: string }) => m.name === 'secrets');
    t.equal(pod.volumes.find((v: { name: string }) => v.name === 'secrets')?.secret?.secretName, secret.metadata.name, `${name}: mounts the Secret`);
    for (const [key, e] of env) {
      if (!key.endsWith('_FILE')) continue;
      const file = String(e.value);
      t.ok(file.startsWith(`${mount.mountPath}/`) && file.slice(mount.mountPath.length + 1) in secret.stringData!, `${name}: ${key} names a key of the Secret (${file})`);
    }
    for (const s of ['TOKEN_SECRET', 'ADMIN_SECRET', 'NATS_URL', 'REDIS_URL']) t.ok(env.has(`${s}_FILE`), `${name}: ${s} from the Secret's file`);
  }
  const pdb = find('PodDisruptionBudget', 'danmaku-gateway');
  t.same(pdb.spec.selector.matchLabels, find('Deployment', 'danmaku-gateway').spec.selector.matchLabels, 'the PDB selects the gateways');
});

t.test('deploy-kubernetes - services and the ServiceMonitor select what they name', async (t) => {
  const podLabels = ['danmaku-gateway', 'danmaku-logic'].map((n) => find('Deployment', n).spec.template.metadata.labels as Record<string, string>);
  const selects = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
  for (const svc of all.filter((d) => d.kind === 'Service')) {
    t.ok(podLabels.some((l) => selects(svc.spec.selector, l)), `Service ${svc.metadata.name} selects pods`);
  }
  const metrics = find('Service', 'danmaku-metrics');
  t.ok(podLabels.every((l) => selects(metrics.spec.selector, l)), 'the metrics Service selects every pod');
  const monitor = find('ServiceMonitor', 'danmaku');
  t.ok(selects(monitor.spec.selector.matchLabels, metrics.metadata.labels!), 'the ServiceMonitor selects the metrics Service');
  t.notOk(selects(monitor.spec.selector.matchLabels, find('Service', 'danmaku-gateway').metadata.labels!), 'and not the clients\' Service');
  t.same(monitor.spec.endpoints.map((e: { port: string }) => e.port), metrics.spec.ports.map((p: { name: string }) => p.name), 'by port name');
});

t.test('deploy-kubernetes - autoscaling on metrics the server exports, the same targets in both overlays', async (t) => {
  const registered = new Set(((await new Metrics({ defaultMetrics: false }).registry.getMetricsAsJSON()) as { name: string }[]).map((m) => m.name));
  const adapter = find('ConfigMap', 'prometheus-adapter');
  const rules = (parse(adapter.data!['config.yaml']!) as { rules: { seriesQuery: string; name: { as: string }; metricsQuery: string }[] }).rules;
  const served = new Set(rules.map((r) => r.name.as));
  for (const r of rules) {
    const series = /^(\w+)\{/.exec(r.seriesQuery)?.[1] ?? '';
    t.ok(registered.has(series.replace(/_(bucket|count|sum)$/, '')), `adapter rule ${r.name.as}: ${series} is a metric of src/metrics.ts`);
    t.match(r.metricsQuery, /<<\.LabelMatchers>>/, `adapter rule ${r.name.as}: scoped to the HPA's pods`);
  }
  const targets = new Map<string, string[]>();
  for (const name of ['danmaku-gateway', 'danmaku-logic']) {
    const hpa = find('HorizontalPodAutoscaler', name);
    t.equal(hpa.spec.scaleTargetRef.name, name, `HPA ${name} scales its Deployment`);
    for (const m of hpa.spec.metrics) t.ok(served.has(m.pods.metric.name), `HPA ${name}: ${m.pods.metric.name} is served by the adapter rules`);
    targets.set(name, hpa.spec.metrics.map((m: { pods: { target: { averageValue: string } } }) => String(m.pods.target.averageValue)));
  }
  t.same(targets.get('danmaku-gateway'), ['8000'], 'gateways: 8,000 connections per pod');
  t.same(targets.get('danmaku-logic'), ['12000', '15'], 'logic: requests per second per pod, two thirds of one process\'s ceiling, then the gated p99 (docs/benchmarks.md, issue 14)');
  for (const name of ['danmaku-gateway', 'danmaku-logic']) {
    const so = find('ScaledObject', name);
    t.equal(so.spec.scaleTargetRef.name, name, `ScaledObject ${name} scales its Deployment`);
    const triggers = so.spec.triggers as { type: string; metricType?: string; metadata: { query: string; threshold: string } }[];
    t.same(triggers.map((x) => quantity(x.metadata.threshold)), targets.get(name)!.map(quantity), `ScaledObject ${name}: a trigger per HPA metric, at its target`);
    for (const trigger of triggers) {
      t.equal(trigger.metricType ?? 'AverageValue', 'AverageValue', `ScaledObject ${name}: AverageValue, divided by the replicas as the HPA averages`);
      for (const [, metric] of String(trigger.metadata.query).matchAll(/\b(danmaku_\w+?)(?:_bucket|_count|_sum)?\{/g)) {
        t.ok(registered.has(metric!), `ScaledObject ${name}: ${metric} is a metric of src/metrics.ts`);
      }
    }
    t.equal(so.spec.minReplicaCount, find('HorizontalPodAutoscaler', name).spec.minReplicas, `${name}: same minimum`);
    t.equal(so.spec.maxReplicaCount, find('HorizontalPodAutoscaler', name).spec.maxReplicas, `${name}: same maximum`);
  }
});

t.test('deploy-kubernetes - the overlays put what they add in the base namespace', async (t) => {
  const ns = (file: string) => (docs.get(file)![0] as unknown as { namespace?: string }).namespace;
  const base = ns('deploy/kubernetes/base/kustomization.yaml');
  t.equal(base, 'danmaku');
  for (const overlay of ['hpa', 'keda']) t.equal(ns(`deploy/kubernetes/overlays/${overlay}/kustomization.yaml`), base, `${overlay}: its autoscalers next to the Deployments they scale`);
});
