// The admin API and the backend HTTP API (/api/..., src/logic/admin-api.ts) on a port of their
// own (ADMIN_PORT), bound to loopback unless ADMIN_HOST says otherwise: they change groups and
// post to rooms, so they are kept off the port that monitoring scrapes.

import { createServer, type Server } from 'node:http';
import type { AdminApi } from './logic/admin-api.js';
import { listenHttp } from './metrics-server.js';

export function startAdminServer(host: string, port: number, api: AdminApi): Promise<Server> {
  const server = createServer((req, res) => {
    if (!api.handle(req, res)) res.writeHead(404).end();
  });
  return listenHttp(server, host, port);
}
