// The admin HTTP API's plumbing, shared by the route sets on ADMIN_PORT: the logic role's
// (groups, room items, notices, stored chat: src/logic/admin-api.ts) and the gateway role's
// (drain and undrain: src/gateway/drain-api.ts). Guarded by a server-side secret
// (ADMIN_SECRET) as a bearer token; JSON in and out; every answer has a status code a script can
// branch on and is counted by route and status (docs/cluster.md, "Admin API").

import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from './log.js';
import type { AdminRoute } from './metric-labels.js';
import type { Metrics } from './metrics.js';

/** Bodies larger than this are refused with 413. */
export const MAX_ADMIN_BODY = 256 * 1024;

export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type Json = Record<string, unknown>;
export type Route = (params: string[], body: Json, query: URLSearchParams) => Promise<[number, Json]>;
export type RouteDef = readonly [method: string, pattern: RegExp, name: AdminRoute, route: Route];

/** A set of routes, and how its own failures are answered. */
export interface RouteSet {
  readonly routes: readonly RouteDef[];
  /** the answer to a failure a route threw that is not an HttpError; null: not one of this set's (500) */
  failed?(err: unknown, path: string): [number, Json] | null;
  /** a route of this set answered */
  succeeded?(): void;
}

export class AdminHttp {
  private readonly routes: [RouteDef, RouteSet][];

  constructor(
    private readonly opts: { readonly secret: string | null },
    private readonly deps: { readonly metrics: Metrics; readonly log: Logger },
    sets: readonly RouteSet[],
  ) {
    this.routes = sets.flatMap((set) => set.routes.map((r): [RouteDef, RouteSet] => [r, set]));
  }

  /** Handles requests under /api/; returns false for other paths. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const [path = '', search = ''] = (req.url ?? '').split('?', 2);
    if (!path.startsWith('/api/')) return false;
    let name: AdminRoute = 'unknown';
    let set: RouteSet | null = null;
    const reply = (status: number, body: Json) => {
      this.deps.metrics.adminRequest(name, status);
      res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
    };
    const run = async (): Promise<[number, Json]> => {
      const matches = this.routes.filter(([[, pattern]]) => pattern.test(path));
      if (matches.length === 0) throw new HttpError(404, 'no such endpoint');
      const hit = matches.find(([[method]]) => method === req.method);
      if (!hit) throw new HttpError(405, `use ${matches.map(([[m]]) => m).join(' or ')}`);
      const [[, pattern, route, handler], owner] = hit;
      name = route;
      set = owner;
      this.authorize(req);
      const params = pattern.exec(path)!.slice(1).map(decodePathPart);
      return handler(params, await readJson(req), new URLSearchParams(search));
    };
    run().then(
      ([status, body]) => {
        (set as RouteSet | null)?.succeeded?.();
        reply(status, body);
      },
      (err: unknown) => {
        if (err instanceof HttpError) return reply(err.status, { error: err.message });
        const answer = (set as RouteSet | null)?.failed?.(err, path) ?? null;
        if (answer) return reply(...answer);
        this.deps.log.error({ err, path }, 'admin API request failed');
        reply(500, { error: 'internal error' });
      },
    );
    return true;
  }

  private authorize(req: IncomingMessage): void {
    const secret = this.opts.secret;
    if (secret === null) throw new HttpError(503, 'admin API disabled: set ADMIN_SECRET (required in cluster mode and in production)');
    const auth = req.headers.authorization ?? '';
    const given = Buffer.from(auth.startsWith('Bearer ') ? auth.slice(7) : '');
    const want = Buffer.from(secret);
    if (given.length !== want.length || !timingSafeEqual(given, want)) throw new HttpError(401, 'missing or wrong bearer secret');
  }
}

function decodePathPart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new HttpError(400, 'malformed percent-encoding in the path');
  }
}

async function readJson(req: IncomingMessage): Promise<Json> {
  const parts: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_ADMIN_BODY) throw new HttpError(413, `body larger than ${MAX_ADMIN_BODY} bytes`);
      parts.push(chunk);
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
    // The client went away mid-body (aborted, reset): its input, not our failure.
    throw new HttpError(400, 'request body incomplete: the client closed the connection');
  }
  if (size === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'body must be a JSON object');
  return v as Json;
}
