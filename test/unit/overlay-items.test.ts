// The overlay's pure helpers (src/overlay/color.ts, items.ts) and bindOverlay with a fake
// client, in Node: colours, modes, what room items read as, the replay policy, self handling.

import t from 'tap';
import { bindOverlay } from '../../src/overlay/bind.js';
import { luminance, parseColor } from '../../src/overlay/color.js';
import { chooseReplay, displayText, itemToComment, modeOf, REPLAY_DANMAKU_MAX, REPLAY_RECENT_MS } from '../../src/overlay/items.js';
import type { DanmakuOverlay } from '../../src/overlay/index.js';
import type { OverlayItem } from '../../src/overlay/types.js';

t.test('colour - numbers are 0xRRGGBB, strings are checked, anything else is white', async (t) => {
  t.same(parseColor(0xff0000), { css: '#ff0000', dark: false });
  t.same(parseColor(0x000000), { css: '#000000', dark: true }, 'black is dark: it gets a light outline');
  t.same(parseColor(0x00ff00).css, '#00ff00');
  t.same(parseColor(0x0000ff).dark, true, 'pure blue is dark too: a black outline would hide it on dark video');
  t.same(parseColor(0xff0000).dark, false);
  t.same(parseColor(0x101010).dark, true);
  t.same(parseColor(0x123).css, '#000123', 'zero padded');
  t.same(parseColor(undefined).css, '#ffffff');
  t.same(parseColor(-1).css, '#ffffff');
  t.same(parseColor(0x1000000).css, '#ffffff');
  t.same(parseColor(1.5).css, '#ffffff');
  t.same(parseColor('#FF8800').css, '#ff8800');
  t.same(parseColor('#f80').css, '#ff8800', 'short hex');
  t.same(parseColor('#ff880080').css, '#ff8800', 'alpha dropped (the opacity option is global)');
  t.same(parseColor('0x00ff00').css, '#00ff00');
  t.same(parseColor(' rgb(10, 20, 30) ').css, 'rgb(10, 20, 30)');
  t.same(parseColor('hsl(120 50% 50%)').css, 'hsl(120 50% 50%)');
  t.same(parseColor('Red'), { css: 'red', dark: false });
  t.same(parseColor('black').dark, true);
  t.same(parseColor('red; background: url(x)').css, '#ffffff', 'not a colour: white');
  t.same(parseColor('#ggg').css, '#ffffff');
  t.same(parseColor('url(javascript:1)').css, '#ffffff');
  t.equal(luminance(255, 255, 255), 1);
  t.equal(luminance(0, 0, 0), 0);
});

t.test('items - modes, texts, room items as comments', async (t) => {
  t.equal(modeOf(0), 'scroll');
  t.equal(modeOf(1), 'top');
  t.equal(modeOf(2), 'bottom');
  t.equal(modeOf(9), 'scroll');
  t.equal(modeOf('bottom'), 'bottom');
  t.equal(modeOf(undefined), 'scroll');
  t.equal(displayText({ text: '  hi  ' }), 'hi');
  t.equal(displayText({ text: '3 x rose', kind: 'gift', user: 'alice' }), 'alice sent 3 x rose');
  t.equal(displayText({ text: 'Welcome', kind: 'notice', user: 'mod' }), 'Welcome', 'a notice reads as its text');
  t.same(itemToComment({ k: 1, x: 'yo', c: 0xff0000, m: 1, n: 'bob', u: 'b' }), { text: 'yo', mode: 'top', color: 0xff0000, kind: 'danmaku', self: false, user: 'bob' });
  t.same(itemToComment({ k: 3, g: 'rose', a: 3, n: 'alice', u: 'a' }, true), { text: '3 x rose', kind: 'gift', self: true, user: 'alice', gift: 'rose', count: 3 });
  t.equal(displayText(itemToComment({ k: 3, g: 'rose', a: 3, n: 'alice', u: 'a' })!), 'alice sent 3 x rose');
  t.same(itemToComment({ k: 4, x: 'Be nice', n: 'mod', u: 'm' })?.kind, 'notice');
  t.equal(itemToComment({ k: 2, a: 5 }), null, 'likes are a counter');
  t.equal(itemToComment({ k: 99, x: 'future' }), null, 'unknown kinds are ignored');
});

t.test('bindOverlay - live events to the overlay, own comments self, unsubscribe', async (t) => {
  const handlers = new Map<string, (...a: unknown[]) => void>();
  const client = {
    welcome: { uid: 'me' } as { uid: string } | null,
    on(e: string, fn: (...a: unknown[]) => void) {
      handlers.set(e, fn);
      return () => handlers.delete(e);
    },
  };
  const calls: string[] = [];
  const overlay = {
    addItem: (item: OverlayItem, o?: { self?: boolean }) => (calls.push(`${item.k}:${item.x ?? item.g}:${o?.self ? 'self' : ''}`), true),
    addLikes: (n: number) => calls.push(`likes:${n}`),
    addReplay: () => 0,
  } as unknown as DanmakuOverlay;
  const off = bindOverlay(client, overlay);
  t.same([...handlers.keys()].sort(), ['danmaku', 'gift', 'joined', 'like', 'notice']);
  const live = { room: 'r', replay: false };
  handlers.get('danmaku')!({ k: 1, x: 'hi', u: 'other' }, live);
  handlers.get('danmaku')!({ k: 1, x: 'mine', u: 'me' }, live);
  handlers.get('notice')!({ k: 4, x: 'hello all', u: 'mod' }, live);
  handlers.get('like')!({ k: 2, a: 7, u: '' }, live);
  client.welcome = null;
  handlers.get('danmaku')!({ k: 1, x: 'guest', u: 'me' }, live);
  t.same(calls, ['1:hi:', '1:mine:self', '4:hello all:', 'likes:7', '1:guest:']);
  off();
  t.equal(handlers.size, 0, 'unsubscribed from every event');
});

