// The operations port (METRICS_PORT): Prometheus (/metrics), liveness (/livez, and /healthz,
// its deprecated old name) and readiness (/readyz). The admin API has a port of its own
// (admin-server.ts), so that this one can be opened to the monitoring network alone.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readiness } from './health.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

export function startMetricsServer(host: string, port: number, metrics: Metrics, readiness: Readiness, log: Logger): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?', 1)[0];
    if (path === '/metrics') {
      metrics.text().then(
        (body) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(body);
        },
        (err: unknown) => {
          log.error({ err }, 'metrics collection failed');
          res.writeHead(500).end();
        },
      );
    } else if (path === '/livez' || path === '/healthz') {
      // An answer at all is the proof: this handler runs on the event loop it vouches for.
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end('ok\n');
    } else if (path === '/readyz') {
      const report = readiness.report();
      res.writeHead(report.ready ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(`${JSON.stringify(report)}\n`);
    } else {
      res.writeHead(404).end();
    }
  });
  return listenHttp(server, host, port);
}

/** Starts `server` listening; resolves once it does, rejects if it cannot (port taken). */
export function listenHttp(server: Server, host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

export function boundPort(server: Server): number {
  return (server.address() as AddressInfo).port;
}

export function boundHost(server: Server): string {
  return (server.address() as AddressInfo).address;
}
