// The DOM engine: one absolutely positioned element per comment, recycled from a pool, moved
// by a Web Animations API animation of `transform` (scroll) or `opacity` (top, bottom, reduced
// motion) only, so the compositor runs it: no script and no layout per frame. Where a comment
// goes is decided elsewhere (planner.ts); this draws it there.

import type { Placement } from './planner.js';
import { ensureStyle } from './style.js';

/** How one comment looks. */
export interface Look {
  text: string;
  /** extra classes after dm-item: dm-gift, dm-notice, dm-self, dm-dark, dm-summary */
  classes: string;
  color: string | null;
  fontPx: number;
  /** the element's height: its lane's, px */
  height: number;
  /** the text's line height, px (a pill's is less than its lane: see PILL_EDGE_PX) */
  lineHeight: number;
}

/** When a comment's motion starts, on the document timeline's clock (the clock the overlay plans on). */
export type Timing =
  /** running: the animation's startTime, pinned, so a late first frame draws it where it was planned */
  | { startTime: number }
  /** paused: held this far into its motion */
  | { heldAt: number };

const POOL_MAX = 256;

export class DomEngine {
  readonly root: HTMLDivElement;
  readonly stage: HTMLDivElement;
  private readonly pool: HTMLDivElement[] = [];

  constructor(private readonly doc: Document) {
    ensureStyle(doc);
    this.root = doc.createElement('div');
    this.root.className = 'dm-root';
    this.root.dataset.testid = 'danmaku-overlay';
    this.stage = doc.createElement('div');
    this.stage.className = 'dm-stage';
    this.stage.setAttribute('aria-hidden', 'true');
    this.root.appendChild(this.stage);
  }

  /**
   * Draws a comment at `p` and starts its motion at `timing`. `fade`: fade in as well as out
   * (reduced motion). `done` runs when the motion ends, not when it is cancelled.
   */
  draw(look: Look, p: Placement, timing: Timing, fade: boolean, done: () => void): { el: HTMLDivElement; anim: Animation } {
    const el = this.pool.pop() ?? this.doc.createElement('div');
    el.className = look.classes ? `dm-item ${look.classes}` : 'dm-item';
    el.textContent = look.text;
    const s = el.style;
    s.color = look.color ?? '';
    s.fontSize = `${look.fontPx}px`;
    s.lineHeight = `${look.lineHeight}px`;
    s.height = `${look.height}px`;
    const m = p.motion;
    const y = `${p.y}px`;
    let anim: Animation;
    if (m.v > 0) {
      s.transform = `translate3d(${m.x0}px,${y},0)`;
      s.opacity = '';
      anim = el.animate([{ transform: `translate3d(${m.x0}px,${y},0)` }, { transform: `translate3d(${m.x0 - m.v * (m.end - m.t0)}px,${y},0)` }], { duration: m.end - m.t0, easing: 'linear' });
    } else {
      s.transform = `translate3d(${m.x0}px,${y},0)`;
      s.opacity = '0';
      const frames = fade
        ? [{ opacity: 0 }, { opacity: 1, offset: FADE_IN }, { opacity: 1, offset: 0.85 }, { opacity: 0 }]
        : [{ opacity: 1 }, { opacity: 1, offset: 0.9 }, { opacity: 0 }];
      anim = el.animate(frames, { duration: m.end - m.t0, easing: 'linear' });
    }
    setTiming(anim, timing);
    anim.onfinish = done;
    this.stage.appendChild(el);
    return { el, anim };
  }

  /** Takes a comment off the stage and keeps its element for the next one. */
  release(el: HTMLDivElement, anim: Animation): void {
    anim.onfinish = null;
    anim.cancel();
    el.remove();
    if (this.pool.length < POOL_MAX) this.pool.push(el);
  }

  setHidden(hidden: boolean): void {
    this.stage.hidden = hidden;
  }

  setOpacity(opacity: number): void {
    this.stage.style.opacity = opacity >= 1 ? '' : String(Math.max(0, opacity));
  }
}

/** Under reduced motion a comment fades in over this fraction of its life. */
export const FADE_IN = 0.08;

/**
 * Pins an animation to `timing`. Setting startTime (or, paused, currentTime) completes any
 * pending play or pause at once, so the position no longer depends on when the next frame comes.
 */
export function setTiming(anim: Animation, timing: Timing): void {
  if ('heldAt' in timing) {
    anim.pause();
    anim.currentTime = timing.heldAt;
  } else {
    anim.startTime = timing.startTime;
  }
}
