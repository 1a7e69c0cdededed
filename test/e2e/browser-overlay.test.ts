// The overlay in Debian's Chromium (playwright-core), loaded as the real server serves it
// (/sdk/danmaku-overlay.js from dist/web) into pages of our own: what is drawn, read from the
// DOM (getBoundingClientRect, computed styles), not from the overlay's own bookkeeping.
// - no two comments of one lane ever overlap, under load, with the main thread blocked for
//   300 ms between add() and the next frame, and across a hidden page (emulated: headless
//   Chromium never reports a page hidden, so document.hidden is overridden in the page and
//   visibilitychange dispatched);
// - an overlay bound to a <video> with no source runs live (comments move, on the stage) and
//   follows the video once it gets one;
// - a host page's inherited text styles do not change the comments' widths;
// - top and bottom comments keep to their bands; decorations stay inside their lanes;
// - under reduced motion, comments added while paused are visible;
// - a gift storm: every gift is represented (merged pills, a "+N gifts" summary); a change of
//   the reduced-motion preference keeps what is on screen; a zero-size stage runs no timer;
// - with the real SDK: a plain join shows the room's recent gifts only, not its old danmaku.

import t from 'tap';
import type { Browser, Page } from 'playwright-core';
import { haveChromium, launchChromium } from '../../bench/lib/chromium.js';
import { startServer, type RunningServer } from '../helpers/server.js';

if (!haveChromium()) {
  t.fail('Chromium is not installed (apt-get install chromium; .ci/run does it)');
  process.exit(1);
}

/** A pair of comments of one lane closer than this (negative gap, px) counts as an overlap: measureText and layout may differ by a pixel. */
const TOLERANCE_PX = 3;

interface Overlap { a: string; b: string; by: number; top: number }
interface Samples { frames: number; maxItems: number; overlaps: Overlap[]; lanes: number }

/** In-page helpers: a seeded load generator, the rect sampler, hidden-page emulation. */
const HELPERS = `
window.rand = (() => { let s = 12345; return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32); })();
const WORDS = ['hi', 'lol', 'nice goal', 'what a save!!', 'wow', 'again', 'first time here', 'hello everyone', 'GG', 'ok', 'this stream is great', '666', 'so close'];
window.text = (i) => WORDS[Math.floor(rand() * WORDS.length)] + ' ' + i;
window.busy = (ms) => { const end = performance.now() + ms; while (performance.now() < end) {} };
window.setHidden = (h) => {
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
  document.dispatchEvent(new Event('visibilitychange'));
};
/** Every frame for ms: each .dm-item's rect, grouped by lane (same top), checked for overlaps. */
window.sample = (ms, tol) => new Promise((resolve) => {
  const res = { frames: 0, maxItems: 0, overlaps: [], lanes: 0 };
  const tops = new Set();
  const end = performance.now() + ms;
  const frame = () => {
    const items = [...document.querySelectorAll('.dm-item')].map((e) => {
      const r = e.getBoundingClientRect();
      return { t: e.textContent, top: Math.round(r.top), l: r.left, r: r.right };
    });
    res.frames++;
    res.maxItems = Math.max(res.maxItems, items.length);
    const lanes = new Map();
    for (const it of items) {
      tops.add(it.top);
      if (!lanes.has(it.top)) lanes.set(it.top, []);
      lanes.get(it.top).push(it);
    }
    for (const lane of lanes.values()) {
      lane.sort((a, b) => a.l - b.l);
      for (let i = 1; i < lane.length; i++) {
        const by = lane[i - 1].r - lane[i].l;
        if (by > tol && res.overlaps.length < 20) res.overlaps.push({ a: lane[i - 1].t, b: lane[i].t, by: Math.round(by), top: lane[i].top });
      }
    }
    if (performance.now() < end) requestAnimationFrame(frame);
    else {
      res.lanes = tops.size;
      resolve(res);
    }
  };
  requestAnimationFrame(frame);
});
`;

let server: RunningServer;
let browser: Browser;

t.before(async () => {
  [server, browser] = await Promise.all([startServer({}, 'overlay-browser'), launchChromium()]);
});
t.teardown(async () => {
  await browser?.close();
  await server?.stop();
});

/**
 * A page of our own with the overlay module from the server (window.O) and the helpers.
 * `body` is the page's markup, `css` its styles.
 */
