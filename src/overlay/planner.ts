// Where each comment goes, pure (no DOM): the lanes of the current stage geometry, the
// on-screen book and the density setting, put together. The DOM engine asks `place()` and
// draws what it answers; Node tests drive it with a fake clock.

import { ScreenBook, laneOrder, usableLanes, type Booked, type PlanMode } from './density.js';
import { LaneTable, fixedMotion, scrollMotion, type Motion } from './lanes.js';

export interface Geometry {
  /** stage size, px */
  width: number;
  height: number;
  /** lane height, px */
  lineHeight: number;
  /** space above the first lane and below the last, px */
  pad: number;
}

export interface PlannerOptions {
  durationMs: number;
  fixedMs: number;
  maxOnScreen: number;
  density: number;
  /** minimum horizontal gap between two comments of a lane, px */
  gap: number;
}

export interface Placement {
  lane: number;
  /** top of the comment's band, px */
  y: number;
  motion: Motion;
}

interface Entry {
  readonly y: number;
  readonly height: number;
  readonly motion: Motion;
}

export function laneCount(g: Geometry): number {
  return g.lineHeight > 0 ? Math.max(0, Math.floor((g.height - 2 * g.pad) / g.lineHeight)) : 0;
}

export class Planner<T extends Booked> {
  readonly book: ScreenBook<T>;
  private readonly lanes: LaneTable<T>;
  private readonly entries = new Map<T, Entry>();
  private geometry: Geometry;
  private opts: PlannerOptions;

  constructor(geometry: Geometry, opts: PlannerOptions) {
    this.geometry = geometry;
    this.opts = opts;
    this.book = new ScreenBook<T>(opts.maxOnScreen);
    this.lanes = new LaneTable<T>(laneCount(geometry), opts.gap);
  }

  get laneCount(): number {
    return this.lanes.count;
  }

  /** Lanes ordinary danmaku may use now. */
  get usable(): number {
    return usableLanes(this.lanes.count, this.opts.density);
  }

  setOptions(o: Partial<PlannerOptions>): void {
    this.opts = { ...this.opts, ...o };
    this.book.cap = this.opts.maxOnScreen;
    if (o.gap !== undefined) this.setGeometry(this.geometry);
  }

  /**
   * A new stage size or font: the lanes are laid out again and every comment on screen keeps
   * its position and motion, holding each new lane its band overlaps.
   */
  setGeometry(g: Geometry): void {
    this.geometry = g;
    const count = laneCount(g);
    this.lanes.gap = this.opts.gap;
    this.lanes.reset(count);
    for (const [tag, e] of this.entries) {
      const first = Math.max(0, Math.floor((e.y - g.pad) / g.lineHeight));
      const last = Math.min(count - 1, Math.ceil((e.y + e.height - g.pad) / g.lineHeight) - 1);
      for (let lane = first; lane <= last; lane++) this.lanes.occupy(lane, e.motion, tag);
    }
  }

  /**
   * A place for `tag` at `now`, or null. An ordinary danmaku gets null (shed) when the cap is
   * reached or no lane it may use is free. A kept one (gift, notice) may use every lane and
   * takes the room of ordinary danmaku (returned in `evicted`, already forgotten here: the
   * caller takes them off the stage); it gets null only when kept comments fill every lane
   * (the caller retries later). `lifeMs`: how long a top or bottom comment stays.
   */
  place(tag: T, mode: PlanMode, width: number, now: number, lifeMs = this.opts.fixedMs): { placement: Placement; evicted: T[] } | null {
    const { width: stageWidth, lineHeight, pad } = this.geometry;
    this.lanes.prune(now);
    const motion = mode === 'scroll' ? scrollMotion(now, stageWidth, width, this.opts.durationMs) : fixedMotion(now, stageWidth, width, lifeMs);
    let lane: number;
    const evicted: T[] = [];
    if (!tag.kept) {
      if (!this.book.roomForOrdinary()) return null;
      lane = this.lanes.find(laneOrder(mode, this.lanes.count, this.usable), motion);
      if (lane < 0) return null;
    } else {
      const order = laneOrder(mode, this.lanes.count, this.lanes.count);
      lane = this.lanes.find(order, motion);
      if (lane < 0) {
        const cheapest = this.lanes.cheapestEviction(order, motion, (t) => !t.kept, (t) => this.entries.get(t)?.motion.t0 ?? 0);
        if (!cheapest) return null;
        lane = cheapest.lane;
        evicted.push(...cheapest.victims);
        for (const v of cheapest.victims) this.remove(v);
      }
      for (const v of this.book.victimsForKept()) {
        evicted.push(v);
        this.remove(v);
      }
    }
    const y = pad + lane * lineHeight;
    this.lanes.occupy(lane, motion, tag);
    this.book.add(tag);
    this.entries.set(tag, { y, height: lineHeight, motion });
    return { placement: { lane, y, motion }, evicted };
  }

  /** `tag` left the stage (or was taken off). */
  remove(tag: T): void {
    if (!this.entries.delete(tag)) return;
    this.book.delete(tag);
    this.lanes.release(tag);
  }

  /** Forgets every comment. */
  clear(): void {
    this.entries.clear();
    this.book.clear();
    this.lanes.reset(this.lanes.count);
  }

  /** The motion of a comment on screen (tests). */
  motionOf(tag: T): Motion | undefined {
    return this.entries.get(tag)?.motion;
  }
}
