// Our server (dist/src/main.js) or the baseline as a child process on loopback, for the tests
// and the harness: started with PORT=0, METRICS_PORT=0 and ADMIN_PORT=0, its ports read from
// its `listening` log line, its JSON log lines kept, stopped by PID.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { track } from './children.js';

export const SERVER_MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));
export const BASELINE_MAIN = fileURLToPath(new URL('../baseline/server.js', import.meta.url));

const KILL_AFTER_MS = 8_000;

export interface NodeProcess {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly port: number;
  /** 0 when it serves no metrics (the baseline) */
  readonly metricsPort: number;
  /** the admin API's port; 0 when it serves none (a gateway, no ADMIN_SECRET, the baseline) */
  readonly adminPort: number;
  /** its JSON log lines (a line that is not JSON is kept as {msg: line}) */
  readonly logs: Record<string, unknown>[];
  /** resolves with the exit code once it has exited */
  readonly exited: Promise<number | null>;
  /** SIGTERM (SIGKILL if still running after 8 s); resolves with the exit code */
  stop(): Promise<number | null>;
  /** SIGKILL (a crash); resolves when it is gone */
  kill(): Promise<void>;
}

export interface NodeOptions {
  readonly name: string;
  readonly script: string;
  readonly args?: string[];
  readonly env?: Record<string, string>;
  /** flags for node itself, e.g. --cpu-prof */
  readonly nodeArgs?: string[];
  /** log lines to keep (default all; a load run keeps few) */
  readonly keepLogs?: number;
}

const running = (p: ChildProcess) => p.exitCode === null && p.signalCode === null;

export async function startNode(o: NodeOptions): Promise<NodeProcess> {
  const proc = spawn(process.execPath, [...(o.nodeArgs ?? []), o.script, ...(o.args ?? [])], {
    // Admission by event-loop lag is off unless a run asks for it (--env ADMIT_MAX_LAG_MS=...):
    // the targets compare a server against itself over time, and a ramp of thousands of
    // connections on a shared machine must not be turned away by it. No drain windows either
    // (DRAIN_NOT_READY_MS, DRAIN_WINDOW_MS): a stop closes every client at once, as tests expect,
    // unless a test or a run (--drain, --env) sets them.
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', METRICS_PORT: '0', ADMIN_PORT: '0', ADMIT_MAX_LAG_MS: '0', DRAIN_NOT_READY_MS: '0', DRAIN_WINDOW_MS: '0', ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(proc);
  const keep = o.keepLogs ?? Infinity;
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        rec = { msg: line };
      }
      logs.push(rec);
      if (logs.length > keep) logs.shift();
      if (rec.msg === 'listening') resolve(rec);
    });
    void exited.then((code) => {
      const last = logs.slice(-5).map((l) => JSON.stringify(l)).join('\n');
      reject(new Error(`${o.name} exited (${code}) before listening: ${stderr}${last}`));
    });
  });
  return {
    name: o.name,
    proc,
    port: Number(listening.port ?? 0),
    metricsPort: Number(listening.metricsPort ?? 0),
    adminPort: Number(listening.adminPort ?? 0),
    logs,
    exited,
    async stop() {
      if (running(proc)) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => running(proc) && proc.kill('SIGKILL'), KILL_AFTER_MS);
        timer.unref();
        void exited.then(() => clearTimeout(timer));
      }
      return exited;
    },
    async kill() {
      if (running(proc)) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** Our server, with `env` over loopback defaults. */
export function startServerProcess(env: Record<string, string>, opts: { name?: string; nodeArgs?: string[]; keepLogs?: number } = {}): Promise<NodeProcess> {
  return startNode({ name: opts.name ?? 'server', script: SERVER_MAIN, env, nodeArgs: opts.nodeArgs, keepLogs: opts.keepLogs });
}
