// DanmakuOverlay: the comments of a live room drawn over a <video> or any container. It owns
// the stage clock (which stops while paused, with every animation), asks the planner where a
// comment goes, and has the DOM engine draw it. Public API: docs/overlay.md.

import { parseColor } from './color.js';
import type { Booked } from './density.js';
import { DomEngine } from './dom-engine.js';
import { displayText, itemToComment, KIND_LIKE, modeOf } from './items.js';
import { LikeBadge } from './likes.js';
import { textWidth } from './measure.js';
import { Planner, type Geometry } from './planner.js';
import { GIFT_ICON, NOTICE_ICON, PILL_PAD_EM } from './style.js';
import type { Comment, CommentKind, OverlayItem, OverlayMode, OverlayOptions, OverlayStats } from './types.js';

type Settings = Required<Omit<OverlayOptions, 'media'>> & { media?: HTMLMediaElement };

const DEFAULTS: Settings = {
  fontSize: 24,
  fontScale: 1,
  autoScale: true,
  durationMs: 8000,
  maxOnScreen: 150,
  density: 1,
  opacity: 1,
  reducedMotion: 'auto',
  hidden: false,
};

/** Top and bottom comments stay this long; notices a little longer. */
const FIXED_MS = 4000;
const NOTICE_MS = 6000;
/** Gifts and notices waiting for a lane are tried again this often, and at most this many wait. */
const RETRY_MS = 250;
const PENDING_MAX = 200;
/** The font is scaled by the container's height over this (autoScale). */
const REFERENCE_HEIGHT = 720;
const MIN_FONT_PX = 10;

/** A comment on screen. */
interface Shown extends Booked {
  readonly kind: CommentKind;
  readonly text: string;
  el: HTMLDivElement | null;
  anim: Animation | null;
}

const MEDIA_PAUSE = ['pause', 'waiting', 'seeking'] as const;
const MEDIA_PLAY = ['play', 'playing', 'seeked'] as const;

export class DanmakuOverlay {
  private opts: Settings;
  private readonly engine: DomEngine;
  private readonly badge: LikeBadge;
  private readonly planner: Planner<Shown>;
  /** the element whose size is the stage's (the container, or the video given as container) */
  private readonly target: HTMLElement;
  private width = 0;
  private height = 0;
  private fontPx = DEFAULTS.fontSize;
  private pausedAt: number | null = null;
  private pausedTotal = 0;
  private shown = 0;
  private shed = 0;
  private gifts = 0;
  private pending: Comment[] = [];
  private retry: ReturnType<typeof setTimeout> | null = null;
  private readonly observer: ResizeObserver | null;
  private readonly motionQuery: MediaQueryList | null;
  private unbindMedia: (() => void) | null = null;
  private destroyed = false;

  constructor(container: HTMLElement, opts: OverlayOptions = {}) {
    this.opts = { ...DEFAULTS, ...opts };
    const doc = container.ownerDocument;
    const view = doc.defaultView;
    this.engine = new DomEngine(doc);
    this.badge = new LikeBadge(doc);
    this.engine.root.appendChild(this.badge.el);
    this.target = container;
    // A <video> has no children: the overlay goes beside it, over its box.
    const host = container instanceof HTMLMediaElement ? (container.parentElement ?? doc.body) : container;
    if (container instanceof HTMLMediaElement && !this.opts.media) this.opts.media = container;
    if (view && view.getComputedStyle(host).position === 'static') host.style.position = 'relative';
    host.appendChild(this.engine.root);
    this.motionQuery = view?.matchMedia?.('(prefers-reduced-motion: reduce)') ?? null;
    this.motionQuery?.addEventListener('change', this.onMotionPreference);
    this.measure();
    this.planner = new Planner<Shown>(this.geometry(), this.plannerOptions());
    this.engine.setOpacity(this.opts.opacity);
    this.engine.setHidden(this.opts.hidden);
    this.bindMedia(this.opts.media);
    this.observer = typeof ResizeObserver === 'function' ? new ResizeObserver(() => this.resize()) : null;
    this.observer?.observe(this.target);
  }

  /** Shows a comment; false when an ordinary danmaku is shed (no free lane, cap) or not shown (hidden, empty). Gifts and notices: always true. */
  add(c: Comment): boolean {
    if (this.destroyed) return false;
    const kind: CommentKind = c.kind === 'gift' || c.kind === 'notice' ? c.kind : 'danmaku';
    if (kind === 'gift') this.gifts++;
    if (this.opts.hidden) return kind !== 'danmaku';
    if (!displayText(c)) return false;
    if (kind !== 'danmaku' && this.pending.length > 0) return this.enqueue(c);
    return this.place(c, kind) ?? this.enqueue(c);
  }

