// The gateway's static files and demo tokens (src/gateway/web.ts), on a directory of its own.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { TokenVerifier } from '../../src/auth/token.js';
import { DEV_TOKEN_SECRET } from '../../src/config.js';
import { acceptsGzip, WebFiles, type WebRequest } from '../../src/gateway/web.js';

const dir = mkdtempSync(join(tmpdir(), 'web-files-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'demo'));
mkdirSync(join(dir, 'sdk'));
const page = '<!doctype html><title>demo</title>' + '<p>x</p>'.repeat(400);
writeFileSync(join(dir, 'demo', 'index.html'), page);
writeFileSync(join(dir, 'demo', 'style.css'), 'body{}');
writeFileSync(join(dir, 'sdk', 'danmaku-client.js'), 'export const x = 1;\n'.repeat(200));
writeFileSync(join(dir, 'sdk', 'notes.xyz'), 'not served: unknown type');

const get = (url: string, more: Partial<WebRequest> = {}): WebRequest => ({ method: 'get', url, query: '', acceptEncoding: '', ifNoneMatch: '', ...more });
const header = (headers: readonly (readonly [string, string])[], name: string) => headers.find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];

t.test('files: types, caching, gzip, CORS on the SDK only', async (t) => {
  const web = new WebFiles(dir, null);
  t.same(web.paths.sort(), ['/demo/index.html', '/demo/style.css', '/sdk/danmaku-client.js']);
  for (const url of ['/', '/demo', '/demo/', '/demo/index.html']) {
    const r = web.handle(get(url))!;
    t.equal(r.status, '200 OK', url);
    t.equal(header(r.headers, 'content-type'), 'text/html; charset=utf-8', url);
    t.equal(String(r.body), page, `${url}: the page itself`);
    t.equal(web.classify(url), 'demo');
  }
  const css = web.handle(get('/demo/style.css'))!;
  t.equal(header(css.headers, 'content-type'), 'text/css; charset=utf-8');
  t.equal(header(css.headers, 'content-encoding'), undefined, 'a tiny file is not gzipped');
  const js = web.handle(get('/sdk/danmaku-client.js', { acceptEncoding: 'gzip, deflate, br' }))!;
  t.equal(header(js.headers, 'content-type'), 'text/javascript; charset=utf-8');
  t.equal(header(js.headers, 'content-encoding'), 'gzip');
  t.equal(header(js.headers, 'vary'), 'Accept-Encoding');
  t.equal(header(js.headers, 'access-control-allow-origin'), '*', 'other origins may import the SDK as a module');
  t.equal(gunzipSync(js.body as Buffer).toString(), 'export const x = 1;\n'.repeat(200));
  t.equal(web.classify('/sdk/danmaku-client.js'), 'sdk');
  t.equal(header(web.handle(get('/'))!.headers, 'access-control-allow-origin'), undefined, 'the page is not for other origins');
  const plain = web.handle(get('/sdk/danmaku-client.js'))!;
  t.equal(header(plain.headers, 'content-encoding'), undefined, 'no gzip unless asked for');
  t.equal(header(plain.headers, 'cache-control'), 'no-cache');
  const etag = header(plain.headers, 'etag')!;
  t.match(etag, /^"[A-Za-z0-9_-]{22}"$/);
  t.equal(web.handle(get('/sdk/danmaku-client.js', { ifNoneMatch: etag }))!.status, '304 Not Modified');
  t.equal(web.handle(get('/sdk/danmaku-client.js', { ifNoneMatch: `"other", W/${etag}` }))!.status, '304 Not Modified', 'a list, weak form');
  t.equal(web.handle(get('/sdk/danmaku-client.js', { ifNoneMatch: '"other"' }))!.status, '200 OK');
  t.equal(web.handle(get('/sdk/danmaku-client.js', { ifNoneMatch: etag }))!.headLength, -1, 'a 304 has no Content-Length');
  const gzEtag = header(js.headers, 'etag')!;
  t.not(gzEtag, etag, 'the gzip representation has a validator of its own');
  t.equal(web.handle(get('/sdk/danmaku-client.js', { ifNoneMatch: gzEtag, acceptEncoding: 'gzip' }))!.status, '304 Not Modified');
  t.equal(web.handle(get('/sdk/danmaku-client.js', { ifNoneMatch: gzEtag }))!.status, '200 OK', "the gzip validator does not match the identity body");
  const head = web.handle(get('/sdk/danmaku-client.js', { method: 'head' }))!;
  t.equal(head.body, '');
  t.equal(head.headLength, 'export const x = 1;\n'.length * 200, 'HEAD reports the length a GET sends');
  for (const url of ['/nope', '/sdk/notes.xyz', '/sdk/../demo/index.html', '/demo/token']) {
    t.equal(web.handle(get(url))?.status ?? 'yield', url === '/demo/token' ? '404 Not Found' : 'yield', url);
    t.equal(web.classify(url), 'not_found', url);
  }
});

t.test('demo tokens: only with the development secret', async (t) => {
  const web = new WebFiles(dir, DEV_TOKEN_SECRET);
  const r = web.handle(get('/demo/token', { query: 'uid=alice&name=Alice%20A' }))!;
  t.equal(r.status, '200 OK');
  t.equal(header(r.headers, 'cache-control'), 'no-store');
  const body = JSON.parse(String(r.body)) as { token: string; expiresIn: number };
  const id = new TokenVerifier(DEV_TOKEN_SECRET).verify(body.token);
  t.same({ uid: id.uid, name: id.name, guest: id.guest }, { uid: 'alice', name: 'Alice A', guest: false });
  t.equal(body.expiresIn, 3600);
  t.equal(web.classify('/demo/token'), 'token');
  t.equal(web.handle(get('/demo/token', { query: 'uid=a%20b' }))!.status, '400 Bad Request', 'a uid the server would refuse');
  t.equal(web.handle(get('/demo/token'))!.status, '400 Bad Request', 'no uid');
});

t.test('no directory: nothing but the token route', async (t) => {
  const web = new WebFiles(join(dir, 'missing'), null);
  t.same(web.paths, []);
  t.equal(web.handle(get('/')), undefined);
});

t.test('Accept-Encoding: gzip unless refused with q=0', async (t) => {
  for (const [h, want] of [
    ['gzip', true],
    ['gzip, deflate, br', true],
    ['br;q=1.0, gzip;q=0.8', true],
    ['GZIP', true],
    ['x-gzip', true],
    ['*', true],
    ['gzip;q=0', false],
    ['gzip; q=0.000', false],
    ['*;q=0', false],
    ['deflate, br', false],
    ['', false],
    ['identity', false],
    ['*, gzip;q=0', false],
  ] as const) t.equal(acceptsGzip(h), want, JSON.stringify(h));
});
