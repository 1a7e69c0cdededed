// DanmakuOverlay: the comments of a live room drawn over a <video> or any container. It owns
// the stage clock (the document timeline's time, the clock the animations run on, minus the
// time spent paused), asks the planner where a comment goes, and has the DOM engine draw it
// with its animation pinned to that clock. Public API: docs/overlay.md.

import { parseColor } from './color.js';
import type { Booked, PlanMode } from './density.js';
import { DomEngine, FADE_IN, setTiming, type Timing } from './dom-engine.js';
import { chooseReplay, displayText, itemToComment, KIND_LIKE, modeOf } from './items.js';
import { LikeBadge } from './likes.js';
import { textWidth } from './measure.js';
import { Planner, type Geometry } from './planner.js';
import { GIFT_ICON, NOTICE_ICON, PILL_EDGE_PX, PILL_PAD_EM, SELF_PAD_EM } from './style.js';
import type { Comment, CommentKind, OverlayItem, OverlayOptions, OverlayStats } from './types.js';
import { WaitingQueue, type WaitingKind } from './waiting.js';

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
/** Gifts and notices waiting for a lane are tried again this often; past this many distinct ones, the rest fold into a "+N gifts" pill. */
const RETRY_MS = 250;
const WAITING_MAX = 50;
/** The font is scaled by the container's height over this (autoScale). */
const REFERENCE_HEIGHT = 720;
const MIN_FONT_PX = 10;

/** A comment on screen. */
interface Shown extends Booked {
  readonly kind: CommentKind;
  readonly text: string;
  /** what it was made from (re-placed after a change of the reduced-motion preference) */
  readonly comment: Comment;
  readonly summary: boolean;
  /** its motion's start on the stage clock; `lead`: ms it is drawn ahead of that (a fade-in skipped while paused) */
  t0: number;
  lead: number;
  el: HTMLDivElement | null;
  anim: Animation | null;
}

const MEDIA_PAUSE = ['pause', 'waiting', 'seeking'] as const;
const MEDIA_PLAY = ['play', 'playing', 'seeked'] as const;
/** A media element's source came or went: whether to follow it is decided again. */
const MEDIA_SOURCE = ['loadstart', 'emptied', 'error', 'loadedmetadata'] as const;

export class DanmakuOverlay {
  private opts: Settings;
  private readonly engine: DomEngine;
  private readonly badge: LikeBadge;
  private readonly planner: Planner<Shown>;
  /** the element whose size is the stage's (the container, or the video given as container) */
  private readonly target: HTMLElement;
  private readonly doc: Document;
  private width = 0;
  private height = 0;
  private fontPx = DEFAULTS.fontSize;
  private pausedAt: number | null = null;
  private pausedTotal = 0;
  private shown = 0;
  private shed = 0;
  private hiddenShed = 0;
  private gifts = 0;
  private readonly waiting = new WaitingQueue(WAITING_MAX);
  private retry: ReturnType<typeof setTimeout> | null = null;
  private readonly observer: ResizeObserver | null;
  private readonly motionQuery: MediaQueryList | null;
  private unbindMedia: (() => void) | null = null;
  private destroyed = false;

  constructor(container: HTMLElement, opts: OverlayOptions = {}) {
    this.opts = { ...DEFAULTS, ...opts };
    const doc = container.ownerDocument;
    this.doc = doc;
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
    doc.addEventListener('visibilitychange', this.onVisibility);
  }

