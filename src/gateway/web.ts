// The gateway's plain HTTP side: the browser SDK bundles (/sdk/*), the demo page (/ and
// /demo/*) and, while the server runs on the public development secret, demo tokens
// (/demo/token). Files come from dist/web (written by `npm run build`'s esbuild step) and are
// read once at start: a few hundred KB, served from memory with their gzip form precomputed.

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { mintToken } from '../auth/token.js';
import type { WebClass } from '../metric-labels.js';
import { UID } from '../protocol/ops.js';

/** dist/web, next to dist/src (this file is dist/src/gateway/web.js). */
export const WEB_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/** Files smaller than this are sent as they are: gzip would save next to nothing. */
const GZIP_MIN_BYTES = 1024;

/** How long a demo token lives. */
const DEMO_TOKEN_TTL_S = 3600;

export interface WebFile {
  readonly type: string;
  readonly body: Buffer;
  /** the gzip form, when it is worth sending */
  readonly gzip: Buffer | null;
  /** a strong validator: a hash of the bytes */
  readonly etag: string;
  /** any origin may load it (the SDK bundles: a site imports them as modules, which needs CORS) */
  readonly cors: boolean;
}

/** A response, as the gateway writes it with uWS. */
export interface WebResponse {
  readonly status: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer | string;
  /** no body: HEAD (the length a GET would send), or -1 for a 304 (no Content-Length at all) */
  readonly headLength?: number;
}

export interface WebRequest {
  readonly method: string; // lower case, as uWS gives it
  readonly url: string; // path only
  readonly query: string;
  readonly acceptEncoding: string;
  readonly ifNoneMatch: string;
}

export class WebFiles {
  private readonly files = new Map<string, WebFile>();

  /**
   * @param dir the built files (dist/web); missing: nothing is served but /demo/token
   * @param demoTokenSecret the secret to mint demo tokens with, or null: /demo/token answers 404.
   *   Pass it only when it is the public development secret (anyone can mint those anyway).
   * @param demoClaims the `aud` and `iss` demo tokens carry (TOKEN_AUDIENCE, TOKEN_ISSUER), so that the gateway accepts them
   */
  constructor(
    dir: string,
    private readonly demoTokenSecret: string | null,
    private readonly demoClaims: { readonly aud?: string; readonly iss?: string } = {},
  ) {
    if (existsSync(dir)) this.load(dir, dir);
  }

  /** Files served, by path (for the log line at start and the tests). */
  get paths(): string[] {
    return [...this.files.keys()];
  }

  /** Which kind of request this is, for the metric label. */
  classify(url: string): WebClass {
    if (url === '/demo/token') return this.demoTokenSecret ? 'token' : 'not_found';
    const file = this.files.get(url === '/' || url === '/demo' || url === '/demo/' ? '/demo/index.html' : url);
    if (!file) return 'not_found';
    return url.startsWith('/sdk/') ? 'sdk' : 'demo';
  }

  /** The answer to a GET or HEAD; undefined when the path is not ours (the caller answers 426). */
  handle(req: WebRequest): WebResponse | undefined {
    if (req.url === '/demo/token') return this.demoToken(req.query);
    const path = req.url === '/' || req.url === '/demo' || req.url === '/demo/' ? '/demo/index.html' : req.url;
    const file = this.files.get(path);
    if (!file) return undefined;
    const gzip = file.gzip !== null && acceptsGzip(req.acceptEncoding);
    // Each representation has its own validator (RFC 9110, 8.8.3): the gzip one is marked.
    const etag = gzip ? `${file.etag.slice(0, -1)}-gz"` : file.etag;
    const headers: [string, string][] = [
      ['Content-Type', file.type],
      // Revalidate every time (a cheap 304): the names are stable, so a new build must show.
      ['Cache-Control', 'no-cache'],
      ['ETag', etag],
      ['X-Content-Type-Options', 'nosniff'],
    ];
    if (file.cors) headers.push(['Access-Control-Allow-Origin', '*']);
    if (file.gzip) headers.push(['Vary', 'Accept-Encoding']);
    if (etagMatches(req.ifNoneMatch, etag)) return { status: '304 Not Modified', headers, body: '', headLength: -1 };
    if (gzip) headers.push(['Content-Encoding', 'gzip']);
    const body = gzip ? file.gzip! : file.body;
    if (req.method === 'head') return { status: '200 OK', headers, body: '', headLength: body.length };
    return { status: '200 OK', headers, body };
  }

  private demoToken(query: string): WebResponse {
    const json = (status: string, value: unknown): WebResponse => ({
      status,
      headers: [
        ['Content-Type', 'application/json; charset=utf-8'],
        ['Cache-Control', 'no-store'],
        // The README's embed snippet fetches it from a page of another origin.
        ['Access-Control-Allow-Origin', '*'],
      ],
      body: JSON.stringify(value),
    });
    if (!this.demoTokenSecret) return json('404 Not Found', { error: 'demo tokens are only minted while the server uses the public development TOKEN_SECRET' });
    const params = new URLSearchParams(query);
    const uid = params.get('uid') ?? '';
    if (!UID.test(uid)) return json('400 Bad Request', { error: `uid must match ${UID.source}` });
    const name = (params.get('name') ?? '').slice(0, 64) || uid;
    return json('200 OK', { token: mintToken(this.demoTokenSecret, { uid, name, ttlSeconds: DEMO_TOKEN_TTL_S, ...this.demoClaims }), expiresIn: DEMO_TOKEN_TTL_S });
  }

  private load(root: string, dir: string): void {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) {
        this.load(root, full);
        continue;
      }
      const type = TYPES[extname(name)];
      if (!type) continue;
      const body = readFileSync(full);
      const path = '/' + relative(root, full).split(sep).join('/');
      const gzip = body.length >= GZIP_MIN_BYTES && type !== 'image/png' ? gzipSync(body, { level: 9 }) : null;
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
      this.files.set(path, { type, body, gzip: gzip && gzip.length < body.length ? gzip : null, etag, cors: path.startsWith('/sdk/') });
    }
  }
}

/** Accept-Encoding names gzip (or `*`) without `q=0`. */
export function acceptsGzip(header: string): boolean {
  let star = false;
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const refused = q !== undefined && Number(q.slice(2)) === 0;
    if (name === 'gzip' || name === 'x-gzip') return !refused;
    if (name === '*') star = !refused;
  }
  return star;
}

/** If-None-Match: a list of validators, or `*`. */
function etagMatches(header: string, etag: string): boolean {
  if (header === '') return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((v) => v.trim().replace(/^W\//, '') === etag);
}
