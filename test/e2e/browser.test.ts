// The demo page in Debian's Chromium (playwright-core), against the real server: it loads with
// no console error or failed request; two viewers in one room see each other's danmaku in the
// overlay; a switch isolates rooms; a gateway restart is survived with nothing lost (the page
// reconnects and resumes its room); a direct message sent while the recipient's page was closed
// shows with an unread badge when it opens. A screenshot of danmaku over the video is written
// for the record (its path is printed).

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import type { Page } from 'playwright-core';
import { mintToken } from '../../src/auth/token.js';
import { DEV_TOKEN_SECRET } from '../../src/config.js';
import { browserFor, haveChromium, openPage, outputPath, type WatchedPage } from '../helpers/browser.js';
import { FAST, startCluster } from '../helpers/cluster.js';
import { items } from '../helpers/cluster.js';
import { startServer } from '../helpers/server.js';

if (!haveChromium()) {
  t.fail('Chromium is not installed (apt-get install chromium; .ci/run does it)');
  process.exit(1);
}

const ENV = { TOKEN_SECRET: DEV_TOKEN_SECRET, ...FAST, ONLINE_INTERVAL_MS: '300' };

declare global {
  interface Window {
    __items: { s: number; k: number; x?: string; g?: string; room: string; replay: boolean }[];
    __joins: { room: string; resumed: boolean; recovered?: boolean; reset: boolean }[];
    __states: string[];
  }
}

/** Records, in the page, every room item the SDK hands out, every join and every state. */
async function record(page: Page): Promise<void> {
  await page.waitForFunction(() => window.demo?.client !== undefined);
  await page.evaluate(() => {
    window.__items = [];
    window.__joins = [];
    window.__states = [];
    const c = window.demo.client;
    c.on('item', (it: { s: number; k: number; x?: string; g?: string }, meta: { room: string; replay: boolean }) => window.__items.push({ s: it.s, k: it.k, x: it.x, g: it.g, room: meta.room, replay: meta.replay }));
    c.on('joined', (j: { room: string; resumed: boolean; recovered?: boolean; reset: boolean }) => window.__joins.push({ room: j.room, resumed: j.resumed, recovered: j.recovered, reset: j.reset }));
    c.on('state', (s: string) => window.__states.push(s));
  });
}

async function ready(p: Page, room: string): Promise<void> {
  await p.getByTestId('state').filter({ hasText: 'open' }).waitFor({ timeout: 15_000 });
  await p.locator(`[data-testid="room-current"][data-joined="true"]`).filter({ hasText: room }).waitFor({ timeout: 15_000 });
}

/**
 * Waits until a comment holding `text` is drawn inside the overlay's stage: an element that is
 * there, visible, and whose box meets the stage's (not only in the overlay's own bookkeeping).
 */
const onScreen = (p: Page, text: string, timeout = 10_000) =>
  p.waitForFunction(
    (x) => {
      const root = document.querySelector('[data-testid="danmaku-overlay"]');
      if (!root) return false;
      const stage = root.getBoundingClientRect();
      return [...root.querySelectorAll('.dm-item')].some((e) => {
        if (!e.textContent?.includes(x)) return false;
        const b = e.getBoundingClientRect();
        const style = getComputedStyle(e);
        return b.width > 0 && b.right > stage.left && b.left < stage.right && b.bottom > stage.top && b.top < stage.bottom && style.visibility !== 'hidden' && Number(style.opacity) > 0;
      });
    },
    text,
    { timeout },
  );

async function sendDanmaku(p: Page, text: string): Promise<void> {
  await p.getByTestId('text-input').fill(text);
  await p.getByTestId('text-input').press('Enter');
}

/** A free loopback port below the ephemeral range (32768 and up on Linux). */
async function stablePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port in 20000-31999');
}

const noProblems = (t: Test, pages: WatchedPage[]) => {
  for (const w of pages) t.same(w.problems, [], `${w.page.url()}: no console error, page error or failed request`);
};

