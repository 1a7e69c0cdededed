// The overlay's pure helpers (src/overlay/color.ts, items.ts) and bindOverlay with a fake
// client, in Node: colours, modes, what room items read as, replay and self handling.

import t from 'tap';
import { bindOverlay } from '../../src/overlay/bind.js';
import { luminance, parseColor } from '../../src/overlay/color.js';
import { displayText, itemToComment, modeOf } from '../../src/overlay/items.js';
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
  t.same(itemToComment({ k: 3, g: 'rose', a: 3, n: 'alice', u: 'a' }, true), { text: '3 x rose', kind: 'gift', self: true, user: 'alice' });
  t.equal(displayText(itemToComment({ k: 3, g: 'rose', a: 3, n: 'alice', u: 'a' })!), 'alice sent 3 x rose');
  t.same(itemToComment({ k: 4, x: 'Be nice', n: 'mod', u: 'm' })?.kind, 'notice');
  t.equal(itemToComment({ k: 2, a: 5 }), null, 'likes are a counter');
  t.equal(itemToComment({ k: 99, x: 'future' }), null, 'unknown kinds are ignored');
});

t.test('bindOverlay - events to the overlay: replayed danmaku skipped, replayed gifts shown, own comments self, unsubscribe', async (t) => {
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
  } as unknown as DanmakuOverlay;
  const off = bindOverlay(client, overlay);
  t.same([...handlers.keys()].sort(), ['danmaku', 'gift', 'like', 'notice']);
  const live = { room: 'r', replay: false };
  const replay = { room: 'r', replay: true };
  handlers.get('danmaku')!({ k: 1, x: 'hi', u: 'other' }, live);
  handlers.get('danmaku')!({ k: 1, x: 'mine', u: 'me' }, live);
  handlers.get('danmaku')!({ k: 1, x: 'old', u: 'other' }, replay);
  handlers.get('gift')!({ k: 3, g: 'rose', u: 'other' }, replay);
  handlers.get('notice')!({ k: 4, x: 'hello all', u: 'mod' }, live);
  handlers.get('like')!({ k: 2, a: 7, u: '' }, live);
  client.welcome = null;
  handlers.get('danmaku')!({ k: 1, x: 'guest', u: 'me' }, live);
  t.same(calls, ['1:hi:', '1:mine:self', '3:rose:', '4:hello all:', 'likes:7', '1:guest:']);
  off();
  t.equal(handlers.size, 0, 'unsubscribed from every event');
});
