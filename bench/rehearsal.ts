// rehearsal: the autoscaling rehearsal (issue 14). A flash crowd replayed against a loopback
// cluster (its own nats-server and redis-server, --gateways and --logics processes, by default
// the HPAs' minReplicas, each under --server-cpu if given); every sync period the real metrics
// of every process are read and the HPAs of deploy/kubernetes/overlays/hpa, with their targets,
// tolerance, min/max and behaviour read from the YAML, compute the replicas they would ask
// for. Writes the JSON, a markdown summary and an SVG of load, replicas and delivery delay.

import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { probeCpuLimit } from './lib/cpu-limit.js';
import { compare, readAutoscaling } from './lib/hpa-manifests.js';
import { parseOptions, serverCpuMax, serverCpuOf, type Options } from './lib/options.js';
import { rehearsalMarkdown, rehearsalSvg, type RehearsalReport } from './lib/rehearsal-report.js';
import { rehearse, type Crowd } from './lib/rehearsal-run.js';
import { runPrefix } from './lib/run-id.js';
import { setServerCpu, startCluster } from './lib/target.js';

export const REHEARSAL = {
  name: 'rehearsal',
  summary: 'autoscaling rehearsal: a flash crowd on a loopback cluster, the real metrics read every 15 s, the replicas the manifests\' HPAs ask for (load, replicas, delay over time)',
};

export const REHEARSAL_HELP = `rehearsal options (with --gateways and --logics, default the HPAs' minReplicas, --senders,
--rate, --likes, --gifts, --server-cpu, --env, --addresses, --json, --svg):
  --peak N              viewers at the peak (default 12000), each with a token
  --arrive S            seconds over which they arrive, most of them early (default 30)
  --hold S              seconds at the peak (default 40)
  --leave S             seconds over which they leave (default 30)
  --tail S              seconds with the senders only at the end (default 15)
  --cohorts K           arrival and departure steps (default 6)
  --sync S              seconds between metric reads and HPA syncs (default 15, the HPA's period)
  --sends N             SENDs/s at the peak from chatters in rooms of their own, following the
                        crowd's size (default 0), so that the logic HPA has requests to scale on
  --chatters N          users posting them, each in a room of its own (default 200)
  --pod-start S         seconds from a pod asked for to its first value in the HPA (default
                        30): Pending for all but the last 15 s (left out, 0 on a scale-up), then
                        running without a value until scraped (missing)`;

const FLAGS = {
  peak: { type: 'string' },
  arrive: { type: 'string' },
  hold: { type: 'string' },
  leave: { type: 'string' },
  tail: { type: 'string' },
  cohorts: { type: 'string' },
  sync: { type: 'string' },
  sends: { type: 'string' },
  chatters: { type: 'string' },
  'pod-start': { type: 'string' },
} as const;

/** Splits the rehearsal's own flags from the shared ones (options.ts), and parses them. */
export function parseRehearsalOptions(args: string[]): { crowd: Omit<Crowd, 'senders' | 'rate' | 'likes' | 'gifts'>; rest: string[] } {
  const own: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = /^--([\w-]+)/.exec(args[i]!)?.[1];
    const mine = name !== undefined && name in FLAGS;
    (mine ? own : rest).push(args[i]!);
    if (mine && !args[i]!.includes('=') && i + 1 < args.length) own.push(args[++i]!);
  }
  const { values } = parseArgs({ args: own, options: FLAGS });
  const num = (key: keyof typeof FLAGS, def: number, min: number): number => {
    const raw = values[key];
    if (raw === undefined) return def;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${key} must be a number >= ${min}, got ${JSON.stringify(raw)}`);
    return n;
  };
  return {
    crowd: {
      peak: num('peak', 12_000, 1),
      arriveS: num('arrive', 30, 1),
      holdS: num('hold', 40, 0),
      leaveS: num('leave', 30, 1),
      tailS: num('tail', 15, 0),
      cohorts: Math.round(num('cohorts', 6, 1)),
      syncS: Math.round(num('sync', 15, 1)),
      sends: num('sends', 0, 0),
      chatters: Math.round(num('chatters', 200, 1)),
      podStartS: num('pod-start', 30, 0),
    },
    rest,
  };
}

export interface RehearsalOutcome {
  readonly options: Options;
  readonly report: RehearsalReport;
  readonly markdown: string;
  readonly svg: string;
}

export async function rehearsal(argv: string[]): Promise<RehearsalOutcome> {
  const manifests = readAutoscaling();
  for (const [hpa, keda, role] of [[manifests.gateway, manifests.keda.gateway, 'gateway'], [manifests.logic, manifests.keda.logic, 'logic']] as const) {
    const drift = compare(hpa, keda, manifests.rules, manifests.namespace, role);
    if (drift.length > 0) throw new Error(`overlays/hpa and overlays/keda disagree: ${drift.join('; ')}`);
  }
  const { crowd: shape, rest } = parseRehearsalOptions(argv);
  const o = parseOptions(rest, { gateways: manifests.gateway.minReplicas, logics: manifests.logic.minReplicas, senders: 10, rate: 60, likes: 20, gifts: 1, addresses: 8 });
  const crowd: Crowd = { ...shape, senders: Math.max(1, o.senders), rate: o.rate, likes: o.likes, gifts: o.gifts };
  if (o.url) throw new Error('rehearsal starts its own loopback cluster; drop --url');
  if (serverCpuMax(o) > 0) probeCpuLimit(serverCpuMax(o));
  setServerCpu(o.serverCpu, o.serverCpuByRole);
  // Degradation's CPU signal is a share of a whole core: under the gateways' quota, 0.9 of it (deploy/README.md).
  const gatewayCpu = serverCpuOf(o, 'gateway');
  const env = { MERGE_WINDOW_MS: String(o.mergeWindowMs), TOKEN_SECRET: o.tokenSecret, ...(gatewayCpu > 0 ? { DEGRADE_CPU: String(Math.round(gatewayCpu * 90) / 100) } : {}), ...o.env };
  const loadBefore = loadavg();
  const target = await startCluster(o.gateways, o.logics, env);
  let run;
  try {
    run = await rehearse(target, manifests, crowd, { run: runPrefix(), tokenSecret: o.tokenSecret, addresses: Array.from({ length: o.addresses }, (_, i) => `127.0.0.${i + 1}`), quiet: o.quiet });
  } finally {
    await target.stop();
  }
  const { TOKEN_SECRET: _secret, ...shownEnv } = env;
  const report: RehearsalReport = {
    scenario: 'rehearsal',
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version, loadBefore, loadAfter: loadavg() },
    cluster: { gateways: o.gateways, logics: o.logics, serverCpu: o.serverCpu, serverCpuByRole: o.serverCpuByRole, env: shownEnv },
    crowd,
    manifests,
    run,
  };
  return { options: o, report, markdown: rehearsalMarkdown(report), svg: rehearsalSvg(report) };
}