t.test('two viewers in one room, a switch, gifts, likes; a screenshot for the record', async (t) => {
  const server = await startServer(ENV);
  t.teardown(() => server.stop());
  const browser = await browserFor(t);
  const base = `http://127.0.0.1:${server.port}`;

  const guest = await openPage(browser, `${base}/?room=lobby`);
  await ready(guest.page, 'lobby');
  const alice = await openPage(browser, `${base}/?user=alice&room=lobby`);
  const bob = await openPage(browser, `${base}/?user=bob&room=lobby`);
  for (const w of [alice, bob]) await record(w.page);
  await Promise.all([ready(alice.page, 'lobby'), ready(bob.page, 'lobby')]);

  const hello = `hello from alice ${Date.now() % 100000}`;
  await sendDanmaku(alice.page, hello);
  await onScreen(bob.page, hello);
  await onScreen(alice.page, hello);
  await onScreen(guest.page, hello);
  const drawn = async (p: Page, x: string) => p.evaluate((x) => [...document.querySelectorAll('[data-testid="danmaku-overlay"] .dm-item')].some((e) => e.textContent?.includes(x)), x);
  t.same(await Promise.all([bob.page, alice.page, guest.page].map((p) => drawn(p, hello))), [true, true, true], "alice's danmaku is on bob's, her own and a guest's overlay");
  t.equal(await alice.page.getByTestId('text-input').inputValue(), '', 'the input is cleared once acknowledged');

  await bob.page.getByTestId('gift').first().click();
  await alice.page.waitForFunction(() => document.querySelectorAll('.dm-gift').length > 0, undefined, { timeout: 10_000 });
  t.match(await alice.page.locator('.dm-gift').first().textContent(), /bob/, "bob's gift is drawn as a gift on alice's overlay");
  const likesBefore = Number((await alice.page.getByTestId('like-counter').textContent())?.replace(/\D/g, '') || '0');
  await bob.page.getByTestId('like').click();
  await alice.page.waitForFunction((n) => Number(document.querySelector('[data-testid="like-counter"]')?.textContent?.replace(/\D/g, '') || '0') > n, likesBefore, { timeout: 10_000 });
  const likesAfter = Number((await alice.page.getByTestId('like-counter').textContent())?.replace(/\D/g, '') || '0');
  t.ok(likesAfter > likesBefore, `bob's like raises alice's like counter (${likesBefore} -> ${likesAfter})`);
  await alice.page.waitForFunction(() => Number(document.querySelector('[data-testid="online"]')?.textContent?.replace(/\D/g, '') || '0') >= 3, undefined, { timeout: 10_000 });
  const online = Number((await alice.page.getByTestId('online').textContent())?.replace(/\D/g, '') || '0');
  t.ok(online >= 3, `the viewer count shows the three viewers (${online})`);

  // A busy moment for the screenshot: colours, modes, a gift.
  await bob.page.evaluate(async () => {
    const c = window.demo.client;
    const colours = ['#ffffff', '#ff4d4f', '#ffd666', '#69c0ff', '#95de64', '#ff85c0'];
    const words = ['2333', 'first!', 'this goal though', 'hello from the other side', 'kawaii', 'GG', 'what a save!!', 'lol', 'replay that', 'so smooth'];
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 18; i++) sends.push(c.send(words[i % words.length]!, { color: colours[i % colours.length], mode: i % 9 === 4 ? 'top' : i % 9 === 8 ? 'bottom' : 'scroll' }));
    sends.push(c.gift('rocket', 3));
    await Promise.all(sends);
  });
  await onScreen(alice.page, 'what a save!!');
  await alice.page.waitForTimeout(1200); // let the comments spread across the stage
  const shot = outputPath('danmaku-over-video.png');
  await alice.page.screenshot({ path: shot });
  t.comment(`screenshot of danmaku over the video: ${shot}`);

  // A switch isolates rooms: bob moves to "music"; lobby's items stop reaching him.
  await bob.page.getByTestId('room-input').fill('music');
  await bob.page.getByTestId('room-join').click();
  await ready(bob.page, 'music');
  const carol = await openPage(browser, `${base}/?user=carol&room=music`);
  await ready(carol.page, 'music');
  const lobbyOnly = `lobby only ${Date.now() % 100000}`;
  const musicOnly = `music only ${Date.now() % 100000}`;
  await sendDanmaku(alice.page, lobbyOnly);
  await onScreen(alice.page, lobbyOnly);
  await sendDanmaku(carol.page, musicOnly);
  await onScreen(bob.page, musicOnly);
  // One standalone gateway fans a room's batch out to all its members in one go: alice had the
  // lobby danmaku before carol sent hers, so had it gone to bob, he would have it by now.
  const bobItems = await bob.page.evaluate(() => window.__items);
  t.notOk(bobItems.some((i) => i.x === lobbyOnly), 'after the switch, a lobby danmaku does not reach bob');
  t.ok(bobItems.some((i) => i.x === musicOnly && i.room === 'music'), "bob gets music's danmaku");
  const aliceItems = await alice.page.evaluate(() => window.__items);
  t.notOk(aliceItems.some((i) => i.x === musicOnly), 'and alice, in the lobby, does not get music');
  noProblems(t, [guest, alice, bob, carol]);
});

