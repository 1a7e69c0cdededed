// A cluster on loopback, for the cluster tests and the harness's cluster target: its own
// nats-server and redis-server, then L logic processes and G gateway processes of the real
// server (ROLE=logic / ROLE=gateway), each started by PID and stopped by stop(). More of
// either can be started later (failure tests).

import { startInfra, type Infra } from './services.js';
import { startServerProcess, type NodeProcess } from './server-process.js';

export interface LoopbackCluster<P extends NodeProcess = NodeProcess> {
  readonly infra: Infra;
  readonly gateways: P[];
  readonly logics: P[];
  /** env shared by every process of the cluster */
  readonly env: Record<string, string>;
  startGateway(id: string, env?: Record<string, string>): Promise<P>;
  startLogic(id: string, env?: Record<string, string>): Promise<P>;
  stop(): Promise<void>;
}

export interface ClusterOptions<P extends NodeProcess> {
  readonly gateways: number;
  readonly logics: number;
  /** over NATS_URL and REDIS_URL, for every process */
  readonly env?: Record<string, string>;
  /** Redis keeps its data across a restart (services.ts) */
  readonly persist?: boolean;
  /** Redis replicas of the primary (REDIS_WAIT_REPLICAS needs them) */
  readonly redisReplicas?: number;
  /** starts one server process (default: startServerProcess); the tests' adds a client */
  readonly start?: (env: Record<string, string>, name: string) => Promise<P>;
}

export async function startCluster<P extends NodeProcess = NodeProcess>(opts: ClusterOptions<P>): Promise<LoopbackCluster<P>> {
  const start = opts.start ?? ((env, name) => startServerProcess(env, { name }) as Promise<P>);
  const infra = await startInfra({ persist: opts.persist, replicas: opts.redisReplicas });
  const env = { ...infra.env, ...opts.env };
  const gateways: P[] = [];
  const logics: P[] = [];
  const cluster: LoopbackCluster<P> = {
    infra,
    gateways,
    logics,
    env,
    async startGateway(id, extra = {}) {
      const p = await start({ ...env, ROLE: 'gateway', GATEWAY_ID: id, ...extra }, id);
      gateways.push(p);
      return p;
    },
    async startLogic(id, extra = {}) {
      const p = await start({ ...env, ROLE: 'logic', GATEWAY_ID: id, ...extra }, id);
      logics.push(p);
      return p;
    },
    async stop() {
      await Promise.all([...gateways, ...logics].map((p) => p.stop()));
      await infra.stop();
    },
  };
  try {
    for (let i = 0; i < opts.logics; i++) await cluster.startLogic(`logic-${i}`);
    await Promise.all(Array.from({ length: opts.gateways }, (_, i) => cluster.startGateway(`gw-${i}`)));
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
