// What the load is aimed at: our server (standalone, or a cluster on loopback) or the bare
// baseline, started here as child processes and stopped by PID, or a deployment given by
// --url. CPU time and RSS come from /proc for processes we started (the gateways, for a
// cluster), from the deployment's /metrics otherwise.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { accepts, freePort } from './loopback.js';

export interface Usage {
  /** user + system CPU seconds so far */
  readonly cpu: number;
  readonly rss: number;
}

export interface Target {
  readonly name: string;
  /** client WebSocket URLs: connections are spread over them */
  readonly urls: string[];
  /** admin API base (http://host:port) and its secret, where known */
  readonly admin: { url: string; secret: string } | null;
  usage(): Promise<Usage | null>;
  stop(): Promise<void>;
}

const TICK = 100; // USER_HZ on Linux
const MAIN = () => fileURLToPath(new URL('../../src/main.js', import.meta.url));
export const BENCH_ADMIN_SECRET = 'bench-admin-secret-0123456789';

export function procUsage(pid: number): Usage | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpu = (Number(fields[11]) + Number(fields[12])) / TICK;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
    return { cpu, rss };
  } catch {
    return null;
  }
}

function sumUsage(pids: number[]): Usage | null {
  const all = pids.map(procUsage);
  if (all.some((u) => u === null)) return null;
  return (all as Usage[]).reduce((a, b) => ({ cpu: a.cpu + b.cpu, rss: a.rss + b.rss }), { cpu: 0, rss: 0 });
}

function metricOf(text: string, name: string): number | null {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

interface Child {
  readonly proc: ChildProcess;
  readonly port: number;
  readonly metricsPort: number;
}

async function spawnListening(name: string, script: string, args: string[], env: Record<string, string>, nodeArgs: string[] = []): Promise<Child> {
  const proc = spawn(process.execPath, [...nodeArgs, script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const rec = await new Promise<{ port: number; metricsPort: number }>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      try {
        const r = JSON.parse(line) as { msg?: string; port?: number; metricsPort?: number };
        if (r.msg === 'listening') resolve({ port: r.port ?? 0, metricsPort: r.metricsPort ?? 0 });
      } catch {
        // not a log line
      }
    });
    proc.once('exit', (code) => reject(new Error(`${name} exited (${code}) before listening: ${stderr}`)));
  });
  return { proc, ...rec };
}

function stopChild(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once('exit', () => resolve());
    proc.kill(signal);
    setTimeout(() => proc.kill('SIGKILL'), 8_000).unref();
  });
}

/** Limits opened up for load; the scenario's env can override them. */
const LOAD_ENV = {
  HOST: '127.0.0.1',
  PORT: '0',
  METRICS_PORT: '0',
  LOG_LEVEL: 'info',
  USER_MESSAGE_RATE: '100000',
  USER_MESSAGE_BURST: '100000',
  CONN_FRAME_RATE: '100000',
  CONN_FRAME_BURST: '100000',
  ADMIN_SECRET: BENCH_ADMIN_SECRET,
};

/** Our server in standalone mode; `nodeArgs` go to its node (e.g. --cpu-prof). */
export async function startServer(env: Record<string, string>, nodeArgs: string[] = []): Promise<Target> {
  const c = await spawnListening('server', MAIN(), [], { ...LOAD_ENV, ...env }, nodeArgs);
  return {
    name: 'server',
    urls: [`ws://127.0.0.1:${c.port}`],
    admin: { url: `http://127.0.0.1:${c.metricsPort}`, secret: BENCH_ADMIN_SECRET },
    usage: async () => procUsage(c.proc.pid!),
    stop: () => stopChild(c.proc),
  };
}

export async function startBaselineServer(mergeWindowMs: number, mergeMax: number): Promise<Target> {
  const script = fileURLToPath(new URL('../baseline/server.js', import.meta.url));
  const c = await spawnListening('baseline', script, ['--merge-window-ms', String(mergeWindowMs), '--merge-max', String(mergeMax)], {});
  return { name: 'baseline', urls: [`ws://127.0.0.1:${c.port}`], admin: null, usage: async () => procUsage(c.proc.pid!), stop: () => stopChild(c.proc) };
}

async function spawnService(cmd: string, args: string[], port: number): Promise<ChildProcess> {
  const proc = spawn(cmd, args, { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (await accepts(port)) return proc;
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`${cmd} did not start on port ${port}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A cluster on loopback: its own nats-server and redis-server, `gateways` gateway processes
 * and `logics` logic processes. Usage is that of the gateways (the fan-out side).
 */
export async function startCluster(gateways: number, logics: number, env: Record<string, string>): Promise<Target> {
  const [natsPort, redisPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'danmaku-bench-redis-'));
  const services = [
    await spawnService('nats-server', ['-a', '127.0.0.1', '-p', String(natsPort)], natsPort),
    await spawnService('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], redisPort),
  ];
  const clusterEnv = { ...LOAD_ENV, NATS_URL: `nats://127.0.0.1:${natsPort}`, REDIS_URL: `redis://127.0.0.1:${redisPort}`, ...env };
  const children: Child[] = [];
  const stop = async () => {
    await Promise.all(children.map((c) => stopChild(c.proc)));
    await Promise.all(services.map((p) => stopChild(p, 'SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const logic: Child[] = [];
    for (let i = 0; i < logics; i++) logic.push(await spawnListening(`logic-${i}`, MAIN(), [], { ...clusterEnv, ROLE: 'logic', GATEWAY_ID: `bench-logic-${i}` }));
    children.push(...logic);
    const gws: Child[] = [];
    for (let i = 0; i < gateways; i++) gws.push(await spawnListening(`gateway-${i}`, MAIN(), [], { ...clusterEnv, ROLE: 'gateway', GATEWAY_ID: `bench-gw-${i}` }));
    children.push(...gws);
    return {
      name: 'cluster',
      urls: gws.map((g) => `ws://127.0.0.1:${g.port}`),
      admin: { url: `http://127.0.0.1:${logic[0]!.metricsPort}`, secret: BENCH_ADMIN_SECRET },
      usage: async () => sumUsage(gws.map((g) => g.proc.pid!)),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A deployment we did not start: usage from its Prometheus endpoint, if given. */
export function remoteTarget(url: string, metricsUrl: string | undefined, admin: { url: string; secret: string } | null): Target {
  return {
    name: 'remote',
    urls: url.split(','),
    admin,
    usage: async () => {
      if (!metricsUrl) return null;
      try {
        const text = await (await fetch(metricsUrl)).text();
        const cpu = metricOf(text, 'process_cpu_seconds_total');
        const rss = metricOf(text, 'process_resident_memory_bytes');
        return cpu === null || rss === null ? null : { cpu, rss };
      } catch {
        return null;
      }
    },
    stop: async () => undefined,
  };
}