t.test('a direct message sent while the page is closed shows with an unread badge when it opens', async (t) => {
  const server = await startServer(ENV);
  t.teardown(() => server.stop());
  const browser = await browserFor(t);
  const base = `http://127.0.0.1:${server.port}`;
  const bob = await openPage(browser, `${base}/?user=bob&room=lobby`);
  await ready(bob.page, 'lobby');
  await bob.page.getByTestId('new-dm-input').fill('dora');
  await bob.page.getByTestId('new-dm-open').click();
  const text = `are you there, dora? ${Date.now() % 100000}`;
  await bob.page.getByTestId('chat-input').fill(text);
  await bob.page.getByTestId('chat-send').click();
  await bob.page.getByTestId('chat-message').filter({ hasText: text }).waitFor({ timeout: 20_000 });

  const dora = await openPage(browser, `${base}/?user=dora&room=lobby`);
  await ready(dora.page, 'lobby');
  const conv = dora.page.locator('[data-testid="conversation"][data-conv="to:bob"]');
  await conv.waitFor({ timeout: 20_000 });
  await conv.getByTestId('unread-badge').filter({ hasText: '1' }).waitFor({ timeout: 20_000 });
  t.equal((await conv.getByTestId('unread-badge').textContent())?.trim(), '1', "bob's message is in dora's conversations with an unread badge of 1");
  await conv.click();
  await dora.page.getByTestId('chat-message').filter({ hasText: text }).waitFor({ timeout: 20_000 });
  await conv.getByTestId('unread-badge').waitFor({ state: 'hidden', timeout: 20_000 });
  t.equal(await dora.page.getByTestId('chat-message').filter({ hasText: text }).count(), 1, 'opening it shows the message once');
  t.notOk(await conv.getByTestId('unread-badge').isVisible(), 'and clears the badge (READ)');
  noProblems(t, [bob, dora]);
});

