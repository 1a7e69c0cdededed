// Starts the real server process (dist/src/main.js) on free loopback ports and stops it.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DanmakuClient, type ClientOptions } from '../../src/client/client.js';
import { mintToken } from '../../src/auth/token.js';

export const SECRET = 'test-secret-0123456789abcdef';
const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));

export interface RunningServer {
  readonly proc: ChildProcess;
  readonly port: number;
  readonly metricsPort: number;
  readonly url: string;
  readonly logs: Record<string, unknown>[];
  connect(uid?: string, opts?: ClientOptions & { roles?: string[] }): Promise<DanmakuClient>;
  token(uid: string, roles?: string[]): string;
  metrics(): Promise<string>;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Kills the process with SIGKILL (a crash) and resolves when it is gone. */
  kill(): Promise<void>;
}

export async function startServer(env: Record<string, string> = {}): Promise<RunningServer> {
  const proc = spawn(process.execPath, [MAIN], {
    env: { ...process.env, PORT: '0', METRICS_PORT: '0', HOST: '127.0.0.1', TOKEN_SECRET: SECRET, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const listening = new Promise<Record<string, unknown>>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        rec = { msg: line };
      }
      logs.push(rec);
      if (rec.msg === 'listening') resolve(rec);
    });
    void exited.then((code) => reject(new Error(`server exited (${code}) before listening: ${stderr}`)));
  });
  const rec = await listening;
  const port = rec.port as number;
  const metricsPort = rec.metricsPort as number;
  const url = `ws://127.0.0.1:${port}`;
  const token = (uid: string, roles?: string[]) => mintToken(SECRET, { uid, name: uid, roles });
  return {
    proc,
    port,
    metricsPort,
    url,
    logs,
    token,
    async connect(uid, opts = {}) {
      return DanmakuClient.connect(url, { heartbeat: false, ...opts, token: uid ? token(uid, opts.roles) : opts.token });
    },
    async metrics() {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      return res.text();
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** The value of one sample in Prometheus text output (0 when absent). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const lbl = m[2] ?? '';
    if (want.every((w) => lbl.includes(w))) sum += Number(m[3]);
  }
  return sum;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves when `check` returns true, polling; rejects after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
