// Real nats-server and redis-server processes for the tests: bench/lib/services.ts, which the
// harness shares, with Redis persisting (an append-only file, fsync always) so that a restart
// keeps the data.

import { startInfra as startServices, startRedis as startRedisServer, type Infra, type ServiceProcess } from '../../bench/lib/services.js';

export { freePort } from '../../bench/lib/loopback.js';
export { startNats, ServiceProcess, type Infra } from '../../bench/lib/services.js';

export function startRedis(): Promise<ServiceProcess> {
  return startRedisServer({ persist: true });
}

export function startInfra(): Promise<Infra> {
  return startServices({ persist: true });
}