async function overlayPage(opts: { body: string; css?: string; module?: 'overlay' | 'all'; viewport?: { width: number; height: number } }): Promise<Page> {
  const page = await browser.newPage({ viewport: opts.viewport ?? { width: 1000, height: 600 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  const file = opts.module === 'all' ? 'danmaku.js' : 'danmaku-overlay.js';
  await page.setContent(`<!doctype html><html><head><style>body{margin:0;background:#222}${opts.css ?? ''}</style></head><body>${opts.body}
<script>${HELPERS}</script>
<script type="module">import * as O from 'http://127.0.0.1:${server.port}/sdk/${file}'; window.O = O; window.ready = true;</script></body></html>`);
  await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true, undefined, { timeout: 10_000 });
  (page as Page & { errors?: string[] }).errors = errors;
  return page;
}

const pageErrors = (p: Page): string[] => (p as Page & { errors?: string[] }).errors ?? [];

const STAGE = '<div id="stage" style="position:relative;width:800px;height:300px;background:#000"></div>';

t.test('lanes: no overlap under load, with a 300 ms block between add() and the next frame, and across a hidden page', async (t) => {
  const page = await overlayPage({ body: STAGE });
  await page.evaluate(() => {
    const w = window as any;
    w.o = new w.O.DanmakuOverlay(document.getElementById('stage'), { autoScale: false, fontSize: 20, durationMs: 4000, reducedMotion: false });
    w.n = 0;
    /** danmaku at `rate` a second for `ms`, 10% top, 10% bottom, and a gift every 600 ms */
    w.feed = (rate: number, ms: number) => {
      const start = performance.now();
      let lastGift = start;
      const timer = setInterval(() => {
        if (performance.now() - start > ms) return clearInterval(timer);
        const r = w.rand();
        w.o.add({ text: w.text(w.n++), mode: r < 0.1 ? 'top' : r < 0.2 ? 'bottom' : 'scroll', color: Math.floor(w.rand() * 0xffffff) });
        if (performance.now() - lastGift > 600) {
          lastGift = performance.now();
          w.o.add({ kind: 'gift', text: `1 x rose`, user: `fan${w.n}`, gift: 'rose', count: 1 });
        }
      }, 1000 / rate);
    };
  });

  // 1. load: 40 a second for 3 s
  const load = (await page.evaluate(() => {
    const w = window as any;
    w.feed(40, 3000);
    return w.sample(3500, 3);
  })) as Samples;
  t.ok(load.frames > 20, `sampled ${load.frames} frames`);
  t.ok(load.maxItems >= 10 && load.lanes >= 8, `a busy stage: up to ${load.maxItems} comments in ${load.lanes} lanes`);
  t.same(load.overlaps, [], 'under load no two comments of a lane overlap');

  // 2. the main thread blocked for 300 ms right after an add(), several times, into a stage
  // whose single usable lane makes any mismatch of planned and drawn positions an overlap
  await page.evaluate(() => (window as any).o.clear());
  const blocked = (await page.evaluate(() => {
    const w = window as any;
    w.o.setOptions({ density: 0.01 });
    const sampled = w.sample(3500, 3);
    let i = 0;
    const fed = new Promise((resolve) => {
      const timer = setInterval(() => {
        if (i >= 90) return resolve(clearInterval(timer));
        w.o.add({ text: `block ${i++}` });
        if (i % 25 === 1) w.busy(300); // between this add() and the next frame
      }, 30);
    });
    return Promise.all([sampled, fed]).then(([s]) => s);
  })) as Samples;
  t.ok(blocked.maxItems >= 4, `one lane held up to ${blocked.maxItems} comments`);
  t.same(blocked.overlaps, [], 'a late first frame draws each comment where it was planned: no overlap');

  // 3. the page hidden while comments and gifts arrive, then shown again
  await page.evaluate(() => {
    const w = window as any;
    w.o.clear();
    w.o.setOptions({ density: 1 });
  });
  const hidden = (await page.evaluate(async () => {
    const w = window as any;
    const before = w.o.stats;
    w.setHidden(true);
    for (let i = 0; i < 30; i++) {
      w.o.add({ text: `while hidden ${i}` });
      if (i % 6 === 0) w.o.add({ kind: 'gift', text: '2 x rose', user: 'alice', gift: 'rose', count: 2 });
      await new Promise((r) => setTimeout(r, 20));
    }
    const during = { ...w.o.stats, drawn: document.querySelectorAll('.dm-item').length };
    w.setHidden(false);
    const justAfter = document.querySelectorAll('.dm-item').length;
    const gifts = [...document.querySelectorAll('.dm-gift')].map((e) => e.textContent);
    w.feed(30, 2000);
    const after = await w.sample(2500, 3);
    return { before, during, justAfter, gifts, after, stats: w.o.stats };
  })) as { before: { shed: number; hiddenShed: number }; during: { hiddenShed: number; shed: number; waiting: number; drawn: number }; justAfter: number; gifts: string[]; after: Samples; stats: { hiddenShed: number } };
  t.equal(hidden.during.hiddenShed - hidden.before.hiddenShed, 30, 'danmaku that arrive while the page is hidden are shed (stats.hiddenShed)');
  t.equal(hidden.during.shed - hidden.before.shed, 30, 'and counted in stats.shed');
  t.equal(hidden.during.drawn, 0, 'nothing is drawn while hidden');
  t.equal(hidden.during.waiting, 1, "alice's 5 gifts wait as one merged entry");
  t.equal(hidden.justAfter, 1, 'on return nothing piles up: only the waiting gift pill comes on');
  t.same(hidden.gifts, ['alice sent 10 x rose'], 'the gifts sent while hidden are shown, merged');
  t.same(hidden.after.overlaps, [], 'after the return no two comments of a lane overlap');
  t.same(pageErrors(page), [], 'no page error');
  await page.close();
});

t.test('a <video> with no source does not freeze the overlay; once it has one, the overlay follows it', async (t) => {
  // the README's embed: a source-less video passed as media
  const page = await overlayPage({ body: '<div id="player" style="position:relative;width:640px;height:360px;background:#000"><video id="video" muted playsinline style="width:100%;height:100%"></video></div>' });
  const r = (await page.evaluate(async () => {
    const w = window as any;
    const video = document.getElementById('video') as HTMLVideoElement;
    w.o = new w.O.DanmakuOverlay(document.getElementById('player'), { media: video, reducedMotion: false });
    const pausedAtStart = w.o.paused;
    w.o.add({ text: 'hello from my page' });
    const el = () => [...document.querySelectorAll('.dm-item')].find((e) => e.textContent === 'hello from my page')!;
    await new Promise((r) => setTimeout(r, 600));
    const a = el().getBoundingClientRect();
    await new Promise((r) => setTimeout(r, 500));
    const b = el().getBoundingClientRect();
    const stage = document.getElementById('player')!.getBoundingClientRect();
    // now give the video a source (a canvas stream) without playing it: the overlay follows it
    const canvas = document.createElement('canvas');
    canvas.getContext('2d')!.fillRect(0, 0, 10, 10); // a frame, so that it can play
    video.srcObject = canvas.captureStream(10);
    await new Promise((r) => video.addEventListener('loadstart', r, { once: true }));
    const pausedWithSource = w.o.paused;
    await Promise.race([video.play(), new Promise((r) => setTimeout(r, 3000))]);
    const playing = w.o.paused;
    video.srcObject = null;
    video.load(); // emptied: no source again
    await new Promise((r) => setTimeout(r, 100));
    return { pausedAtStart, a: [a.left, a.right], b: [b.left, b.right], stage: [stage.left, stage.right], pausedWithSource, playing, afterEmptied: w.o.paused };
  })) as { pausedAtStart: boolean; a: number[]; b: number[]; stage: number[]; pausedWithSource: boolean; playing: boolean; afterEmptied: boolean };
  t.equal(r.pausedAtStart, false, 'not paused by a video that has no source');
  t.ok(r.b[0]! < r.a[0]! - 20, `the comment moves (x ${Math.round(r.a[0]!)} then ${Math.round(r.b[0]!)})`);
  t.ok(r.a[0]! < r.stage[1]! - 20 && r.b[0]! >= r.stage[0]!, 'and is on the stage (its head inside it)');
  t.equal(r.pausedWithSource, true, 'with a source and paused, the video pauses the overlay');
  t.equal(r.playing, false, 'playing, it resumes it');
  t.equal(r.afterEmptied, false, 'the source gone, the overlay runs live');
  t.same(pageErrors(page), []);
  await page.close();
});

t.test("a host page's text styles are not inherited: widths are the measured ones, lanes do not overlap", async (t) => {
  const page = await overlayPage({
    body: STAGE,
    css: '#stage{letter-spacing:3px;text-transform:uppercase;word-spacing:12px;font-style:italic;font-variant:small-caps;text-indent:40px;line-height:3;white-space:pre-wrap;direction:rtl}',
  });
  const r = (await page.evaluate(async () => {
    const w = window as any;
    w.o = new w.O.DanmakuOverlay(document.getElementById('stage'), { autoScale: false, fontSize: 20, durationMs: 4000, density: 0.01, reducedMotion: false });
    const sampled = w.sample(2500, 3);
    let i = 0;
    const timer = setInterval(() => {
      if (i >= 60) return clearInterval(timer);
      w.o.add({ text: `same lane words ${i++}` });
    }, 40);
    await new Promise((r) => setTimeout(r, 1500));
    const el = document.querySelector('.dm-item') as HTMLElement;
    const cs = getComputedStyle(el);
    const ctx = document.createElement('canvas').getContext('2d')!;
    ctx.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
    const widths = [...document.querySelectorAll('.dm-item')].map((e) => [e.getBoundingClientRect().width, Math.ceil(ctx.measureText(e.textContent!).width)]);
    return { widths, styles: [cs.letterSpacing, cs.wordSpacing, cs.textTransform, cs.fontStyle, cs.fontVariantCaps, cs.textIndent, cs.direction], samples: await sampled };
  })) as { widths: number[][]; styles: string[]; samples: Samples };
  t.same(r.styles, ['normal', '0px', 'none', 'normal', 'normal', '0px', 'ltr'], 'the inherited text styles are reset on the comments');
  t.ok(r.widths.length >= 2, `${r.widths.length} comments measured`);
  for (const [drawn, measured] of r.widths) t.ok(Math.abs(drawn! - measured!) <= 2, `drawn width ${drawn!.toFixed(1)} = measured ${measured}`);
  t.same(r.samples.overlaps, [], 'no overlap in the lane');
  await page.close();
});

t.test('top and bottom bands; decorations inside the lanes; reduced motion while paused is visible', async (t) => {
  const page = await overlayPage({ body: STAGE });
  const r = (await page.evaluate(async () => {
    const w = window as any;
    const stage = document.getElementById('stage')!;
    w.o = new w.O.DanmakuOverlay(stage, { autoScale: false, fontSize: 20, reducedMotion: false });
    for (let i = 0; i < 30; i++) w.o.add({ text: `top ${i}`, mode: 'top' });
    for (let i = 0; i < 30; i++) w.o.add({ text: `bottom ${i}`, mode: 'bottom' });
    w.o.add({ kind: 'notice', text: 'welcome' });
    for (let i = 0; i < 3; i++) w.o.add({ kind: 'gift', text: `${i} x rose`, user: `u${i}`, gift: 'rose', count: i });
    for (let i = 0; i < 3; i++) w.o.add({ text: `mine ${i}`, self: true });
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    const box = stage.getBoundingClientRect();
    /** each comment's band (top and bottom edge) as a fraction of the stage's height */
    const band = (prefix: string) => [...document.querySelectorAll('.dm-item')].filter((e) => e.textContent!.startsWith(prefix)).map((e) => {
      const b = e.getBoundingClientRect();
      return [(b.top - box.top) / box.height, (b.bottom - box.top) / box.height];
    });
    const bands = { top: band('top '), bottom: band('bottom '), notice: band('welcome') };
    const outside: string[] = [];
    for (const e of document.querySelectorAll<HTMLElement>('.dm-self, .dm-gift, .dm-notice')) {
      const cs = getComputedStyle(e);
      if (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) + parseFloat(cs.outlineOffset) > 0) outside.push(`${e.textContent}: outline`);
      for (const sh of cs.boxShadow === 'none' ? [] : cs.boxShadow.split(/,(?![^(]*\))/)) {
        if (/inset/.test(sh)) continue;
        const [x, y, blur, spread] = (sh.replace(/rgba?\([^)]*\)/, '').match(/-?[\d.]+px/g) ?? []).map(parseFloat);
        if (Math.abs(y ?? 0) + (blur ?? 0) + (spread ?? 0) > 0 || Math.abs(x ?? 0) > 0) outside.push(`${e.textContent}: shadow ${sh}`);
      }
      if (e.classList.contains('dm-gift') || e.classList.contains('dm-notice')) {
        const painted = e.getBoundingClientRect().height - parseFloat(cs.borderTopWidth) - parseFloat(cs.borderBottomWidth);
        if (cs.backgroundClip !== 'padding-box' || painted >= e.getBoundingClientRect().height) outside.push(`${e.textContent}: pill fills its lane`);
      }
    }
    // reduced motion: comments added while paused show (frozen), not at opacity 0
    w.o.destroy();
    w.o = new w.O.DanmakuOverlay(stage, { autoScale: false, fontSize: 20, reducedMotion: true });
    w.o.pause();
    w.o.add({ text: 'paused scroll' });
    w.o.add({ text: 'paused top', mode: 'top' });
    w.o.add({ kind: 'gift', text: 'paused gift', user: 'z' });
    await new Promise((r) => setTimeout(r, 300));
    const opacities = [...document.querySelectorAll('.dm-item')].map((e) => Number(getComputedStyle(e).opacity));
    w.o.resume();
    return { bands, outside, opacities };
  })) as { bands: Record<'top' | 'bottom' | 'notice', number[][]>; outside: string[]; opacities: number[] };
  t.ok(r.bands.top.length >= 2 && r.bands.bottom.length >= 2, `${r.bands.top.length} top and ${r.bands.bottom.length} bottom comments shown (the rest shed)`);
  t.ok(r.bands.top.every(([, bottom]) => bottom! <= 0.4), 'top comments stay in the top third');
  t.ok(r.bands.bottom.every(([top]) => top! >= 0.6), 'bottom comments stay in the bottom third');
  t.ok(r.bands.notice.length === 1 && r.bands.notice[0]![1]! <= 0.4, 'the notice is in the top band');
  t.same(r.outside, [], 'outlines and shadows stay inside the element, pills are shorter than their lane');
  t.equal(r.opacities.length, 3);
  t.ok(r.opacities.every((o) => o > 0.5), `added while paused under reduced motion: visible (opacity ${r.opacities.join(', ')})`);
  await page.close();
});

