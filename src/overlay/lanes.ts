// Lane allocation, pure (no DOM): which horizontal band of the stage a comment may take so
// that it never overlaps another one. Every comment's horizontal motion is linear in time,
// so two comments stay apart for their whole shared time on the stage exactly when they are
// apart at both ends of that time: that one check covers scroll behind scroll (a longer
// comment crosses faster and must not catch the one ahead before it leaves), a scroll comment
// entering before the tail ahead of it has entered, and fixed (top/bottom) comments, which
// hold their lane until they expire.

/** x(t) = x0 - v (t - t0) for the left edge, width w, on the stage for t in [t0, end). */
export interface Motion {
  readonly t0: number;
  readonly end: number;
  readonly x0: number;
  readonly v: number;
  readonly w: number;
}

/** Floating-point slack, in px, when comparing positions. */
const EPS = 1e-6;

export function xAt(m: Motion, t: number): number {
  return m.x0 - m.v * (t - m.t0);
}

/** A scroll comment: enters at the right edge, its tail leaves the left edge after durationMs. */
export function scrollMotion(t0: number, stageWidth: number, width: number, durationMs: number): Motion {
  return { t0, end: t0 + durationMs, x0: stageWidth, v: (stageWidth + width) / durationMs, w: width };
}

/** A top or bottom comment: centred, still, for lifeMs. */
export function fixedMotion(t0: number, stageWidth: number, width: number, lifeMs: number): Motion {
  return { t0, end: t0 + lifeMs, x0: (stageWidth - width) / 2, v: 0, w: width };
}

/** The gap from p's tail to q's head at t (negative: they overlap, or q is left of p). */
function gapAfter(p: Motion, q: Motion, t: number): number {
  return xAt(q, t) - (xAt(p, t) + p.w);
}

/** Whether a and b keep at least `gap` px apart during the time both are on the stage. */
export function apart(a: Motion, b: Motion, gap: number): boolean {
  const from = Math.max(a.t0, b.t0);
  const to = Math.min(a.end, b.end);
  if (from >= to) return true;
  // The order of two comments that never overlap cannot change, and a gap linear in time
  // is smallest at an end of the window.
  if (gapAfter(a, b, from) >= gap - EPS && gapAfter(a, b, to) >= gap - EPS) return true;
  return gapAfter(b, a, from) >= gap - EPS && gapAfter(b, a, to) >= gap - EPS;
}

interface Occupant<T> {
  readonly motion: Motion;
  readonly tag: T;
}

/**
 * The lanes of one stage and who is in them. A comment occupies one lane; after a resize the
 * owner re-registers each comment on screen in every new lane its band overlaps.
 */
export class LaneTable<T> {
  private lanes: Occupant<T>[][] = [];

  constructor(count: number, public gap: number) {
    this.reset(count);
  }

  get count(): number {
    return this.lanes.length;
  }

  /** Empties the table and gives it `count` lanes. */
  reset(count: number): void {
    this.lanes = Array.from({ length: Math.max(0, count) }, () => []);
  }

  /** Forgets occupants that have left the stage by `now`. */
  prune(now: number): void {
    for (let i = 0; i < this.lanes.length; i++) {
      const lane = this.lanes[i]!;
      if (lane.some((o) => o.motion.end <= now)) this.lanes[i] = lane.filter((o) => o.motion.end > now);
    }
  }

  /** The occupants of `lane` that `m` would come too close to. */
  blockers(lane: number, m: Motion): T[] {
    const out: T[] = [];
    for (const o of this.lanes[lane] ?? []) if (!apart(o.motion, m, this.gap)) out.push(o.tag);
    return out;
  }

  fits(lane: number, m: Motion): boolean {
    const occupants = this.lanes[lane];
    if (!occupants) return false;
    for (const o of occupants) if (!apart(o.motion, m, this.gap)) return false;
    return true;
  }

  /** The first lane of `order` where m fits, or -1. */
  find(order: Iterable<number>, m: Motion): number {
    for (const lane of order) if (this.fits(lane, m)) return lane;
    return -1;
  }

  /**
   * For a comment that must be shown: the lane of `order` whose blockers can all be evicted,
   * fewest first, then the one whose newest blocker is oldest (it is about to leave anyway).
   */
  cheapestEviction(order: Iterable<number>, m: Motion, evictable: (tag: T) => boolean, startOf: (tag: T) => number): { lane: number; victims: T[] } | null {
    let best: { lane: number; victims: T[]; newest: number } | null = null;
    for (const lane of order) {
      const victims = this.blockers(lane, m);
      if (!victims.every(evictable)) continue;
      const newest = Math.max(...victims.map(startOf));
      if (!best || victims.length < best.victims.length || (victims.length === best.victims.length && newest < best.newest)) best = { lane, victims, newest };
    }
    return best && { lane: best.lane, victims: best.victims };
  }

  occupy(lane: number, m: Motion, tag: T): void {
    this.lanes[lane]?.push({ motion: m, tag });
  }

  /** Removes `tag` from every lane (a comment taken off the stage early). */
  release(tag: T): void {
    for (let i = 0; i < this.lanes.length; i++) {
      const lane = this.lanes[i]!;
      if (lane.some((o) => o.tag === tag)) this.lanes[i] = lane.filter((o) => o.tag !== tag);
    }
  }

  /** How many comments are in each lane (tests, debugging). */
  sizes(): number[] {
    return this.lanes.map((l) => l.length);
  }
}
