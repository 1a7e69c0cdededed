// The admin API and the backend HTTP API (/api/...: src/logic/admin-api.ts on logic processes,
// src/gateway/drain-api.ts on gateways, served by src/admin-http.ts) on a port of their own
// (ADMIN_PORT), bound to loopback unless ADMIN_HOST says otherwise: they change groups, post to
// rooms and drain gateways, so they are kept off the port that monitoring scrapes.

import { createServer, type Server } from 'node:http';
import type { AdminHttp } from './admin-http.js';
import { listenHttp } from './metrics-server.js';

export function startAdminServer(host: string, port: number, api: AdminHttp): Promise<Server> {
  const server = createServer((req, res) => {
    if (!api.handle(req, res)) res.writeHead(404).end();
  });
  return listenHttp(server, host, port);
}
