// The overlay's stylesheet, added once per document. Comments are positioned and moved by
// transform only; everything else about them is static per element.

import { FONT_FAMILY, FONT_WEIGHT } from './measure.js';

const STYLE_ID = 'dm-overlay-style';

/** Icons drawn before gifts and notices (CSS ::before, so they are not part of the text); glyphs that common system fonts have. */
export const GIFT_ICON = '\u2605 ';
export const NOTICE_ICON = '\u2691 ';

/** Horizontal padding of gift and notice pills, in em (the engine adds it to measured widths). */
export const PILL_PAD_EM = 0.6;

const OUTLINE_DARK = '1px 0 1px #000, -1px 0 1px #000, 0 1px 1px #000, 0 -1px 1px #000, 0 0 3px rgba(0,0,0,.7)';
const OUTLINE_LIGHT = '1px 0 1px #fff, -1px 0 1px #fff, 0 1px 1px #fff, 0 -1px 1px #fff, 0 0 3px rgba(255,255,255,.7)';

const CSS = `
.dm-root{position:absolute;left:0;top:0;width:100%;height:100%;overflow:hidden;pointer-events:none;contain:strict;z-index:1}
.dm-stage{position:absolute;left:0;top:0;width:100%;height:100%}
.dm-stage[hidden]{display:none}
.dm-item{position:absolute;left:0;top:0;box-sizing:border-box;white-space:pre;font-family:${FONT_FAMILY};font-weight:${FONT_WEIGHT};color:#fff;text-shadow:${OUTLINE_DARK};will-change:transform;user-select:none;transform:translate3d(-9999px,0,0)}
.dm-item.dm-dark{text-shadow:${OUTLINE_LIGHT}}
.dm-item.dm-self{outline:2px solid rgba(255,255,255,.85);outline-offset:1px;border-radius:2px;box-shadow:0 0 0 3px rgba(0,0,0,.35)}
.dm-item.dm-gift{padding:0 ${PILL_PAD_EM}em;border-radius:999px;color:#3b2500;text-shadow:none;background:linear-gradient(180deg,#ffe58a,#f5b301);box-shadow:0 0 0 2px rgba(120,70,0,.55),0 2px 6px rgba(0,0,0,.45)}
.dm-item.dm-notice{padding:0 ${PILL_PAD_EM}em;border-radius:.35em;color:#fff;text-shadow:0 1px 1px rgba(0,0,0,.6);background:rgba(22,78,160,.9);box-shadow:inset .22em 0 0 #7fd0ff,0 2px 6px rgba(0,0,0,.45)}
.dm-item.dm-gift::before{content:"\\2605\\00a0";color:#b3261e}
.dm-item.dm-notice::before{content:"\\2691\\00a0";color:#ffd54a}
.dm-likes{position:absolute;bottom:.6em;right:.6em;padding:.15em .6em;border-radius:999px;font:700 15px/1.3 ${FONT_FAMILY};color:#fff;background:rgba(214,40,80,.85);box-shadow:0 1px 4px rgba(0,0,0,.4);font-variant-numeric:tabular-nums;will-change:transform}
.dm-likes::before{content:"\\2665\\00a0"}
`;

/** Adds the stylesheet to `doc` unless it is there. */
export function ensureStyle(doc: Document): void {
  if (doc.getElementById(STYLE_ID)) return;
  const el = doc.createElement('style');
  el.id = STYLE_ID;
  el.textContent = CSS;
  (doc.head ?? doc.documentElement).appendChild(el);
}
