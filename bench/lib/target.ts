// What the load is aimed at: our server or the bare baseline, started here as child processes
// on loopback (and stopped by PID), or a deployment given by --url. CPU time and RSS come from
// /proc for a process we started, from its /metrics otherwise.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface Usage {
  /** user + system CPU seconds so far */
  readonly cpu: number;
  readonly rss: number;
}

export interface Target {
  readonly name: string;
  readonly url: string;
  readonly pid: number | null;
  usage(): Promise<Usage | null>;
  stop(): Promise<void>;
}

const TICK = 100; // USER_HZ on Linux

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

function metricOf(text: string, name: string): number | null {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

async function spawnListening(name: string, script: string, args: string[], env: Record<string, string>): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      try {
        const rec = JSON.parse(line) as { msg?: string; port?: number };
        if (rec.msg === 'listening' && rec.port) resolve(rec.port);
      } catch {
        // not a log line
      }
    });
    proc.once('exit', (code) => reject(new Error(`${name} exited (${code}) before listening: ${stderr}`)));
  });
  return { proc, port };
}

function childTarget(name: string, proc: ChildProcess, port: number): Target {
  return {
    name,
    url: `ws://127.0.0.1:${port}`,
    pid: proc.pid ?? null,
    usage: async () => (proc.pid ? procUsage(proc.pid) : null),
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
        setTimeout(() => proc.kill('SIGKILL'), 8_000).unref();
      }),
  };
}

/** Our server in standalone mode, with limits opened up for load (the env can override). */
export async function startServer(env: Record<string, string>): Promise<Target> {
  const main = fileURLToPath(new URL('../../src/main.js', import.meta.url));
  const { proc, port } = await spawnListening('server', main, [], {
    PORT: '0',
    METRICS_PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    USER_MESSAGE_RATE: '100000',
    USER_MESSAGE_BURST: '100000',
    CONN_FRAME_RATE: '100000',
    CONN_FRAME_BURST: '100000',
    ...env,
  });
  return childTarget('server', proc, port);
}

export async function startBaselineServer(mergeWindowMs: number, mergeMax: number): Promise<Target> {
  const script = fileURLToPath(new URL('../baseline/server.js', import.meta.url));
  const { proc, port } = await spawnListening('baseline', script, ['--merge-window-ms', String(mergeWindowMs), '--merge-max', String(mergeMax)], {});
  return childTarget('baseline', proc, port);
}

/** A deployment we did not start: usage from its Prometheus endpoint, if given. */
export function remoteTarget(url: string, metricsUrl: string | undefined): Target {
  return {
    name: 'remote',
    url,
    pid: null,
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
