// Real nats-server and redis-server processes for cluster tests, on free loopback ports.
// Each can be killed and restarted on the same port (failure tests). Stopped by PID.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accepts, freePort } from '../../bench/lib/loopback.js';

export { freePort };

/** A server process that can be stopped (SIGKILL by default) and started again on its port. */
export class ServiceProcess {
  private proc: ChildProcess | null = null;
  private output = '';

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly command: string,
    private readonly args: string[],
  ) {}

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  async start(): Promise<void> {
    if (this.proc) throw new Error(`${this.name} already running`);
    const proc = spawn(this.command, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    proc.stdout!.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-4000)));
    proc.stderr!.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-4000)));
    const deadline = Date.now() + 10_000;
    while (!(await accepts(this.port))) {
      if (proc.exitCode !== null) throw new Error(`${this.name} exited (${proc.exitCode}): ${this.output}`);
      if (Date.now() > deadline) throw new Error(`${this.name} did not listen on ${this.port}: ${this.output}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stops the process (by its PID) and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.proc = null;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    await exited;
  }

  /** Pauses (SIGSTOP) or resumes (SIGCONT) the process: a hung server. */
  signal(sig: 'SIGSTOP' | 'SIGCONT'): void {
    this.proc?.kill(sig);
  }
}

export interface Infra {
  readonly nats: ServiceProcess;
  readonly redis: ServiceProcess;
  readonly natsUrl: string;
  readonly redisUrl: string;
  /** environment for a cluster-mode server process */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startNats(): Promise<ServiceProcess> {
  const port = await freePort();
  const nats = new ServiceProcess('nats-server', port, 'nats-server', ['-a', '127.0.0.1', '-p', String(port)]);
  await nats.start();
  return nats;
}

/** redis-server with an append-only file (fsync always), so a restart keeps the data. */
export async function startRedis(): Promise<ServiceProcess & { dir: string }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'danmaku-redis-'));
  const redis = new ServiceProcess('redis-server', port, 'redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir,
  ]);
  await redis.start();
  return Object.assign(redis, { dir });
}

export async function startInfra(): Promise<Infra> {
  const [nats, redis] = await Promise.all([startNats(), startRedis()]);
  const natsUrl = `nats://127.0.0.1:${nats.port}`;
  const redisUrl = `redis://127.0.0.1:${redis.port}`;
  return {
    nats,
    redis,
    natsUrl,
    redisUrl,
    env: { NATS_URL: natsUrl, REDIS_URL: redisUrl },
    async stop() {
      await Promise.all([nats.stop(), redis.stop()]);
      rmSync(redis.dir, { recursive: true, force: true });
    },
  };
}
