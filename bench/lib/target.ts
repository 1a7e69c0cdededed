// What the load is aimed at: our server (standalone, or a cluster on loopback) or the bare
// baseline, started here as child processes (server-process.ts, cluster.ts) and stopped by
// PID, or a deployment given by --url. CPU time and RSS (usage.ts) come from /proc for a
// process we started, and from the /metrics of every gateway of a cluster or deployment,
// summed over them. For the processes it started, the harness can also tell whether they are
// still running and read their /metrics, and for a cluster reach its Redis and nats-server.

import { startCluster as startLoopbackCluster } from './cluster.js';
import { limitCpu } from './cpu-limit.js';
import { serverCpuOf, type ServerCpuByRole, type ServerRole } from './options.js';
import { BASELINE_MAIN, startNode, startServerProcess, type NodeProcess } from './server-process.js';
import { natsMonitorUrl, type ServiceProcess } from './services.js';
import { metricsUsage, pidsUsage, urlsUsage, type Usage } from './usage.js';

export interface Target {
  readonly name: string;
  /** client WebSocket URLs: connections are spread over them */
  readonly urls: string[];
  /** admin API base (http://host:port) and its secret, where known */
  readonly admin: { url: string; secret: string } | null;
  usage(): Promise<Usage | null>;
  stop(): Promise<void>;
  /** the processes the harness started for it (none for a deployment) */
  readonly processes: readonly TargetProcess[];
  /** a loopback cluster's Redis port (INFO) and nats-server monitoring endpoint */
  readonly infra: { readonly redisPort: number; readonly natsMonitorUrl: string | null } | null;
}

export interface TargetProcess {
  readonly name: string;
  /** server: standalone (gateway and logic in one) */
  readonly role: 'server' | 'gateway' | 'logic' | 'baseline' | 'nats-server' | 'redis-server';
  readonly pid: number | undefined;
  alive(): boolean;
  /** its Prometheus endpoint, if it has one */
  readonly metricsUrl: string | null;
  /** its last JSON log lines, for a Node process the harness started */
  readonly logs?: () => readonly Record<string, unknown>[];
  /** SIGKILL by PID (faults.ts), for a Node process the harness started; resolves once it is gone */
  readonly kill?: () => Promise<void>;
  /** sends a signal by PID (a drain's SIGTERM, faults.ts), for a Node process the harness started */
  readonly signal?: (sig: NodeJS.Signals) => void;
  /** its exit code once it has exited (null: running, or killed by a signal) */
  readonly exitCode?: () => number | null;
}

function nodeProcess(p: NodeProcess, role: TargetProcess['role']): TargetProcess {
  return { name: p.name, role, pid: p.proc.pid, alive: () => p.proc.exitCode === null && p.proc.signalCode === null, metricsUrl: p.metricsPort > 0 ? `http://127.0.0.1:${p.metricsPort}/metrics` : null, logs: () => p.logs, kill: () => p.kill(), signal: (sig) => void p.proc.kill(sig), exitCode: () => p.proc.exitCode };
}

function serviceProcess(p: ServiceProcess, role: TargetProcess['role']): TargetProcess {
  return { name: p.name, role, pid: p.pid, alive: () => p.running, metricsUrl: null };
}

export const BENCH_ADMIN_SECRET = 'bench-admin-secret-0123456789';

/** Limits opened up for load; the scenario's env can override them. */
const LOAD_ENV = {
  LOG_LEVEL: 'info',
  USER_MESSAGE_RATE: '100000',
  USER_MESSAGE_BURST: '100000',
  CONN_FRAME_RATE: '100000',
  CONN_FRAME_BURST: '100000',
  ADMIN_SECRET: BENCH_ADMIN_SECRET,
};

/** The server logs little at info; a load run keeps only the last lines, for errors. */
const KEEP_LOGS = 200;

/** --server-cpu: the cores every server process of this run may use (0: no limit), and those of a role instead. */
let serverCpu: { serverCpu: number; serverCpuByRole: ServerCpuByRole } = { serverCpu: 0, serverCpuByRole: {} };

/** Sets --server-cpu for the servers started from now on (the harness's options, once per invocation). */
export function setServerCpu(cores: number, byRole: ServerCpuByRole = {}): void {
  serverCpu = { serverCpu: cores, serverCpuByRole: byRole };
}