  /**
   * Shows a comment. true: drawn, or (a gift or notice) waiting for a lane, shown as soon as one
   * frees. false: not drawn and never will be: an ordinary danmaku shed (no free lane, the cap,
   * the page hidden), or any comment while the overlay is hidden (hide()) or with no text.
   */
  add(c: Comment): boolean {
    if (this.destroyed) return false;
    const kind: CommentKind = c.kind === 'gift' || c.kind === 'notice' ? c.kind : 'danmaku';
    if (kind === 'gift') this.gifts++;
    if (this.opts.hidden) return false;
    if (!displayText(c)) return false;
    if (kind === 'danmaku') {
      if (this.doc.hidden) {
        // nothing renders in a hidden page: shown later, it would be stale and pile up on return
        this.shed++;
        this.hiddenShed++;
        return false;
      }
      return this.place(c, kind, false) === true;
    }
    if (this.waiting.size > 0 || this.doc.hidden) return this.enqueue(c, kind);
    return this.place(c, kind, false) ?? this.enqueue(c, kind);
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

  /**
   * Replayed room items (a JOIN's catch-up, in order) under the replay policy (chooseReplay,
   * docs/overlay.md): a plain join shows only gifts and notices younger than 10 s; a resume
   * (`resumed`) shows every missed gift, notice and like and the newest 30 danmaku, counting
   * older ones as shed. Returns how many were passed to addItem().
   */
  addReplay(items: readonly OverlayItem[], opts: { resumed: boolean; self?: (item: OverlayItem) => boolean }): number {
    if (this.destroyed) return 0;
    const choice = chooseReplay(items, opts.resumed, Date.now());
    this.shed += choice.shed;
    for (const it of choice.show) this.addItem(it, { self: opts.self?.(it) ?? false });
    return choice.show.length;
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
    const wasReduced = this.reduced;
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
    if (this.reduced !== wasReduced && !this.opts.hidden) this.replaceAll();
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
    this.pausedAt = this.clock();
    for (const s of this.planner.book) if (s.anim) setTiming(s.anim, this.timing(s));
  }

  resume(): void {
    if (this.pausedAt === null) return;
    this.pausedTotal += this.clock() - this.pausedAt;
    this.pausedAt = null;
    for (const s of this.planner.book) if (s.anim) setTiming(s.anim, this.timing(s));
    this.drain();
  }

  get paused(): boolean {
    return this.pausedAt !== null;
  }

  /** Reads the container's size and lays the lanes out again; comments on screen keep moving. Also called by a ResizeObserver. */
  resize(): void {
    if (this.destroyed) return;
    this.measure();
    this.relayout();
    this.drain(); // a stage that had no lanes (zero size) may have some now
  }

  /** Takes every comment off the stage and forgets the gifts and notices waiting (a room switch: they were the old room's). The like counter stays. */
  clear(): void {
    this.clearComments();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.clearComments();
    this.destroyed = true;
    this.observer?.disconnect();
    this.motionQuery?.removeEventListener('change', this.onMotionPreference);
    this.doc.removeEventListener('visibilitychange', this.onVisibility);
    this.bindMedia(undefined);
    this.engine.root.remove();
  }

  get stats(): OverlayStats {
    return { onScreen: this.planner.book.size, shown: this.shown, shed: this.shed, hiddenShed: this.hiddenShed, waiting: this.waiting.size, gifts: this.gifts, likes: this.badge.value };
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

  /**
   * The document timeline's time: the clock every animation runs on. Planning on it and pinning
   * each animation's start to it keeps the planned and the drawn positions equal however late
   * the next frame comes (a busy main thread, a throttled background tab).
   */
  private clock(): number {
    const t = this.doc.timeline?.currentTime;
    return typeof t === 'number' ? t : performance.now();
  }

  /** Milliseconds of unpaused time: the stage clock lanes are planned on, frozen with the animations. */
  private now(): number {
    return (this.pausedAt ?? this.clock()) - this.pausedTotal;
  }

  /** Where a comment's animation belongs on the stage clock now: held while paused, else started at t0 (in timeline time). */
  private timing(s: { t0: number; lead: number }): Timing {
    if (this.pausedAt !== null) return { heldAt: this.now() - s.t0 + s.lead };
    return { startTime: s.t0 + this.pausedTotal - s.lead };
  }

  private get reduced(): boolean {
    return this.opts.reducedMotion === 'auto' ? (this.motionQuery?.matches ?? false) : this.opts.reducedMotion;
  }

  /** true: drawn; false: shed (ordinary danmaku); null: a gift or notice found no lane. `summary`: the "+N gifts" pill. */
  private place(c: Comment, kind: CommentKind, summary: boolean): boolean | null {
    const text = summary ? c.text : displayText(c);
    let mode: PlanMode = kind === 'notice' ? 'top' : kind === 'gift' ? 'scroll' : modeOf(c.mode);
    const fade = this.reduced;
    if (mode === 'scroll' && fade) mode = 'still';
    const kept = kind !== 'danmaku';
    const icon = kind === 'gift' ? GIFT_ICON : kind === 'notice' ? NOTICE_ICON : '';
    const fontPx = this.fontPx;
    const pad = kept ? PILL_PAD_EM : c.self ? SELF_PAD_EM : 0;
    const width = textWidth(icon + text, fontPx) + 2 * Math.ceil(pad * fontPx);
    const life = kind === 'notice' ? NOTICE_MS : undefined;
    const now = this.now();
    if (!kept && !this.planner.book.roomForOrdinary()) this.sweep(now);
    const shown: Shown = { kept, kind, text, comment: c, summary, t0: now, lead: 0, el: null, anim: null };
    const r = this.planner.place(shown, mode, width, now, life);
    if (!r) {
      if (kept) return null;
      this.shed++;
      return false;
    }
    for (const v of r.evicted) {
      this.takeOff(v);
      this.shed++;
    }
    // Added while paused under reduced motion: drawn past its fade-in, so it shows (frozen)
    // now; it leaves that much earlier than planned, which is safe.
    if (fade && r.placement.motion.v === 0 && this.paused) shown.lead = FADE_IN * (r.placement.motion.end - now);
    const color = kept ? null : parseColor(c.color);
    const classes = [kind === 'gift' ? 'dm-gift' : kind === 'notice' ? 'dm-notice' : '', summary ? 'dm-summary' : '', c.self ? 'dm-self' : '', color?.dark ? 'dm-dark' : ''].filter(Boolean).join(' ');
    const lane = this.lineHeight();
    const look = { text, classes, color: color && color.css !== '#ffffff' ? color.css : null, fontPx, height: lane, lineHeight: kept ? lane - 2 * PILL_EDGE_PX : lane };
    const drawn = this.engine.draw(look, r.placement, this.timing(shown), fade, () => this.finished(shown));
    shown.el = drawn.el;
    shown.anim = drawn.anim;
    this.shown++;
    return true;
  }

  /** A gift or notice waits for a lane (every lane holds gifts or notices, or the page is hidden): never dropped, merged while it waits. */
  private enqueue(c: Comment, kind: WaitingKind): boolean {
    this.waiting.push(c, kind);
    this.scheduleRetry();
    return true;
  }

  /** Whether waiting comments can be tried now (a retry timer runs only then: not while paused, hidden or with no lanes). */
  private canDrain(): boolean {
    return !this.paused && !this.destroyed && !this.opts.hidden && !this.doc.hidden && this.planner.laneCount > 0;
  }

  private scheduleRetry(): void {
    if (this.retry || this.waiting.size === 0 || !this.canDrain()) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.drain();
    }, RETRY_MS);
  }

