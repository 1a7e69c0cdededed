// The Grafana dashboard against a real Prometheus (Debian's package; .ci/run installs it): a
// small cluster (one gateway, one logic process, real nats-server and redis-server) is scraped
// every second while clients make room traffic (danmaku, likes, gifts, a resume), chat (direct
// messages acknowledged, SYNC, HISTORY, CONTACTS, READ) and an admin call; then every query of
// every panel, template variable and annotation of grafana/danmaku-overview.json is evaluated
// through Prometheus's HTTP API over the traffic's time range. A query that errors fails, and so
// does one that returns no series with a number (NaN only is empty), unless the panel is in
// ALLOWED_EMPTY with the reason. The alert rules are loaded too: every rule must evaluate
// without an error.

import { readFileSync } from 'node:fs';
import t from 'tap';
import { ROOT, RULES_FILE } from '../../deploy/alerts/render.js';
import { Kind } from '../../src/protocol/kinds.js';
import { Op } from '../../src/protocol/ops.js';
import { FAST, startCluster } from '../helpers/cluster.js';
import { startPrometheus, type RunningPrometheus } from '../helpers/prometheus.js';
import { sleep, waitFor } from '../helpers/server.js';

t.setTimeout(180_000);

/**
 * Panel targets ("<panel title> / <refId>") allowed to return nothing in this setup, with why.
 * Empty: every counter starts at 0 (src/metrics.ts) and the traffic reaches every histogram.
 */
const ALLOWED_EMPTY: Readonly<Record<string, string>> = {};

/** What Grafana substitutes; the variables are "All" (.*) and the rate interval 4 scrapes (Grafana's rule: 4 x scrape interval). */
const VARIABLES: Readonly<Record<string, string>> = { $job: '.*', $role: '.*', $node: '.*', $__rate_interval: '4s' };

interface Target {
  refId: string;
  expr: string;
}
interface Panel {
  type: string;
  title: string;
  targets?: Target[];
}
interface Dashboard {
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string }[] };
  annotations: { list: { name: string; expr?: string }[] };
}

const dashboard = JSON.parse(readFileSync(ROOT + 'grafana/danmaku-overview.json', 'utf8')) as Dashboard;

function substitute(expr: string): string {
  return expr.replace(/\$__rate_interval|\$\w+/g, (v) => {
    const value = VARIABLES[v];
    if (value === undefined) throw new Error(`unknown variable ${v} in ${expr}`);
    return value;
  });
}

type Matrix = { metric: Record<string, string>; values: [number, string][] }[];

/** Series with at least one number: what a panel draws. */
function drawn(m: Matrix): number {
  return m.filter((s) => s.values.some(([, v]) => Number.isFinite(Number(v)))).length;
}

/** Room traffic, chat, a resume and an admin call on the cluster, for about `ms`. */
async function traffic(c: Awaited<ReturnType<typeof startCluster>>, ms: number): Promise<void> {
  const gw = c.gateways[0]!;
  const alice = await gw.connect('alice');
  const bob = await gw.connect('bob');
  try {
    const joined = (await alice.join('live')).body as { epoch: string };
    await bob.join('live');
    const end = Date.now() + ms;
    for (let i = 0; Date.now() < end; i++) {
      const item = i % 10 === 0 ? { k: Kind.Gift, g: 'rose', a: 1, id: `g-${i}` } : i % 5 === 0 ? { k: Kind.Like, id: `l-${i}` } : { k: Kind.Danmaku, x: `d${i}`, id: `d-${i}` };
      await alice.send(item);
      if (i % 4 === 0) await alice.message({ to: 'bob', x: `hi ${i}`, id: `m-${i}` });
      if (i % 8 === 0) {
        await bob.request(Op.Sync, { cursor: 0 });
        await bob.request(Op.History, { to: 'alice' });
        await bob.request(Op.Contacts, null);
        await bob.request(Op.Read, { to: 'alice', s: 1 });
      }
      await sleep(50);
    }
    // A viewer coming back with `since`: a room resume.
    const carol = await gw.connect('carol');
    await carol.request(Op.Join, { room: 'live', since: 1, epoch: joined.epoch });
    carol.close();
    const admin = await c.api('GET', '/api/groups/none/members');
    if (admin.status !== 404) throw new Error(`admin API answered ${admin.status}`);
  } finally {
    alice.close();
    bob.close();
  }
}

