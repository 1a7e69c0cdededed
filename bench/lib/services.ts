// Real nats-server and redis-server processes on loopback, for the cluster tests and the
// harness's cluster target. nats-server picks its own port (`-p -1`) and writes it to a ports
// file, as the nats.js test launcher does, so there is no free-port race. redis-server cannot
// pick one, so it is given a free port, and is taken to be up only when the process that
// answers on that port reports our PID: another process may have bound the port in between
// (then the start is retried on another port). Each can be stopped (SIGKILL by default: a
// crash) and started again on the same port, for failure tests. Stopped by PID; dispose()
// also removes its directory.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accepts, freePort } from './loopback.js';
import { track } from './children.js';

const START_TIMEOUT_MS = 10_000;

/** How to run one kind of server. */
interface Launch {
  readonly command: string;
  /** of its URL: nats, redis */
  readonly scheme: string;
  /** its arguments to listen on `port` (0: a port of its own choosing), keeping files in `dir` */
  args(port: number, dir: string): string[];
  /** the port it listens on once it accepts connections, else null (polled) */
  probe(proc: ChildProcess, port: number, dir: string): Promise<number | null>;
}

export class ServiceProcess {
  private proc: ChildProcess | null = null;
  private output = '';
  private listeningOn: number;
  /** a directory of its own: data, ports file */
  readonly dir: string;

  constructor(
    readonly name: string,
    private readonly launch: Launch,
    port = 0,
  ) {
    this.listeningOn = port;
    this.dir = mkdtempSync(join(tmpdir(), `danmaku-${name}-`));
  }

  /** The port, once started (kept across restarts). */
  get port(): number {
    return this.listeningOn;
  }

