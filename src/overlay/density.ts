// Density and shedding policy, pure (no DOM): how many lanes the user's density setting
// leaves to ordinary danmaku, in what order each mode tries them, and the on-screen book
// that enforces maxOnScreen. Gifts and notices ("kept" comments) are never shed: over the cap
// they push out the oldest ordinary danmaku instead.

import type { OverlayMode } from './types.js';

/** How the planner places a comment: a mode, or `still` (reduced motion: a scroll comment or gift shown in place, on any lane from the top). */
export type PlanMode = OverlayMode | 'still';

/** Lanes ordinary danmaku may use: density 0..1 of them, at least one unless density is 0. */
export function usableLanes(count: number, density: number): number {
  const d = Number.isFinite(density) ? Math.min(1, Math.max(0, density)) : 1;
  if (d === 0 || count <= 0) return 0;
  return Math.max(1, Math.floor(count * d + 1e-9));
}

/** Top comments (and notices) keep to this fraction of the lanes at the top, bottom comments to as many at the bottom. */
export const FIXED_BAND = 1 / 3;

/** How many lanes the top band (and the bottom band) has: a third of them, at least one. */
export function fixedBand(count: number): number {
  return count <= 0 ? 0 : Math.max(1, Math.floor(count * FIXED_BAND + 1e-9));
}

/**
 * The order in which a comment tries lanes: scroll and still from the top down over `usable`
 * lanes; top from the top down and bottom from the bottom up, each within its band (the top or
 * bottom third, never mid-screen) and within `usable`.
 */
export function laneOrder(mode: PlanMode, count: number, usable: number): number[] {
  const n = Math.min(count, usable, mode === 'top' || mode === 'bottom' ? fixedBand(count) : count);
  return Array.from({ length: Math.max(0, n) }, (_, i) => (mode === 'bottom' ? count - 1 - i : i));
}

/** What the book needs to know of a comment. */
export interface Booked {
  /** a gift or notice: never shed */
  readonly kept: boolean;
}

/** The comments on screen, oldest first, under a cap. */
export class ScreenBook<T extends Booked> {
  private readonly items = new Set<T>(); // insertion order = age

  constructor(public cap: number) {}

  get size(): number {
    return this.items.size;
  }

  /** Whether an ordinary danmaku may come on screen now. */
  roomForOrdinary(): boolean {
    return this.items.size < this.cap;
  }

  /**
   * The ordinary danmaku to take off so that one more kept comment stays within the cap,
   * oldest first. Fewer (even none) when the screen holds only kept comments: those are
   * never shed, so the cap gives way.
   */
  victimsForKept(): T[] {
    const excess = this.items.size + 1 - this.cap;
    if (excess <= 0) return [];
    const out: T[] = [];
    for (const it of this.items) {
      if (out.length >= excess) break;
      if (!it.kept) out.push(it);
    }
    return out;
  }

  add(it: T): void {
    this.items.add(it);
  }

  delete(it: T): boolean {
    return this.items.delete(it);
  }

  has(it: T): boolean {
    return this.items.has(it);
  }

  clear(): void {
    this.items.clear();
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this.items.values();
  }
}
