// The overlay's public types (docs/overlay.md). Kept apart from the DOM code so the pure
// modules (lanes, density, colours) and Node tests can import them.

export type OverlayMode = 'scroll' | 'top' | 'bottom';
export type CommentKind = 'danmaku' | 'gift' | 'notice';

export interface Comment {
  text: string;
  /** default scroll; 0 | 1 | 2 as in a room item's `m` */
  mode?: OverlayMode | 0 | 1 | 2;
  /** 0xRRGGBB or a CSS colour; default white */
  color?: number | string;
  /** gifts and notices: drawn distinctly, never shed */
  kind?: CommentKind;
  /** the viewer's own comment: outlined */
  self?: boolean;
  /** the sender's display name (gifts: "alice sent 3 x rose") */
  user?: string;
  /** gifts: the gift's id and how many; gifts waiting for a lane with the same user and id are merged into one pill (counts summed) */
  gift?: string;
  count?: number;
}

export interface OverlayOptions {
  /** pause and resume with it (play, pause, waiting, seeking, seeked, playing events) */
  media?: HTMLMediaElement;
  /** px at fontScale 1 on a 720 px tall container (default 24) */
  fontSize?: number;
  /** user setting (default 1) */
  fontScale?: number;
  /** scale the font by container height / 720 (default true) */
  autoScale?: boolean;
  /** time to cross the stage in scroll mode (default 8000); top/bottom stay 4000 */
  durationMs?: number;
  /** hard cap of comments on screen (default 150); a gift over it replaces the oldest ordinary one */
  maxOnScreen?: number;
  /** 0..1 user setting: the fraction of lanes ordinary danmaku may use (default 1) */
  density?: number;
  /** default 1 */
  opacity?: number;
  /** 'auto' (default) follows prefers-reduced-motion: no scrolling, comments fade in place */
  reducedMotion?: boolean | 'auto';
  /** default false */
  hidden?: boolean;
}

export interface OverlayStats {
  /** comments on screen now (gifts and notices included) */
  onScreen: number;
  /** comments shown since construction */
  shown: number;
  /** ordinary danmaku not shown: refused (no lane, cap, page hidden), removed to make room for a gift, or replayed beyond the catch-up cap */
  shed: number;
  /** of `shed`: ordinary danmaku that arrived while the page was hidden (document.hidden) */
  hiddenShed: number;
  /** gifts and notices waiting for a lane now (merged ones count once; the "+N gifts" summary counts once) */
  waiting: number;
  /** gifts received */
  gifts: number;
  /** the like counter */
  likes: number;
}

/** A room item as the SDK decodes it (docs/protocol.md, "Room items"); only the fields the overlay reads. */
export interface OverlayItem {
  k: number;
  x?: string;
  c?: number;
  m?: number;
  g?: string;
  a?: number;
  n?: string;
  u?: string;
  /** server time, ms since the epoch (the replay policy reads it) */
  t?: number;
}
