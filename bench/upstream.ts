// upstream: the send path's capacity and its behaviour past it, standalone and on a loopback
// cluster (nats-server, redis-server, 1 gateway, 1 logic) in one invocation, with the same
// traffic: --connections users over --rooms rooms, each user a sender (every SEND with a client
// id) and a receiver of its room. Per target: steps of offered SENDs/s up to the ceiling
// (accepted ≥ 0.98x offered and ACK p99 < 50 ms), on the cluster Redis commands and NATS
// messages per SEND, an overload at 3x the ceiling then half of it, and loss by seq of every
// acknowledged message. Method: docs/benchmarks.md, "T6 cluster / T8 overload".

import { cpus, loadavg } from 'node:os';
import { parseOptions, serverCpuMax, type Options } from './lib/options.js';
import { runPrefix } from './lib/run-id.js';
import { probeCpuLimit } from './lib/cpu-limit.js';
import { setServerCpu, startCluster, startServer, type Target } from './lib/target.js';
import { upstreamSvg } from './lib/upstream-chart.js';
import { parseUpstreamOptions, type UpstreamOptions, type UpstreamTargetName } from './lib/upstream-options.js';
import { checksOf, upstreamMarkdown, type UpstreamReport } from './lib/upstream-report.js';
import { measureUpstream, type UpstreamRun } from './lib/upstream-run.js';

export const UPSTREAM = {
  name: 'upstream',
  summary: 'users that each send to and watch their room: steps of SENDs/s to the ceiling, then 3x overload and recovery; standalone, then a cluster (1 gateway, 1 logic)',
};

/** Nothing is shed from display, so that every acknowledged message must reach every member. */
const UPSTREAM_ENV = { ROOM_DISPLAY_CAP: '1000000' };

export interface UpstreamOutcome {
  readonly options: Options;
  readonly report: UpstreamReport;
  readonly markdown: string;
  readonly svg: string;
  /** every target of issue 9 met */
  readonly ok: boolean;
  readonly enforce: boolean;
}

function starter(which: UpstreamTargetName, o: Options): () => Promise<Target> {
  const env = { MERGE_WINDOW_MS: String(o.mergeWindowMs), TOKEN_SECRET: o.tokenSecret, ...UPSTREAM_ENV, ...o.env };
  return which === 'standalone' ? () => startServer(env, o.nodeArgs) : () => startCluster(1, 1, env);
}

async function runTarget(start: () => Promise<Target>, u: UpstreamOptions, o: Options): Promise<UpstreamRun> {
  const target = await start();
  try {
    return await measureUpstream(target, runPrefix(), u, {
      users: o.connections,
      rooms: o.rooms,
      tokenSecret: o.tokenSecret,
      workers: o.workers,
      addresses: Array.from({ length: o.addresses }, (_, i) => `127.0.0.${i + 1}`),
      rampS: o.rampS,
      warmupS: o.warmupS,
      quiet: o.quiet,
    });
  } finally {
    await target.stop();
  }
}

export async function upstream(argv: string[]): Promise<UpstreamOutcome> {
  const { upstream: u, rest } = parseUpstreamOptions(argv);
  const o = parseOptions(rest, { connections: 200, rooms: 20, warmupS: 5 });
  if (o.url) throw new Error('upstream starts its own standalone server and cluster; drop --url');
  if (o.connections < 1) throw new Error('upstream needs at least one user (--connections)');
  // --server-cpu: every server process (or those of a role: logic=0.25) under a pod's CPU limit (the logic's breaking point, issue 14)
  if (serverCpuMax(o) > 0) probeCpuLimit(serverCpuMax(o));
  setServerCpu(o.serverCpu, o.serverCpuByRole);
  const loadBefore = loadavg();
  const runs: UpstreamRun[] = [];
  for (const which of u.targets) runs.push(await runTarget(starter(which, o), u, o));
  const shown = { users: o.connections, rooms: o.rooms, rampS: o.rampS, warmupS: o.warmupS, mergeWindowMs: o.mergeWindowMs, workers: o.workers, addresses: o.addresses, env: { ...UPSTREAM_ENV, ...o.env }, nodeArgs: o.nodeArgs, serverCpu: o.serverCpu, serverCpuByRole: o.serverCpuByRole, ...u };
  const report: UpstreamReport = {
    scenario: 'upstream',
    options: shown,
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version, loadBefore, loadAfter: loadavg() },
    runs,
    checks: checksOf(runs),
  };
  return { options: o, report, markdown: upstreamMarkdown(report), svg: upstreamSvg(report), ok: report.checks.every((c) => c.ok), enforce: u.enforce };
}