  get url(): string {
    return `${this.launch.scheme}://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  async start(): Promise<void> {
    if (this.proc) throw new Error(`${this.name} already running`);
    const proc = spawn(this.launch.command, this.launch.args(this.listeningOn, this.dir), { stdio: ['ignore', 'pipe', 'pipe'] });
    track(proc, () => rmSync(this.dir, { recursive: true, force: true }));
    this.proc = proc;
    const keep = (d: Buffer) => (this.output = (this.output + d.toString()).slice(-4000));
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    const spawned = new Promise<Error | null>((resolve) => {
      proc.once('spawn', () => resolve(null));
      proc.once('error', resolve);
    });
    const failed = await spawned;
    if (failed) {
      this.proc = null;
      throw new Error(`${this.name}: cannot run ${this.launch.command}: ${failed.message}`);
    }
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const port = await this.launch.probe(proc, this.listeningOn, this.dir);
      if (port !== null) {
        this.listeningOn = port;
        return;
      }
      if (proc.exitCode !== null || proc.signalCode !== null) {
        this.proc = null;
        throw new Error(`${this.name} exited (${proc.exitCode ?? proc.signalCode}): ${this.output}`);
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`${this.name} did not listen within ${START_TIMEOUT_MS} ms: ${this.output}`);
      }
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

  /** Whether the process is running (started, and neither stopped nor exited). */
  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Pauses (SIGSTOP) or resumes (SIGCONT) the process: a hung server. */
  signal(sig: 'SIGSTOP' | 'SIGCONT'): void {
    this.proc?.kill(sig);
  }

  /** Stops it for good and removes its directory. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const NATS: Launch = {
  command: 'nats-server',
  scheme: 'nats',
  // -m -1: the HTTP monitoring endpoint (varz, connz) on a port of its own choosing too.
  // -js -sd: JetStream with its file store in the process's directory, which a restart keeps
  // (the chat storage queue, docs/cluster.md).
  args: (port, dir) => ['-a', '127.0.0.1', '-p', port === 0 ? '-1' : String(port), '-m', '-1', '--ports_file_dir', dir, '-js', '-sd', join(dir, 'jetstream')],
  async probe(proc, _port, dir) {
    const port = Number(new URL(natsPorts(dir, proc.pid)?.nats?.[0] ?? 'nats://x:0').port);
    return port > 0 && (await accepts(port)) ? port : null;
  },
};

/** Written once the listeners are up: {"nats":["nats://127.0.0.1:PORT"],"monitoring":["http://..."]}. */
function natsPorts(dir: string, pid: number | undefined): { nats?: string[]; monitoring?: string[] } | null {
  try {
    return JSON.parse(readFileSync(join(dir, `nats-server_${pid}.ports`), 'utf8')) as { nats?: string[]; monitoring?: string[] };
  } catch {
    return null; // not written yet (or half written)
  }
}

/** The monitoring endpoint (http://127.0.0.1:PORT) of a running nats-server, or null. */
export function natsMonitorUrl(nats: ServiceProcess): string | null {
  return natsPorts(nats.dir, nats.pid)?.monitoring?.[0] ?? null;
}

export async function startNats(): Promise<ServiceProcess> {
  const nats = new ServiceProcess('nats-server', NATS);
  await nats.start();
  return nats;
}

/**
 * redis-server on a free port. `persist`: an append-only file with fsync always, so that a
 * restart keeps the data (failure tests); otherwise no persistence at all (load).
 */
export async function startRedis(opts: { persist?: boolean; replicaOf?: number } = {}): Promise<ServiceProcess> {
  const persistence = opts.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  // A replica of the primary on that port (asynchronous replication; the full sync at once).
  const replica = opts.replicaOf === undefined ? [] : ['--replicaof', '127.0.0.1', String(opts.replicaOf), '--repl-diskless-sync-delay', '0'];
  const launch: Launch = {
    command: 'redis-server',
    scheme: 'redis',
    args: (port, dir) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, ...replica, '--dir', dir],
    probe: async (proc, port) => ((await redisPid(port)) === proc.pid ? port : null),
  };
  for (let attempt = 1; ; attempt++) {
    const redis = new ServiceProcess('redis-server', launch, await freePort());
    try {
      await redis.start();
      return redis;
    } catch (err) {
      await redis.dispose();
      if (attempt === 3) throw err;
    }
  }
}

/** The PID that the Redis server on `port` reports (INFO server), or null. */
async function redisPid(port: number): Promise<number | null> {
  const m = /process_id:(\d+)\r\n/.exec((await redisInfo(port, 'server')) ?? '');
  return m ? Number(m[1]) : null;
}

/** The text of `INFO <section>` from the Redis server on `port`; null if none answers in time. */
export function redisInfo(port: number, section: string, timeoutMs = 1000): Promise<string | null> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host: '127.0.0.1' });
    let reply = Buffer.alloc(0);
    const done = (text: string | null) => {
      s.destroy();
      resolve(text);
    };
    s.setTimeout(timeoutMs, () => done(null));
    s.once('error', () => done(null));
    s.once('close', () => done(null));
    s.once('connect', () => s.write(`INFO ${section}\r\n`));
    s.on('data', (d: Buffer) => {
      reply = Buffer.concat([reply, d]);
      // A bulk string: $<length>\r\n<bytes>\r\n; anything else (an -ERR) is no answer.
      const eol = reply.indexOf('\r\n');
      if (eol < 0) return;
      if (reply[0] !== 0x24) return done(null);
      const len = Number(reply.toString('latin1', 1, eol));
      if (reply.length >= eol + 2 + len) done(reply.toString('utf8', eol + 2, eol + 2 + len));
    });
  });
}

export interface Infra {
  readonly nats: ServiceProcess;
  readonly redis: ServiceProcess;
  /** replicas of `redis` (startInfra's `replicas`), in sync when startInfra resolved */
  readonly replicas: readonly ServiceProcess[];
  readonly natsUrl: string;
  readonly redisUrl: string;
  /** environment for a cluster-mode server process */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * nats-server and redis-server for one cluster; `persist` as for startRedis. One after the
 * other: nats-server's own choice of port is often the very port that a free-port probe has
 * just released, so Redis's free port is taken once NATS holds its own.
 */
export async function startInfra(opts: { persist?: boolean; replicas?: number } = {}): Promise<Infra> {
  const nats = await startNats();
  let redis: ServiceProcess;
  const replicas: ServiceProcess[] = [];
  try {
    redis = await startRedis(opts);
    try {
      for (let i = 0; i < (opts.replicas ?? 0); i++) replicas.push(await startRedis({ persist: opts.persist, replicaOf: redis.port }));
      await replicasInSync(redis.port, replicas.length);
    } catch (err) {
      await Promise.all([redis.dispose(), ...replicas.map((r) => r.dispose())]);
      throw err;
    }
  } catch (err) {
    await nats.dispose();
    throw err;
  }
  return {
    nats,
    redis,
    replicas,
    natsUrl: nats.url,
    redisUrl: redis.url,
    env: { NATS_URL: nats.url, REDIS_URL: redis.url },
    stop: async () => {
      await Promise.all([nats.dispose(), redis.dispose(), ...replicas.map((r) => r.dispose())]);
    },
  };
}

/** Resolves once the primary on `port` has `n` replicas online (INFO replication), within 15 s. */
async function replicasInSync(port: number, n: number): Promise<void> {
  if (n === 0) return;
  const deadline = Date.now() + 15_000;
  for (;;) {
    const text = (await redisInfo(port, 'replication')) ?? '';
    const online = text.split('\r\n').filter((l) => /^slave\d+:.*state=online/.test(l)).length;
    if (online >= n) return;
    if (Date.now() > deadline) throw new Error(`the Redis replicas did not come online (${online} of ${n})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
