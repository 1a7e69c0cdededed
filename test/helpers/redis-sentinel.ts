// A Redis primary, one replica and three sentinels (redis-server --sentinel), each a real
// process on a free loopback port with a directory of its own, stopped by PID (services.ts's
// ServiceProcess). The sentinels notice a dead primary after 1 s (down-after-milliseconds)
// and promote the replica: docs/cluster.md, "Redis high availability: Sentinel".

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { redisInfo, ServiceProcess } from '../../bench/lib/services.js';
import { freePort } from '../../bench/lib/loopback.js';

export const MASTER_NAME = 'mymaster';
/** how long a primary must be silent before a sentinel calls it down */
export const DOWN_AFTER_MS = 1_000;

export interface SentinelSet {
  /** the servers as started: `primary` is the first primary, whatever the sentinels say now */
  readonly primary: ServiceProcess;
  readonly replica: ServiceProcess;
  readonly sentinels: readonly ServiceProcess[];
  /** REDIS_SENTINELS and REDIS_SENTINEL_NAME for our processes */
  readonly env: Record<string, string>;
  /** the primary's port according to each running sentinel (null: no answer) */
  masterPorts(): Promise<(number | null)[]>;
  /** resolves once every sentinel knows the primary, the replica and the two other sentinels */
  settled(timeoutMs?: number): Promise<void>;
  /** resolves once every running sentinel names `port` as the primary and it says it is one */
  promoted(port: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** The text of INFO <section> as key -> value (lines `key:value`). */
export async function info(port: number, section: string): Promise<Record<string, string>> {
  const text = (await redisInfo(port, section)) ?? '';
  return Object.fromEntries(
    text
      .split('\r\n')
      .filter((l) => l.includes(':') && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]),
  );
}

const pidOf = async (port: number) => Number((await info(port, 'server')).process_id ?? 0);

/** A redis-server (or sentinel) on a free port, retried on another port if one was taken. */
async function startOn(name: string, args: (port: number, dir: string) => string[]): Promise<ServiceProcess> {
  const launch = {
    command: 'redis-server',
    scheme: 'redis',
    args,
    probe: async (proc: { pid?: number }, port: number) => ((await pidOf(port)) === proc.pid ? port : null),
  };
  for (let attempt = 1; ; attempt++) {
    const p = new ServiceProcess(name, launch, await freePort());
    try {
      await p.start();
      return p;
    } catch (err) {
      await p.dispose();
      if (attempt === 3) throw err;
    }
  }
}

/** Persisting as the other failure tests' Redis (an AOF, fsync always); the full sync at once. */
const server = (port: number, dir: string) => [
  '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir,
  '--repl-diskless-sync-delay', '0',
];

function sentinelConf(primaryPort: number) {
  return (port: number, dir: string) => {
    // Sentinel rewrites its file (what it learnt, the new primary): written once, kept across restarts.
    const file = join(dir, 'sentinel.conf');
    if (!existsSync(file)) {
      writeFileSync(
        file,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primaryPort} 2`,
          `sentinel down-after-milliseconds ${MASTER_NAME} ${DOWN_AFTER_MS}`,
          `sentinel failover-timeout ${MASTER_NAME} 5000`,
          `sentinel parallel-syncs ${MASTER_NAME} 1`,
          '',
        ].join('\n'),
      );
    }
    return [file, '--sentinel'];
  };
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A primary and its replica, no sentinels (the replica connected and in sync when this resolves). */
export async function startPrimaryReplica(): Promise<{ primary: ServiceProcess; replica: ServiceProcess; stop(): Promise<void> }> {
  const primary = await startOn('redis-primary', server);
  try {
    const replica = await startOn('redis-replica', (port, dir) => [...server(port, dir), '--replicaof', '127.0.0.1', String(primary.port)]);
    const stop = () => Promise.all([primary.dispose(), replica.dispose()]).then(() => undefined);
    await until(async () => (await info(replica.port, 'replication')).master_link_status === 'up', 15_000, 'the replica in sync').catch(async (err: unknown) => {
      await stop();
      throw err;
    });
    return { primary, replica, stop };
  } catch (err) {
    await primary.dispose();
    throw err;
  }
}

export async function startSentinelSet(): Promise<SentinelSet> {
  const started: ServiceProcess[] = [];
  try {
    const primary = await startOn('redis-primary', server);
    started.push(primary);
    const replica = await startOn('redis-replica', (port, dir) => [...server(port, dir), '--replicaof', '127.0.0.1', String(primary.port)]);
    started.push(replica);
    const sentinels: ServiceProcess[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await startOn(`redis-sentinel-${i}`, sentinelConf(primary.port));
      started.push(s);
      sentinels.push(s);
    }
    const masterLine = async (s: ServiceProcess) => (s.running ? ((await info(s.port, 'sentinel')).master0 ?? '') : '');
    const set: SentinelSet = {
      primary,
      replica,
      sentinels,
      env: { REDIS_SENTINELS: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','), REDIS_SENTINEL_NAME: MASTER_NAME },
      masterPorts: () => Promise.all(sentinels.map(async (s) => Number(/address=[^,]*:(\d+)/.exec(await masterLine(s))?.[1] ?? NaN) || null)),
      settled: (timeoutMs = 15_000) =>
        until(
          async () => {
            const lines = await Promise.all(sentinels.map(masterLine));
            const link = (await info(replica.port, 'replication')).master_link_status;
            return link === 'up' && lines.every((l) => l.includes('status=ok') && l.includes('slaves=1') && l.includes('sentinels=3'));
          },
          timeoutMs,
          'the sentinels to know the primary, the replica and each other',
        ),
      promoted: (port, timeoutMs = 20_000) =>
        until(
          async () => {
            const live = sentinels.filter((s) => s.running);
            const ports = await Promise.all(live.map(async (s) => Number(/address=[^,]*:(\d+)/.exec(await masterLine(s))?.[1] ?? NaN)));
            return ports.every((p) => p === port) && (await info(port, 'replication')).role === 'master';
          },
          timeoutMs,
          `the sentinels to name 127.0.0.1:${port} the primary`,
        ),
      stop: async () => {
        await Promise.all(started.map((p) => p.dispose()));
      },
    };
    return set;
  } catch (err) {
    await Promise.all(started.map((p) => p.dispose()));
    throw err;
  }
}