t.test('bindOverlay - replayed items go to addReplay with the JOINED they came in, whichever event comes first', async (t) => {
  const handlers = new Map<string, (...a: unknown[]) => void>();
  const client = {
    welcome: { uid: 'me' },
    on(e: string, fn: (...a: unknown[]) => void) {
      handlers.set(e, fn);
      return () => handlers.delete(e);
    },
  };
  const replays: Array<{ items: string[]; resumed: boolean; self: boolean[] }> = [];
  const overlay = {
    addItem: () => true,
    addLikes: () => undefined,
    addReplay: (items: OverlayItem[], o: { resumed: boolean; self: (it: OverlayItem) => boolean }) => {
      replays.push({ items: items.map((i) => `${i.k}:${i.x ?? i.g ?? i.a}`), resumed: o.resumed, self: items.map(o.self) });
      return items.length;
    },
  } as unknown as DanmakuOverlay;
  bindOverlay(client, overlay);
  const replay = { room: 'r', replay: true };
  const tick = () => new Promise((r) => setTimeout(r, 0));
  // the SDK's order: joined, then the replay, in one task
  handlers.get('joined')!({ room: 'r', resumed: false, reset: false });
  handlers.get('danmaku')!({ k: 1, x: 'old', u: 'me' }, replay);
  handlers.get('gift')!({ k: 3, g: 'rose', u: 'other' }, replay);
  handlers.get('like')!({ k: 2, a: 3 }, replay);
  await tick();
  t.same(replays, [{ items: ['1:old', '3:rose', '2:3'], resumed: false, self: [true, false, false] }], 'a plain join: one hand-over, not resumed');
  // the other order, a resume
  handlers.get('notice')!({ k: 4, x: 'missed', u: 'mod' }, replay);
  handlers.get('joined')!({ room: 'r', resumed: true, reset: false });
  await tick();
  t.same(replays[1], { items: ['4:missed'], resumed: true, self: [false] }, 'a resume, joined after the items');
  // a JOINED with no replay resets the flag: later items belong to a later JOINED
  handlers.get('joined')!({ room: 'r', resumed: true, reset: false });
  await tick();
  handlers.get('gift')!({ k: 3, g: 'cake', u: 'x' }, replay);
  await tick();
  t.same(replays[2], { items: ['3:cake'], resumed: false, self: [false] }, 'items with no JOINED of their own: treated as a plain join');
  handlers.get('joined')!({ room: 'r', resumed: false, reset: true });
  handlers.get('danmaku')!({ k: 1, x: 'after reset' }, replay);
  await tick();
  t.equal(replays[3]?.resumed, true, 'a reset under a joined viewer replays what came since: shown like a resume');
});

t.test('chooseReplay - a plain join shows only recent gifts and notices; a resume shows what was missed, danmaku capped', async (t) => {
  const now = 1_000_000;
  const items: OverlayItem[] = [
    { k: 3, g: 'old-gift', t: now - REPLAY_RECENT_MS - 1 },
    { k: 1, x: 'chat', t: now - 1000 },
    { k: 3, g: 'new-gift', t: now - 2000 },
    { k: 4, x: 'new-notice', t: now - REPLAY_RECENT_MS },
    { k: 2, a: 4, t: now - 100 },
    { k: 3, g: 'no-time' },
  ];
  const plain = chooseReplay(items, false, now);
  t.same(plain.show.map((i) => i.g ?? i.x), ['new-gift', 'new-notice'], 'plain join: gifts and notices of the last 10 s only');
  t.equal(plain.stale, 4);
  t.equal(plain.shed, 0);
  const resumed = chooseReplay(items, true, now);
  t.equal(resumed.show.length, items.length, 'a resume shows every missed gift, notice, like and (few) danmaku');
  const many: OverlayItem[] = [{ k: 3, g: 'first' }];
  for (let i = 0; i < 45; i++) many.push({ k: 1, x: `d${i}` });
  many.push({ k: 4, x: 'last' });
  const r = chooseReplay(many, true, now);
  t.equal(r.shed, 45 - REPLAY_DANMAKU_MAX, 'older danmaku beyond the cap are counted as shed');
  const texts = r.show.map((i) => i.g ?? i.x);
  t.equal(texts[0], 'first', 'gifts always');
  t.equal(texts[texts.length - 1], 'last', 'notices always');
  t.same(texts.slice(1, -1), Array.from({ length: REPLAY_DANMAKU_MAX }, (_, i) => `d${i + 45 - REPLAY_DANMAKU_MAX}`), 'the newest danmaku, in order');
});