t.test('a gift storm: every gift is represented (merged pills, a "+N gifts" summary), none dropped', async (t) => {
  const page = await overlayPage({ body: '<div id="stage" style="position:relative;width:800px;height:120px;background:#000"></div>' });
  const r = (await page.evaluate(async () => {
    const w = window as any;
    const stage = document.getElementById('stage')!;
    w.o = new w.O.DanmakuOverlay(stage, { autoScale: false, fontSize: 20, durationMs: 1500, reducedMotion: false });
    const pills: string[] = [];
    new MutationObserver((records) => {
      for (const rec of records) for (const n of rec.addedNodes) if ((n as Element).classList?.contains('dm-gift')) pills.push(n.textContent!);
    }).observe(stage, { childList: true, subtree: true });
    for (let i = 0; i < 300; i++) w.o.add({ kind: 'gift', text: '1 x rose', user: `u${i % 120}`, gift: 'rose', count: 1 });
    const waitingAtPeak = w.o.stats.waiting;
    const deadline = performance.now() + 15_000;
    while (w.o.stats.waiting > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 100));
    return { pills, waitingAtPeak, stats: w.o.stats };
  })) as { pills: string[]; waitingAtPeak: number; stats: { gifts: number; waiting: number } };
  t.equal(r.stats.gifts, 300, 'stats.gifts counts every gift');
  t.ok(r.waitingAtPeak <= 51, `the queue stays small: ${r.waitingAtPeak} entries waiting at the peak`);
  t.equal(r.stats.waiting, 0, 'every waiting gift was shown');
  let represented = 0;
  for (const p of r.pills) {
    const merged = /^u\d+ sent (\d+) x rose$/.exec(p);
    const summary = /^\+(\d+) gifts?$/.exec(p);
    if (merged) represented += Number(merged[1]);
    else if (summary) represented += Number(summary[1]);
    else t.fail(`unexpected pill: ${p}`);
  }
  t.ok(r.pills.some((p) => /sent [2-9] x rose/.test(p)), 'gifts of the same sender merged into one pill');
  t.ok(r.pills.some((p) => p.startsWith('+')), 'past the limit, a summary pill');
  t.equal(represented, 300, `all 300 gifts are represented in ${r.pills.length} pills`);
  await page.close();
});

