// Prometheus endpoint (/metrics), a liveness probe (/healthz) and, on logic processes, the
// admin API (/api/...) on METRICS_PORT.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './metrics.js';
import type { Logger } from './log.js';

/** Extra routes: returns true when it handled the request. */
export type HttpRoutes = (req: IncomingMessage, res: ServerResponse) => boolean;

export function startMetricsServer(host: string, port: number, metrics: Metrics, log: Logger, routes?: HttpRoutes): Promise<Server> {
  const server = createServer((req, res) => {
    if (routes?.(req, res)) return;
    if (req.url === '/metrics') {
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
    } else if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

export function boundPort(server: Server): number {
  return (server.address() as AddressInfo).port;
}