  /** A room item from the SDK: likes go to the counter; unknown kinds are ignored (false). */
  addItem(item: OverlayItem, opts: { self?: boolean } = {}): boolean {
    if (item.k === KIND_LIKE) {
      this.addLikes(item.a ?? 1);
      return true;
    }
    const c = itemToComment(item, opts.self ?? false);
    return c ? this.add(c) : false;
  }

  addLikes(n: number): void {
    if (!this.destroyed) this.badge.add(n, !this.reduced);
  }

  /** Sets the like counter back to 0 (another room: its likes are not this one's). */
  resetLikes(): void {
    this.badge.reset();
  }

  setOptions(o: Partial<OverlayOptions>): void {
    const before = this.opts;
    this.opts = { ...this.opts, ...o };
    if ('media' in o && o.media !== before.media) this.bindMedia(o.media);
    if (o.opacity !== undefined) this.engine.setOpacity(this.opts.opacity);
    if (o.hidden !== undefined && o.hidden !== before.hidden) {
      this.opts.hidden = before.hidden;
      if (o.hidden) this.hide();
      else this.show();
    }
    this.planner.setOptions(this.plannerOptions());
    if (o.fontSize !== undefined || o.fontScale !== undefined || o.autoScale !== undefined) this.relayout();
  }

  show(): void {
    this.opts.hidden = false;
    this.engine.setHidden(false);
  }

  /** Hides the comments (the like counter stays) and takes those on screen off; none are drawn until show(). */
  hide(): void {
    this.opts.hidden = true;
    this.engine.setHidden(true);
    this.clearComments();
  }

  toggle(): boolean {
    if (this.opts.hidden) this.show();
    else this.hide();
    return this.opts.hidden;
  }

  get hidden(): boolean {
    return this.opts.hidden;
  }

  pause(): void {
    if (this.pausedAt !== null) return;
    this.pausedAt = performance.now();
    for (const s of this.planner.book) s.anim?.pause();
  }

  resume(): void {
    if (this.pausedAt === null) return;
    this.pausedTotal += performance.now() - this.pausedAt;
    this.pausedAt = null;
    for (const s of this.planner.book) if (s.anim?.playState === 'paused') s.anim.play();
    this.scheduleRetry();
  }

  get paused(): boolean {
    return this.pausedAt !== null;
  }

  /** Reads the container's size and lays the lanes out again; comments on screen keep moving. Also called by a ResizeObserver. */
  resize(): void {
    if (this.destroyed) return;
    this.measure();
    this.relayout();
  }

  /** Takes every comment off the stage (the like counter stays). */
  clear(): void {
    this.clearComments();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.clearComments();
    this.destroyed = true;
    this.observer?.disconnect();
    this.motionQuery?.removeEventListener('change', this.onMotionPreference);
    this.bindMedia(undefined);
    this.engine.root.remove();
  }

  get stats(): OverlayStats {
    return { onScreen: this.planner.book.size, shown: this.shown, shed: this.shed, gifts: this.gifts, likes: this.badge.value };
  }

  /** Texts on screen, oldest first (gifts as "alice sent 3 x rose"); none while hidden. */
  visibleTexts(): string[] {
    if (this.opts.hidden) return [];
    return [...this.planner.book].map((s) => s.text);
  }

  /** The overlay's root element (data-testid="danmaku-overlay"). */
  get element(): HTMLElement {
    return this.engine.root;
  }

  /** Milliseconds of unpaused time: the clock lanes are planned on, frozen with the animations. */
  private now(): number {
    return (this.pausedAt ?? performance.now()) - this.pausedTotal;
  }

  private get reduced(): boolean {
    return this.opts.reducedMotion === 'auto' ? (this.motionQuery?.matches ?? false) : this.opts.reducedMotion;
  }