/** Puts a started process under the run's CPU limit for its role, if any (the cgroup goes when it exits); one that cannot be limited is stopped. */
async function limited(p: NodeProcess, role: ServerRole): Promise<NodeProcess> {
  const cores = serverCpuOf(serverCpu, role);
  if (cores <= 0) return p;
  try {
    void p.exited.then(limitCpu(p.proc.pid!, cores));
  } catch (err) {
    await p.kill();
    throw err;
  }
  return p;
}

/** Our server in standalone mode; `nodeArgs` go to its node (e.g. --cpu-prof). */
export async function startServer(env: Record<string, string>, nodeArgs: string[] = [], name = 'server'): Promise<Target> {
  const p = await limited(await startServerProcess({ ...LOAD_ENV, ...env }, { name, nodeArgs, keepLogs: KEEP_LOGS }), 'server');
  return {
    name,
    urls: [`ws://127.0.0.1:${p.port}`],
    admin: { url: `http://127.0.0.1:${p.adminPort}`, secret: BENCH_ADMIN_SECRET },
    usage: async () => pidsUsage([p.proc.pid!]),
    stop: async () => void (await p.stop()),
    processes: [nodeProcess(p, 'server')],
    infra: null,
  };
}

export async function startBaselineServer(mergeWindowMs: number, mergeMax: number): Promise<Target> {
  const p = await limited(await startNode({ name: 'baseline', script: BASELINE_MAIN, args: ['--merge-window-ms', String(mergeWindowMs), '--merge-max', String(mergeMax)], keepLogs: KEEP_LOGS }), 'baseline');
  return { name: 'baseline', urls: [`ws://127.0.0.1:${p.port}`], admin: null, usage: async () => pidsUsage([p.proc.pid!]), stop: async () => void (await p.stop()), processes: [nodeProcess(p, 'baseline')], infra: null };
}

/**
 * A cluster on loopback: its own nats-server and redis-server (no persistence), `gateways`
 * gateway processes and `logics` logic processes. Usage is that of the gateways (the fan-out
 * side), read from all their /metrics as it would be from a deployment's. A gateway killed
 * during the run (faults.ts) keeps the CPU time of its last reading (the fault reads usage
 * just before the kill) and no memory, so that the window's CPU still covers every gateway.
 */
export async function startCluster(gateways: number, logics: number, env: Record<string, string>, redisReplicas = 0): Promise<Target> {
  const c = await startLoopbackCluster({ gateways, logics, redisReplicas, env: { ...LOAD_ENV, ...env }, start: async (e, name) => limited(await startServerProcess(e, { name, keepLogs: KEEP_LOGS }), e.ROLE === 'logic' ? 'logic' : 'gateway') });
  const last = new Map<string, Usage>();
  const usage = async (): Promise<Usage | null> => {
    const all = await Promise.all(
      c.gateways.map(async (g) => {
        const url = `http://127.0.0.1:${g.metricsPort}/metrics`;
        if (g.proc.exitCode !== null || g.proc.signalCode !== null) {
          const had = last.get(url);
          return had ? { cpu: had.cpu, rss: 0 } : null;
        }
        const u = await metricsUsage(url);
        if (u) last.set(url, u);
        return u;
      }),
    );
    if (all.some((u) => u === null)) return null;
    return (all as Usage[]).reduce((a, b) => ({ cpu: a.cpu + b.cpu, rss: a.rss + b.rss }), { cpu: 0, rss: 0 });
  };
  return {
    name: 'cluster',
    urls: c.gateways.map((g) => `ws://127.0.0.1:${g.port}`),
    admin: { url: `http://127.0.0.1:${c.logics[0]!.adminPort}`, secret: BENCH_ADMIN_SECRET },
    usage,
    stop: () => c.stop(),
    processes: [...c.gateways.map((g) => nodeProcess(g, 'gateway')), ...c.logics.map((l) => nodeProcess(l, 'logic')), serviceProcess(c.infra.nats, 'nats-server'), serviceProcess(c.infra.redis, 'redis-server'), ...c.infra.replicas.map((r) => serviceProcess(r, 'redis-server'))],
    infra: { redisPort: c.infra.redis.port, natsMonitorUrl: natsMonitorUrl(c.infra.nats) },
  };
}

/** A deployment we did not start: usage summed over its Prometheus endpoints, if given. */
export function remoteTarget(urls: string[], metricsUrls: string[], admin: { url: string; secret: string } | null): Target {
  return {
    name: 'remote',
    urls,
    admin,
    usage: async () => (metricsUrls.length > 0 ? urlsUsage(metricsUrls) : null),
    stop: async () => undefined,
    processes: [],
    infra: null,
  };
}