t.test('a reduced-motion change re-places what is on screen; a zero-size stage waits for a resize, with no timer', async (t) => {
  const page = await overlayPage({ body: STAGE + '<div id="zero" style="position:relative;width:0;height:0"></div>' });
  const before = (await page.evaluate(() => {
    const w = window as any;
    w.o = new w.O.DanmakuOverlay(document.getElementById('stage'), { autoScale: false, fontSize: 20, durationMs: 8000 });
    w.o.add({ kind: 'gift', text: '5 x cake', user: 'alice', gift: 'cake', count: 5 });
    w.o.add({ kind: 'notice', text: 'be nice' });
    for (let i = 0; i < 5; i++) w.o.add({ text: `chat ${i}` });
    return w.o.visibleTexts() as string[];
  })) as string[];
  await page.emulateMedia({ reducedMotion: 'reduce' });
  const after = (await page.evaluate(async () => {
    const w = window as any;
    await new Promise((r) => setTimeout(r, 300));
    const gift = document.querySelector('.dm-gift')!;
    return { texts: w.o.visibleTexts() as string[], giftAnimates: gift.getAnimations().map((a) => Object.keys((a.effect as KeyframeEffect).getKeyframes()[0]!).filter((k) => k === 'transform' || k === 'opacity')).flat() };
  })) as { texts: string[]; giftAnimates: string[] };
  t.ok(before.includes('alice sent 5 x cake') && before.includes('be nice'), 'a gift and a notice on screen');
  t.ok(after.texts.includes('alice sent 5 x cake'), 'after the change the gift is still on screen');
  t.ok(after.texts.includes('be nice'), 'and the notice');
  t.equal(after.texts.length, before.length, 'nothing was cleared');
  t.same(after.giftAnimates, ['opacity'], 'the gift is now shown in place (fading), not scrolling');

  const zero = (await page.evaluate(async () => {
    const w = window as any;
    let timers = 0;
    const real = window.setTimeout;
    (window as any).setTimeout = (fn: () => void, ms?: number) => {
      timers++;
      return real(fn, ms);
    };
    const z = document.getElementById('zero')!;
    const o = new w.O.DanmakuOverlay(z, { reducedMotion: false });
    const accepted = o.add({ kind: 'gift', text: '1 x rose', user: 'bob', gift: 'rose', count: 1 });
    await new Promise((r) => real(r, 1200));
    const idle = { timers, waiting: o.stats.waiting, accepted };
    (window as any).setTimeout = real;
    z.style.width = '600px';
    z.style.height = '200px';
    await new Promise((r) => real(r, 400));
    return { ...idle, shown: [...z.querySelectorAll('.dm-gift')].map((e) => e.textContent) };
  })) as { timers: number; waiting: number; accepted: boolean; shown: string[] };
  t.equal(zero.accepted, true, 'a gift on a zero-size stage is accepted (it waits)');
  t.equal(zero.waiting, 1);
  t.equal(zero.timers, 0, 'no retry timer runs while the stage has no lanes');
  t.same(zero.shown, ['bob sent 1 x rose'], 'the resize shows it');
  await page.close();
});

