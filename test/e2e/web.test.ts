// The web files on the real server's WebSocket port (src/gateway/web.ts): the demo page, the
// SDK bundles (with CORS, gzip and ETags), demo tokens only on the development secret, 426
// for anything else, WEB=false, and the metric that counts them. The bundles' size budgets.

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { DEV_TOKEN_SECRET } from '../../src/config.js';
import { BUDGETS } from '../../src/web/build.js';
import { metricValue, startServer } from '../helpers/server.js';

t.test('the standalone server serves the demo page, the SDK and demo tokens', async (t) => {
  const server = await startServer({ TOKEN_SECRET: DEV_TOKEN_SECRET });
  t.teardown(() => server.stop());
  const base = `http://127.0.0.1:${server.port}`;

  const page = await fetch(`${base}/`);
  t.equal(page.status, 200);
  t.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
  const html = await page.text();
  t.match(html, /<script type="module" src="app\.js"><\/script>|src="app\.js"/, 'the page loads its bundle');
  t.notMatch(html, /(src|href)=["']?(https?:)?\/\//, 'no resource from outside the server');
  const app = await fetch(`${base}/demo/app.js`);
  t.equal(app.status, 200);
  t.equal(app.headers.get('content-type'), 'text/javascript; charset=utf-8');

  const sdk = await fetch(`${base}/sdk/danmaku-client.js`, { headers: { 'accept-encoding': 'gzip' } });
  t.equal(sdk.status, 200);
  t.equal(sdk.headers.get('access-control-allow-origin'), '*', 'importable from another origin');
  t.equal(sdk.headers.get('content-encoding'), 'gzip');
  t.equal(sdk.headers.get('cache-control'), 'no-cache');
  const etag = sdk.headers.get('etag')!;
  t.match(await sdk.text(), /export\s*\{/, 'an ES module');
  const again = await fetch(`${base}/sdk/danmaku-client.js`, { headers: { 'if-none-match': etag } });
  t.equal(again.status, 304, 'revalidated with the ETag');
  for (const f of ['danmaku-overlay.js', 'danmaku.js']) t.equal((await fetch(`${base}/sdk/${f}`)).status, 200, f);

  // HEAD through uWS (once crashed the process): the GET's headers and length, no body.
  const plainGet = await fetch(`${base}/sdk/danmaku.js`, { headers: { 'accept-encoding': 'identity' } });
  const length = (await plainGet.arrayBuffer()).byteLength;
  for (const path of ['/', '/sdk/danmaku.js', '/demo/app.js']) {
    const head = await fetch(`${base}${path}`, { method: 'HEAD', headers: { 'accept-encoding': 'identity' } });
    t.equal(head.status, 200, `HEAD ${path}`);
    if (path === '/sdk/danmaku.js') t.equal(Number(head.headers.get('content-length')), length, 'HEAD: the length a GET sends');
  }
  t.equal((await fetch(`${base}/sdk/danmaku.js?v=2`)).status, 200, 'a query string does not change the file');
  const refused = await fetch(`${base}/sdk/danmaku.js`, { headers: { 'accept-encoding': 'gzip;q=0' } });
  t.equal(refused.headers.get('content-encoding'), null, 'gzip;q=0 gets the identity body');
  t.equal((await refused.arrayBuffer()).byteLength, length);

  const token = await fetch(`${base}/demo/token?uid=alice&name=Alice`);
  t.equal(token.status, 200);
  const { token: jwt } = (await token.json()) as { token: string };
  const c = await server.connect(undefined, { token: jwt });
  t.equal(c.welcome?.uid, 'alice', 'the minted token signs in');
  c.close();

  const other = await fetch(`${base}/nope`);
  t.equal(other.status, 426, 'anything else still asks for a WebSocket');
  const metrics = await server.metrics();
  t.equal(metricValue(metrics, 'danmaku_web_requests_total', { class: 'demo', status: '200' }), 4);
  t.equal(metricValue(metrics, 'danmaku_web_requests_total', { class: 'sdk', status: '304' }), 1);
  t.equal(metricValue(metrics, 'danmaku_web_requests_total', { class: 'token', status: '200' }), 1);
  t.equal(metricValue(metrics, 'danmaku_web_requests_total', { class: 'sdk', status: '200' }), 7);
  t.equal(metricValue(metrics, 'danmaku_web_requests_total', { class: 'not_found', status: '426' }), 1);
});

t.test('no demo tokens with a secret of your own; WEB=false serves nothing', async (t) => {
  const own = await startServer();
  t.teardown(() => own.stop());
  t.equal((await fetch(`http://127.0.0.1:${own.port}/demo/token?uid=alice`)).status, 404, 'a real secret mints nothing');
  t.equal((await fetch(`http://127.0.0.1:${own.port}/sdk/danmaku.js`)).status, 200, 'the SDK is still served');
  const off = await startServer({ WEB: 'false', TOKEN_SECRET: DEV_TOKEN_SECRET });
  t.teardown(() => off.stop());
  for (const path of ['/', '/sdk/danmaku.js', '/demo/token?uid=alice']) t.equal((await fetch(`http://127.0.0.1:${off.port}${path}`)).status, 426, `WEB=false: ${path}`);
});

t.test('bundle sizes are within their budgets (README, "Embed it in your page")', async (t) => {
  const sizes = JSON.parse(readFileSync(fileURLToPath(new URL('../../web-sizes.json', import.meta.url)), 'utf8')) as { file: string; gzip: number; budget?: number }[];
  for (const [file, budget] of Object.entries(BUDGETS)) {
    const s = sizes.find((x) => x.file === file);
    t.ok(s, `${file} was built`);
    t.ok(s && s.gzip <= budget, `${file}: ${s?.gzip} bytes gzipped, budget ${budget}`);
  }
});

t.test('package exports: danmaku-server/client and danmaku-server/overlay, with their types', async (t) => {
  const client = (await import('danmaku-server/client')) as Record<string, unknown>;
  t.type(client.createClient, 'function', 'danmaku-server/client exports createClient');
  const overlay = (await import('danmaku-server/overlay')) as Record<string, unknown>;
  t.type(overlay.DanmakuOverlay, 'function', 'danmaku-server/overlay exports DanmakuOverlay');
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as { exports: Record<string, { types?: string }> };
  for (const entry of ['./client', './overlay']) {
    const types = pkg.exports[entry]?.types;
    t.ok(types && existsSync(fileURLToPath(new URL(`../../../${types}`, import.meta.url))), `${entry}: its declarations (${types}) are built`);
  }
});