  /** Shows waiting gifts and notices, in order, while lanes take them; retries later for the rest. */
  private drain(): void {
    while (this.waiting.size > 0 && this.canDrain()) {
      const next = this.waiting.peek()!;
      const kind = next.kind === 'summary' ? 'gift' : next.kind;
      if (this.place(next.comment, kind, next.kind === 'summary') === null) break;
      this.waiting.shift();
    }
    this.scheduleRetry();
  }

  /** Takes off comments whose time is over but whose finish event has not come (no frames ran: a hidden page). */
  private sweep(now: number): void {
    for (const s of [...this.planner.book]) {
      const m = this.planner.motionOf(s);
      if (m && m.end <= now) this.takeOff(s);
    }
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
    this.waiting.clear();
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

  /**
   * Follows `media`'s play and pause, but only while it has a source: a <video> with no source
   * yet (networkState EMPTY, or NO_SOURCE: none found or it failed) never plays, and following
   * it would freeze the comments for good. Until a source comes (loadstart) the overlay runs
   * live; when the source goes (emptied) it runs live again.
   */
  private bindMedia(media: HTMLMediaElement | undefined): void {
    this.unbindMedia?.();
    this.unbindMedia = null;
    this.opts.media = media;
    if (!media) return;
    let following = false;
    const hasSource = () => media.networkState !== media.NETWORK_EMPTY && media.networkState !== media.NETWORK_NO_SOURCE;
    const onPause = () => {
      if (following) this.pause();
    };
    const onPlay = () => {
      if (following && !media.paused) this.resume();
    };
    const onSource = () => {
      const was = following;
      following = hasSource();
      if (following) {
        if (media.paused) this.pause();
        else this.resume();
      } else if (was) {
        this.resume();
      }
    };
    for (const e of MEDIA_PAUSE) media.addEventListener(e, onPause);
    for (const e of MEDIA_PLAY) media.addEventListener(e, onPlay);
    for (const e of MEDIA_SOURCE) media.addEventListener(e, onSource);
    this.unbindMedia = () => {
      for (const e of MEDIA_PAUSE) media.removeEventListener(e, onPause);
      for (const e of MEDIA_PLAY) media.removeEventListener(e, onPlay);
      for (const e of MEDIA_SOURCE) media.removeEventListener(e, onSource);
    };
    following = hasSource();
    if (following && media.paused) this.pause();
  }

  /** A change of the reduced-motion preference: what is on screen is placed again in the new style, and waiting gifts wait on. */
  private readonly onMotionPreference = (): void => {
    if (this.opts.reducedMotion !== 'auto' || this.opts.hidden) return;
    this.replaceAll();
  };

  /** Takes every comment off and places it again (oldest first): gifts and notices that find no lane wait, in front of those already waiting. */
  private replaceAll(): void {
    const before = [...this.planner.book];
    for (const s of before) this.takeOff(s);
    this.planner.clear();
    const kept = new WaitingQueue(Number.MAX_SAFE_INTEGER);
    const hidden = this.doc.hidden;
    for (const s of before) {
      if (s.kind === 'danmaku') {
        if (!hidden) this.place(s.comment, 'danmaku', false);
        else {
          this.shed++;
          this.hiddenShed++;
        }
        continue;
      }
      if (!hidden && kept.size === 0 && this.place(s.comment, s.kind, s.summary) !== null) continue;
      kept.push(s.comment, s.kind);
    }
    if (kept.size > 0) {
      // the ones that were on screen go before those that were waiting already
      for (let next = this.waiting.peek(); next; next = this.waiting.peek()) {
        kept.push(next.comment, next.kind === 'summary' ? 'gift' : next.kind);
        this.waiting.shift();
      }
      for (let next = kept.peek(); next; next = kept.peek()) {
        this.waiting.push(next.comment, next.kind === 'summary' ? 'gift' : next.kind);
        kept.shift();
      }
    }
    this.drain();
  }

  /** The page came back into view: comments whose time ran out while nothing rendered go, and waiting gifts are shown. */
  private readonly onVisibility = (): void => {
    if (this.doc.hidden || this.destroyed) return;
    this.sweep(this.now());
    this.drain();
  };
}
