// The overlay's stylesheet, added once per document. Comments are positioned and moved by
// transform only; everything else about them is static per element.

import { FONT_FAMILY, FONT_WEIGHT } from './measure.js';

const STYLE_ID = 'dm-overlay-style';

/** Icons drawn before gifts and notices (CSS ::before, so they are not part of the text); glyphs that common system fonts have. */
export const GIFT_ICON = '\u2605 ';
export const NOTICE_ICON = '\u2691 ';

/** Horizontal padding of gift and notice pills, in em (the overlay adds it to measured widths). */
export const PILL_PAD_EM = 0.6;
/** Horizontal padding of the viewer's own comments, in em, so the outline clears the glyphs (added to widths too). */
export const SELF_PAD_EM = 0.25;
/**
 * Gift and notice pills are this much shorter than their lane at the top and at the bottom (a
 * transparent border the background does not paint), so pills in neighbouring lanes never
 * touch. Every decoration (outline, shadow) is drawn inside the element's box, which is the
 * lane's band: nothing reaches into the next lane.
 */
export const PILL_EDGE_PX = 2;

const OUTLINE_DARK = '1px 0 1px #000, -1px 0 1px #000, 0 1px 1px #000, 0 -1px 1px #000, 0 0 3px rgba(0,0,0,.7)';
const OUTLINE_LIGHT = '1px 0 1px #fff, -1px 0 1px #fff, 0 1px 1px #fff, 0 -1px 1px #fff, 0 0 3px rgba(255,255,255,.7)';

/**
 * Text styles a host page could pass down to the comments (inherited properties), set back to
 * what the canvas measures with (measure.ts): the widths lanes are planned on must be the
 * widths drawn.
 */
const TEXT_RESET = 'font-style:normal;font-variant:normal;font-stretch:normal;font-feature-settings:normal;font-variation-settings:normal;font-kerning:auto;font-optical-sizing:auto;font-size-adjust:none;font-synthesis:weight style;letter-spacing:normal;word-spacing:normal;text-transform:none;text-indent:0;text-align:left;text-rendering:auto;-webkit-text-stroke:0;line-height:normal;white-space:pre;writing-mode:horizontal-tb;direction:ltr;tab-size:8;hyphens:manual';

export const CSS = `
.dm-root{position:absolute;left:0;top:0;width:100%;height:100%;overflow:hidden;pointer-events:none;contain:strict;z-index:1;${TEXT_RESET};font-weight:${FONT_WEIGHT};font-family:${FONT_FAMILY}}
.dm-stage{position:absolute;left:0;top:0;width:100%;height:100%}
.dm-stage[hidden]{display:none}
.dm-item{position:absolute;left:0;top:0;box-sizing:border-box;margin:0;border:0;padding:0;${TEXT_RESET};unicode-bidi:plaintext;font-family:${FONT_FAMILY};font-weight:${FONT_WEIGHT};color:#fff;text-shadow:${OUTLINE_DARK};will-change:transform;user-select:none;transform:translate3d(-9999px,0,0)}
.dm-item.dm-dark{text-shadow:${OUTLINE_LIGHT}}
.dm-item.dm-self{padding:0 ${SELF_PAD_EM}em;border-radius:4px;outline:2px solid rgba(255,255,255,.9);outline-offset:-2px;box-shadow:inset 0 0 0 4px rgba(0,0,0,.3)}
.dm-item.dm-gift,.dm-item.dm-notice{padding:0 ${PILL_PAD_EM}em;border:solid transparent;border-width:${PILL_EDGE_PX}px 0;background-clip:padding-box}
.dm-item.dm-gift{border-radius:999px;color:#3b2500;text-shadow:none;background-image:linear-gradient(180deg,#ffe58a,#f5b301);box-shadow:inset 0 0 0 2px rgba(120,70,0,.55),inset 0 -3px 4px rgba(120,70,0,.25)}
.dm-item.dm-gift.dm-summary{background-image:linear-gradient(180deg,#ffd6e4,#ff8fb1);color:#4a0b22;box-shadow:inset 0 0 0 2px rgba(140,20,60,.5)}
.dm-item.dm-notice{border-radius:.35em;color:#fff;text-shadow:0 1px 1px rgba(0,0,0,.6);background-color:rgba(22,78,160,.9);box-shadow:inset .22em 0 0 #7fd0ff}
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