  /** true: drawn; false: shed (ordinary danmaku); null: a gift or notice found no lane. */
  private place(c: Comment, kind: CommentKind): boolean | null {
    const text = displayText(c);
    let mode: OverlayMode = kind === 'notice' ? 'top' : kind === 'gift' ? 'scroll' : modeOf(c.mode);
    if (mode === 'scroll' && this.reduced) mode = 'top';
    const kept = kind !== 'danmaku';
    const icon = kind === 'gift' ? GIFT_ICON : kind === 'notice' ? NOTICE_ICON : '';
    const fontPx = this.fontPx;
    const width = textWidth(icon + text, fontPx) + (kept ? 2 * Math.ceil(PILL_PAD_EM * fontPx) : 0);
    const shown: Shown = { kept, kind, text, el: null, anim: null };
    const life = kind === 'notice' ? NOTICE_MS : undefined;
    const r = this.planner.place(shown, mode, width, this.now(), life);
    if (!r) {
      if (kept) return null;
      this.shed++;
      return false;
    }
    for (const v of r.evicted) {
      this.takeOff(v);
      this.shed++;
    }
    const color = kept ? null : parseColor(c.color);
    const classes = [kind === 'gift' ? 'dm-gift' : kind === 'notice' ? 'dm-notice' : '', c.self ? 'dm-self' : '', color?.dark ? 'dm-dark' : ''].filter(Boolean).join(' ');
    const look = { text, classes, color: color && color.css !== '#ffffff' ? color.css : null, fontPx, lineHeight: this.lineHeight() };
    const drawn = this.engine.draw(look, r.placement, { fade: this.reduced, paused: this.paused }, () => this.finished(shown));
    shown.el = drawn.el;
    shown.anim = drawn.anim;
    this.shown++;
    return true;
  }

  /** A gift or notice waits for a lane (every lane holds gifts or notices): never dropped, only delayed. */
  private enqueue(c: Comment): boolean {
    if (this.pending.length >= PENDING_MAX) this.pending.shift();
    this.pending.push(c);
    this.scheduleRetry();
    return true;
  }

  private scheduleRetry(): void {
    if (this.retry || this.pending.length === 0 || this.paused || this.destroyed) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      while (this.pending.length > 0 && !this.paused) {
        const c = this.pending[0]!;
        if (this.place(c, c.kind === 'notice' ? 'notice' : 'gift') === null) break;
        this.pending.shift();
      }
      this.scheduleRetry();
    }, RETRY_MS);
  }

  private finished(s: Shown): void {
    this.takeOff(s);
  }

  private takeOff(s: Shown): void {
    this.planner.remove(s);
    if (s.el && s.anim) this.engine.release(s.el, s.anim);
    s.el = null;
    s.anim = null;
  }

  private clearComments(): void {
    for (const s of [...this.planner.book]) this.takeOff(s);
    this.planner.clear();
    this.pending = [];
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
  }

  private measure(): void {
    const t = this.target;
    const rect = t.getBoundingClientRect();
    this.width = rect.width;
    this.height = rect.height;
    if (t instanceof HTMLMediaElement) {
      const s = this.engine.root.style;
      s.left = `${t.offsetLeft}px`;
      s.top = `${t.offsetTop}px`;
      s.width = `${t.offsetWidth}px`;
      s.height = `${t.offsetHeight}px`;
    }
  }

  private relayout(): void {
    this.planner.setGeometry(this.geometry());
    this.planner.setOptions(this.plannerOptions());
  }

  private lineHeight(): number {
    return Math.round(this.fontPx * 1.3);
  }

  /** The stage geometry for the current size and font settings (and the font size it implies). */
  private geometry(): Geometry {
    const scale = this.opts.autoScale && this.height > 0 ? this.height / REFERENCE_HEIGHT : 1;
    this.fontPx = Math.max(MIN_FONT_PX, Math.round(this.opts.fontSize * this.opts.fontScale * scale));
    return { width: this.width, height: this.height, lineHeight: this.lineHeight(), pad: Math.round(this.fontPx * 0.25) };
  }

  private plannerOptions() {
    return { durationMs: this.opts.durationMs, fixedMs: FIXED_MS, maxOnScreen: this.opts.maxOnScreen, density: this.opts.density, gap: Math.max(8, Math.round(this.fontPx * 0.75)) };
  }

  private bindMedia(media: HTMLMediaElement | undefined): void {
    this.unbindMedia?.();
    this.unbindMedia = null;
    this.opts.media = media;
    if (!media) return;
    const onPause = () => this.pause();
    const onPlay = () => {
      if (!media.paused) this.resume();
    };
    for (const e of MEDIA_PAUSE) media.addEventListener(e, onPause);
    for (const e of MEDIA_PLAY) media.addEventListener(e, onPlay);
    this.unbindMedia = () => {
      for (const e of MEDIA_PAUSE) media.removeEventListener(e, onPause);
      for (const e of MEDIA_PLAY) media.removeEventListener(e, onPlay);
    };
    if (media.paused) this.pause();
  }

  private readonly onMotionPreference = (): void => {
    if (this.opts.reducedMotion === 'auto') this.clearComments();
  };
}