t.test('with the SDK: a plain join shows the recent gifts of the replay, not its old danmaku', async (t) => {
  const page = await overlayPage({ body: STAGE, module: 'all' });
  const r = (await page.evaluate(async ({ url, alice, bob }) => {
    const w = window as any;
    const sender = w.O.createClient({ url, token: alice });
    await sender.join('replay-room');
    await sender.send('old chat');
    await sender.gift('rose', 2);
    await new Promise((r) => setTimeout(r, 800)); // past the room's batching: the viewer gets them in its JOINED, not live
    const viewer = w.O.createClient({ url, token: bob });
    const o = new w.O.DanmakuOverlay(document.getElementById('stage'), { reducedMotion: false });
    w.O.bindOverlay(viewer, o);
    const joins: unknown[] = [];
    viewer.on('joined', (j: { replayed: number; resumed: boolean }) => joins.push({ replayed: j.replayed, resumed: j.resumed }));
    await viewer.join('replay-room');
    await new Promise((r) => setTimeout(r, 300));
    const texts = [...document.querySelectorAll('.dm-item')].map((e) => e.textContent);
    sender.close();
    viewer.close();
    return { texts, joins };
  }, { url: `ws://127.0.0.1:${server.port}/`, alice: server.token('alice'), bob: server.token('bob') })) as { texts: string[]; joins: Array<{ replayed: number; resumed: boolean }> };
  t.ok(r.joins[0] && r.joins[0].replayed >= 1 && !r.joins[0].resumed, `a plain join with a replay (${JSON.stringify(r.joins)})`);
  t.ok(r.texts.includes('alice sent 2 x rose'), 'the gift of a moment ago is shown');
  t.notOk(r.texts.includes('old chat'), 'replayed danmaku are not shown as if live');
  t.same(pageErrors(page), []);
  await page.close();
});
