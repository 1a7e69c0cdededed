// A cluster on loopback for the tests: bench/lib/cluster.ts (real nats-server and
// redis-server, G gateway and L logic processes of the real server, each started by PID and
// stopped by the test), with a client on every process and the admin API at hand.

import { startCluster as startLoopbackCluster, type LoopbackCluster } from '../../bench/lib/cluster.js';
import { startServer, type RunningServer } from './server.js';

import type { DanmakuClient } from '../../src/client/client.js';

export const ADMIN_SECRET = 'test-admin-secret-0123456789';

/** Limits opened up so that tests can send as fast as they like; a short merge window. */
export const FAST = { USER_MESSAGE_RATE: '1000', USER_MESSAGE_BURST: '1000', CONN_FRAME_RATE: '1000', CONN_FRAME_BURST: '1000', MERGE_WINDOW_MS: '10' };

export interface Item {
  s: number;
  k: number;
  u: string;
  x?: string;
}

/** Collects the room items a client receives from now on (of one room, if given). */
export function items(c: DanmakuClient, room?: string): Item[] {
  const out: Item[] = [];
  c.on('batch', (b: { r: string; d: Item[] }) => {
    if (room === undefined || b.r === room) out.push(...b.d);
  });
  return out;
}

export interface Cluster extends LoopbackCluster<RunningServer> {
  /** Calls the admin API of the first live logic process. */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
}

export async function startCluster(opts: { gateways: number; logics: number; env?: Record<string, string> }): Promise<Cluster> {
  const c = await startLoopbackCluster({ ...opts, env: { ADMIN_SECRET, LOG_LEVEL: 'info', ...opts.env }, persist: true, start: startServer });
  return {
    ...c,
    async api(method, path, body) {
      const logic = c.logics.find((l) => l.proc.exitCode === null && l.proc.signalCode === null);
      if (!logic) throw new Error('no logic process running');
      const res = await fetch(`http://127.0.0.1:${logic.adminPort}${path}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_SECRET}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
  };
}
