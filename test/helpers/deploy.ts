// What the deploy-* tests share: the repository's files, YAML documents, the variables that
// src/config.ts reads, and schema validators (ajv) built from committed or npm-shipped schemas.
// Nothing here touches the network.

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';

// Compiled to dist/test/helpers/, so the repository root is three levels up.
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export function repoFile(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

/** Every file under `dir` (relative to the root) whose name ends with one of `exts`, sorted. */
export function filesUnder(dir: string, exts: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (abs: string): void => {
    for (const entry of readdirSync(abs, { withFileTypes: true })) {
      const path = join(abs, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (exts.some((e) => entry.name.endsWith(e))) out.push(relative(ROOT, path));
    }
  };
  walk(join(ROOT, dir));
  return out.sort();
}

/** The YAML documents of a text; a syntax error or warning throws, naming `where`. */
export function yamlDocuments(text: string, where: string): unknown[] {
  return parseAllDocuments(text, { merge: true }).map((doc, i) => {
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length > 0) throw new Error(`${where}, document ${i + 1}: ${problems.map((p) => p.message).join('; ')}`);
    return doc.toJS({ maxAliasCount: 100 }) as unknown;
  }).filter((d) => d !== null && d !== undefined);
}

/**
 * The environment variables src/config.ts reads: every `int|bool|num|str(env, 'NAME'` and
 * `env.NAME`. Read from the source, so a renamed variable fails the manifests' tests.
 */
export function configVariables(): Set<string> {
  const src = repoFile('src/config.ts');
  const names = new Set<string>();
  for (const m of src.matchAll(/\b(?:int|bool|num|str)\(env, '([A-Z][A-Z0-9_]*)'/g)) names.add(m[1]!);
  for (const m of src.matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b/g)) names.add(m[1]!);
  return names;
}

/** A variable the server understands: one config reads, or `<one of those>_FILE`. */
export function knownVariable(name: string, known: ReadonlySet<string>): boolean {
  return known.has(name) || (name.endsWith('_FILE') && known.has(name.slice(0, -'_FILE'.length)));
}

export function describeErrors(errors: readonly ErrorObject[] | null | undefined): string {
  return (errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`).join('; ');
}

type Schema = Record<string, unknown>;

/**
 * Makes an OpenAPI-derived schema strict, as kubeconform's -strict does: an object schema with
 * `properties` and no `additionalProperties` gets `additionalProperties: false`, so a misspelt
 * field fails instead of being dropped by the API server.
 */
export function strict<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map(strict) as T;
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema as Schema)) {
    out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as Schema).map(([p, s]) => [p, strict(s)])) : strict(v);
  }
  if ('properties' in out && !('additionalProperties' in out)) out.additionalProperties = false;
  return out as T;
}

/** The schema id of each apiVersion and kind the manifests may use (test/fixtures/kubernetes/README.md). */
export const KUBERNETES_KINDS: Readonly<Record<string, string>> = {
  'apps/v1 Deployment': 'io.k8s.api.apps.v1.Deployment',
  'v1 Service': 'io.k8s.api.core.v1.Service',
  'v1 ConfigMap': 'io.k8s.api.core.v1.ConfigMap',
  'v1 Secret': 'io.k8s.api.core.v1.Secret',
  'v1 ServiceAccount': 'io.k8s.api.core.v1.ServiceAccount',
  'v1 Namespace': 'io.k8s.api.core.v1.Namespace',
  'policy/v1 PodDisruptionBudget': 'io.k8s.api.policy.v1.PodDisruptionBudget',
  'autoscaling/v2 HorizontalPodAutoscaler': 'io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler',
  'monitoring.coreos.com/v1 ServiceMonitor': 'monitoring.coreos.com.v1.ServiceMonitor',
  'monitoring.coreos.com/v1 PrometheusRule': 'monitoring.coreos.com.v1.PrometheusRule',
  'keda.sh/v1alpha1 ScaledObject': 'keda.sh.v1alpha1.ScaledObject',
  'kustomize.config.k8s.io/v1beta1 Kustomization': 'kustomization',
};

export type Validate = (doc: unknown) => { ok: boolean; why: string };

/** A validator of Kubernetes documents by apiVersion and kind, on the vendored strict schemas. */
export function kubernetesValidator(): Validate {
  const ajv = new Ajv({ strict: false, allErrors: true });
  // OpenAPI formats: the types already constrain them enough for a manifest check.
  for (const f of ['int32', 'int64', 'byte', 'quantity', 'date-time', 'int-or-string']) ajv.addFormat(f, true);
  const schemas = JSON.parse(repoFile('test/fixtures/kubernetes/schemas.json')) as Record<string, Schema>;
  for (const [id, schema] of Object.entries(schemas)) ajv.addSchema(strict(schema), id);
  ajv.addSchema(JSON.parse(repoFile('test/fixtures/kubernetes/kustomization.schema.json')) as Schema, 'kustomization');
  const compiled = new Map<string, ValidateFunction>();
  return (doc) => {
    const d = doc as { apiVersion?: unknown; kind?: unknown } | null;
    const key = `${String(d?.apiVersion)} ${String(d?.kind)}`;
    const id = KUBERNETES_KINDS[key];
    if (id === undefined) return { ok: false, why: `no schema for ${key}` };
    let validate = compiled.get(id);
    if (validate === undefined) {
      validate = ajv.getSchema(id);
      if (validate === undefined) return { ok: false, why: `schema ${id} missing from test/fixtures/kubernetes` };
      compiled.set(id, validate);
    }
    const ok = validate(doc) === true;
    return { ok, why: ok ? '' : `${key}: ${describeErrors(validate.errors)}` };
  };
}
