// Adaptive degradation: the pure policy. Once a second the gateway hands it three load
// signals (event-loop lag, bytes waiting in send buffers, the process's CPU share); pressure
// that lasts raises the level one step at a time, and a calm that lasts lowers it the same
// way. What a level does to a hot room is roomSettings(): wider merge windows and a lower
// display cap, so that one busy room costs fewer frames per viewer instead of delaying
// every room of the gateway. Gifts and notices are never shed at any level (merger.ts).
// No timers or clocks here: degrade-monitor.ts samples and applies.

import type { DegradeSignal } from '../metric-labels.js';

/** The highest level. */
export const MAX_LEVEL = 3;

/** Seconds running with a signal over its threshold before the level goes up one step. */
export const RAISE_AFTER_S = 2;

/** Seconds running with every signal under LOWER_BELOW x its threshold before it goes down one. */
export const LOWER_AFTER_S = 5;

/** The calm a step down needs, as a share of each threshold (the hysteresis band). */
export const LOWER_BELOW = 0.7;

/** The longest merge window a level widens to (ms); a configured window above it is kept. */
export const MAX_WINDOW_MS = 1_000;

/** How long a degraded room sums likes before it sends the total (ms). */
export const LIKE_SUM_MS = 1_000;

/** One second's readings. */
export interface DegradeSample {
  /** the recent worst event-loop lag (ms): EventLoopLag.recentMs() */
  readonly lagMs: number;
  /** bytes waiting in all client send buffers (the sweep's sum) */
  readonly outboundBytes: number;
  /** the process's CPU time over the last second / wall time (1.0 = one core busy) */
  readonly cpu: number;
}

/** DEGRADE_LAG_MS, DEGRADE_OUTBOUND_BYTES, DEGRADE_CPU; 0 leaves a signal out. */
export type DegradeThresholds = DegradeSample;

export interface LevelChange {
  readonly from: number;
  readonly to: number;
  readonly direction: 'up' | 'down';
  /** up: the signal furthest over its threshold this second; down: 'none' (every signal was calm) */
  readonly signal: DegradeSignal;
}

const SIGNALS: readonly (readonly [Exclude<DegradeSignal, 'none'>, keyof DegradeSample])[] = [
  ['lag', 'lagMs'],
  ['outbound', 'outboundBytes'],
  ['cpu', 'cpu'],
];

/**
 * The level state machine. Any signal over its threshold in RAISE_AFTER_S consecutive
 * samples raises the level by one (the streak then starts again: each step gets time to
 * show its effect); every signal under LOWER_BELOW x its threshold in LOWER_AFTER_S
 * consecutive samples lowers it by one. A sample in between breaks both streaks.
 */
export class DegradePolicy {
  private current = 0;
  private over = 0;
  private calm = 0;

  constructor(private readonly thresholds: DegradeThresholds) {}

  get level(): number {
    return this.current;
  }

  /** Takes one second's sample; returns the step it caused, or null. */
  sample(s: DegradeSample): LevelChange | null {
    let worst: Exclude<DegradeSignal, 'none'> | null = null;
    let worstRatio = 1;
    let calm = true;
    for (const [signal, key] of SIGNALS) {
      const limit = this.thresholds[key];
      if (limit <= 0) continue; // left out
      const ratio = s[key] / limit;
      if (ratio > worstRatio) {
        worstRatio = ratio;
        worst = signal;
      }
      if (ratio >= LOWER_BELOW) calm = false;
    }
    this.over = worst !== null ? this.over + 1 : 0;
    this.calm = calm ? this.calm + 1 : 0;
    if (worst !== null && this.over >= RAISE_AFTER_S && this.current < MAX_LEVEL) {
      this.over = 0;
      return this.step(this.current + 1, 'up', worst);
    }
    if (calm && this.calm >= LOWER_AFTER_S && this.current > 0) {
      this.calm = 0;
      return this.step(this.current - 1, 'down', 'none');
    }
    return null;
  }

  private step(to: number, direction: 'up' | 'down', signal: DegradeSignal): LevelChange {
    const from = this.current;
    this.current = to;
    return { from, to, direction, signal };
  }
}

/** The configured values that a level scales. */
export interface RoomBase {
  readonly mergeWindowMs: number;
  readonly mergeMaxMessages: number;
  readonly roomDisplayCap: number;
}

/** What a room runs with at a level. */
export interface RoomSettings {
  readonly level: number;
  readonly mergeWindowMs: number;
  /**
   * scales with the window: a hot room fills MERGE_MAX_MESSAGES early, and a wider window that
   * a full buffer cuts short would not send fewer frames
   */
  readonly mergeMaxMessages: number;
  readonly displayCap: number;
  /** likes are summed over LIKE_SUM_MS instead of per batch, and shed-first kinds are shed */
  readonly sumLikes: boolean;
  /** ONLINE counts go out at every other ONLINE_INTERVAL_MS */
  readonly onlineEvery: number;
}

/**
 * The steps, cumulative. Level 1: merge window x2, likes summed over a second, online counts
 * at twice the interval, shed-first kinds (join/leave notices) shed. Level 2: window x4,
 * display cap / 2. Level 3: window x8 (at most MAX_WINDOW_MS), display cap / 4. Level 0 is
 * the configuration.
 */
export function roomSettings(base: RoomBase, level: number): RoomSettings {
  if (level <= 0) return { level: 0, mergeWindowMs: base.mergeWindowMs, mergeMaxMessages: base.mergeMaxMessages, displayCap: base.roomDisplayCap, sumLikes: false, onlineEvery: 1 };
  const factor = 2 ** level;
  return {
    level,
    mergeWindowMs: Math.max(base.mergeWindowMs, Math.min(base.mergeWindowMs * factor, MAX_WINDOW_MS)),
    mergeMaxMessages: base.mergeMaxMessages * factor,
    displayCap: level >= 2 ? Math.max(1, Math.floor(base.roomDisplayCap / (level === 2 ? 2 : 4))) : base.roomDisplayCap,
    sumLikes: true,
    onlineEvery: 2,
  };
}