t.test('grafana - every panel query evaluates with data on a real Prometheus; the alert rules evaluate', async (t) => {
  const c = await startCluster({ gateways: 1, logics: 1, env: { ...FAST, MAX_CONNECTIONS: '1000' } });
  t.teardown(() => c.stop());
  const prom: RunningPrometheus = await startPrometheus({
    targets: [...c.gateways, ...c.logics].map((p) => ({ address: `127.0.0.1:${p.metricsPort}` })),
    ruleFiles: [ROOT + RULES_FILE],
    interval: '1s',
  });
  t.teardown(() => prom.stop());

  // Every process scraped before the traffic, so that rates start from a sample.
  await waitFor(async () => {
    const up = await prom.api<{ result: unknown[] }>('query', { query: 'up == 1' });
    return up.result.length === 2;
  }, 20_000, 'both targets up in Prometheus');
  const start = Date.now() / 1000;
  await traffic(c, 4000);
  const end = Date.now() / 1000;
  // Scrapes after the traffic (the metrics of its last second), by Prometheus's own clock.
  await waitFor(async () => {
    const last = await prom.api<{ result: { value: [number, string] }[] }>('query', { query: 'min(timestamp(up))' });
    return Number(last.result[0]?.value[1] ?? 0) > end + 2;
  }, 20_000, 'scrapes after the traffic');
  const range = { start: String(start - 2), end: String(end + 2), step: '1' };

  const empty: string[] = [];
  let queries = 0;
  for (const panel of dashboard.panels) {
    for (const target of panel.targets ?? []) {
      const key = `${panel.title} / ${target.refId}`;
      queries++;
      const m = await prom.api<{ result: Matrix }>('query_range', { query: substitute(target.expr), ...range }).then(
        (d) => d.result,
        (err: Error) => {
          t.fail(`${key}: ${err.message}`);
          return [] as Matrix;
        },
      );
      if (drawn(m) === 0 && !(key in ALLOWED_EMPTY)) empty.push(`${key}: ${target.expr}`);
      if (drawn(m) > 0 && key in ALLOWED_EMPTY) t.fail(`${key} has data: take it off ALLOWED_EMPTY`);
    }
  }
  t.ok(queries >= 50, `${queries} panel queries evaluated`);
  t.same(empty, [], 'no panel query without data (ALLOWED_EMPTY lists the exceptions)');

  for (const a of dashboard.annotations.list.filter((a) => a.expr)) {
    await prom.api('query_range', { query: substitute(a.expr!), ...range }).then(
      () => t.pass(`annotation ${a.name} evaluates`),
      (err: Error) => t.fail(`annotation ${a.name}: ${err.message}`),
    );
  }

  // Template variables: label_values(<selector>, <label>) as Grafana asks it.
  const expect: Record<string, string[]> = { job: ['danmaku'], role: ['gateway', 'logic'], node: ['gw-0', 'logic-0'] };
  for (const v of dashboard.templating.list.filter((v) => v.type === 'query')) {
    const m = /^label_values\((.+), (\w+)\)$/.exec(v.query ?? '');
    if (!m) {
      t.fail(`variable ${v.name}: not a label_values query: ${v.query}`);
      continue;
    }
    const values = await prom.api<string[]>(`label/${m[2]}/values`, { 'match[]': substitute(m[1]!) });
    t.same(values.sort(), expect[v.name]?.sort() ?? ['<unexpected variable>'], `variable ${v.name}: ${values.join(', ')}`);
  }

  // The alert rules, loaded by this Prometheus: every rule evaluated, none with an error.
  type Rules = { groups: { name: string; rules: { name: string; health: string; lastError?: string; lastEvaluation: string }[] }[] };
  let rules: Rules = { groups: [] };
  await waitFor(async () => {
    rules = await prom.api<Rules>('rules');
    return rules.groups.length > 0 && rules.groups.every((g) => g.rules.every((r) => !r.lastEvaluation.startsWith('0001')));
  }, 20_000, 'every rule evaluated');
  const all = rules.groups.flatMap((g) => g.rules);
  t.ok(all.length >= 30, `${all.length} rules loaded`);
  t.same(all.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`), [], 'every rule evaluates without an error');
});