t.test('a gateway restart: the page reconnects and resumes its room with nothing lost', async (t) => {
  const c = await startCluster({ gateways: 1, logics: 1, env: ENV });
  t.teardown(() => c.stop());
  const browser = await browserFor(t);
  // The restarted gateway listens on its old port: one outside the ephemeral range, which the
  // page's own reconnect attempts (and every other outgoing connection) draw their local ports from.
  let port = 0;
  let gw0: Awaited<ReturnType<typeof c.startGateway>> | undefined;
  for (let i = 0; !gw0; i++) {
    port = await stablePort();
    // Another process may take the port between the probe and the start: try another.
    gw0 = await c.startGateway('gw-r', { PORT: String(port) }).catch((err: unknown) => {
      if (i >= 4) throw err;
      return undefined;
    });
  }
  const gw1 = c.gateways[0]!;
  // While the gateway is down, Chromium logs each refused reconnect (the token fetch, then the
  // WebSocket) as a console error and a failed request of its own: the test's doing.
  const ignore = /WebSocket connection to .* failed|ERR_CONNECTION_REFUSED/;
  const viewer = await openPage(browser, `http://127.0.0.1:${gw0.port}/?user=viewer&room=stage`, { ignore });
  const sender = await openPage(browser, `http://127.0.0.1:${gw1.port}/?user=sender&room=stage`);
  await record(viewer.page);
  await Promise.all([ready(viewer.page, 'stage'), ready(sender.page, 'stage')]);
  const before = (await sender.page.evaluate(() => window.demo.client.send('before the restart'))) as { s: number };
  await viewer.page.waitForFunction((s) => window.__items.some((i) => i.s === s), before.s, { timeout: 10_000 });

  await gw0.stop();
  await viewer.page.waitForFunction(() => window.__states.includes('reconnecting'), undefined, { timeout: 10_000 });
  const acked = (await sender.page.evaluate(async () => {
    const cl = window.demo.client;
    const out: { s: number }[] = [];
    for (let i = 0; i < 4; i++) {
      out.push(await cl.gift('rose', i + 1));
      out.push(await cl.send(`while you were away ${i}`));
    }
    return out;
  })) as { s: number }[];
  t.equal(acked.length, 8, 'the other gateway took 4 gifts and 4 danmaku meanwhile');
  for (let i = 0; ; i++) {
    try {
      await c.startGateway('gw-r', { PORT: String(port) });
      break;
    } catch (err) {
      if (i >= 4) throw err; // the port is held by something else for good
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  await viewer.page.waitForFunction(() => window.__joins.some((j) => j.resumed), undefined, { timeout: 45_000 });
  const join = (await viewer.page.evaluate(() => window.__joins.find((j) => j.resumed)))!;
  t.equal(join.recovered, true, 'the resume is recovered: every missed item is in the replay');
  await ready(viewer.page, 'stage');
  const seen = new Set((await viewer.page.evaluate(() => window.__items)).map((i) => i.s));
  t.same(
    acked.map((a) => a.s).filter((s) => !seen.has(s)),
    [],
    'every gift and danmaku sent while the page was cut off reached it',
  );
  const seqs = (await viewer.page.evaluate(() => window.__items)).map((i) => i.s).filter((s) => s > 0);
  t.equal(new Set(seqs).size, seqs.length, 'and none twice');
  noProblems(t, [viewer, sender]);
});

t.test("the README's embed snippet works on a blank page of another origin", async (t) => {
  const server = await startServer(ENV);
  t.teardown(() => server.stop());
  const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
  const snippet = /<!-- embed:start -->\s*```html\n([\s\S]*?)```\s*<!-- embed:end -->/.exec(readme)?.[1];
  t.ok(snippet, 'the README has the snippet between its markers');
  const html = `<!doctype html><meta charset="utf-8"><title>blank</title><body>${snippet!.replaceAll('127.0.0.1:9001', `127.0.0.1:${server.port}`)}</body>`;
  const site = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html));
  await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
  t.teardown(() => site.close());
  const port = (site.address() as { port: number }).port;

  const watcher = await server.connect(undefined, { token: mintToken(DEV_TOKEN_SECRET, { uid: 'zed' }) });
  await watcher.join('lobby');
  const seen = items(watcher, 'lobby');
  const browser = await browserFor(t);
  const page = await openPage(browser, `http://127.0.0.1:${port}/`);
  const deadline = Date.now() + 15_000;
  while (!seen.some((i) => i.x === 'hello from my page' && i.u === 'viewer1') && Date.now() < deadline) await page.page.waitForTimeout(100);
  t.ok(seen.some((i) => i.x === 'hello from my page' && i.u === 'viewer1'), "the page's send reached the room");
  await watcher.send({ k: 1, x: 'hello from node' });
  await onScreen(page.page, 'hello from node');
  const xOf = () => page.page.evaluate(() => [...document.querySelectorAll('.dm-item')].find((e) => e.textContent?.includes('hello from node'))!.getBoundingClientRect().left);
  const x0 = await xOf();
  await page.page.waitForTimeout(300);
  t.ok((await xOf()) < x0, "the room's danmaku shows in the page's overlay, and scrolls");
  watcher.close();
  noProblems(t, [page]);
});
