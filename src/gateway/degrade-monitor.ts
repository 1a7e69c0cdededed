// Runs the degradation policy (degrade.ts) on a gateway: once a second it reads the event-loop
// lag, the bytes waiting in send buffers and the process's CPU share over the second, feeds
// them to the policy, and applies its level to the hot rooms (RoomHub.degrade). Each step is
// logged at info and counted; the level and the degraded rooms are gauges.

import type { Logger } from '../log.js';
import type { DegradeSignal } from '../metric-labels.js';
import { DegradePolicy, type DegradeSample, type DegradeThresholds } from './degrade.js';

/** How often the signals are read (ms): the policy counts its streaks in these. */
export const DEGRADE_TICK_MS = 1_000;

export interface DegradeOptions {
  /** DEGRADE: off keeps every room at level 0 (no timer runs) */
  readonly degrade: boolean;
  readonly degradeLagMs: number;
  readonly degradeOutboundBytes: number;
  readonly degradeCpu: number;
  /** DEGRADE_MIN_MEMBERS: local members from which a room is hot */
  readonly degradeMinMembers: number;
}

/** Where the steps and the state go (metrics.ts). */
export interface DegradeObserver {
  degradeStep(direction: 'up' | 'down', signal: DegradeSignal): void;
  degradeState(level: number, rooms: number): void;
}

/** The rooms, as the monitor sees them. */
export interface DegradeTarget {
  /** applies `level` to the rooms with at least `minMembers` local members; returns how many that is */
  degrade(level: number, minMembers: number): number;
}

/** Where the CPU share comes from: the process's clocks, or a test's. */
export interface DegradeClocks {
  /** the process's CPU time so far, user and system (us) */
  cpuUs(): number;
  /** a monotonic wall clock (us) */
  wallUs(): number;
}

export const processClocks: DegradeClocks = {
  cpuUs: () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  },
  wallUs: () => Number(process.hrtime.bigint() / 1000n),
};

export class DegradeMonitor {
  private readonly policy: DegradePolicy;
  private timer: NodeJS.Timeout | null = null;
  private cpuAt: number;
  private wallAt: number;

  constructor(
    private readonly rooms: DegradeTarget,
    /** the lag (EventLoopLag.recentMs) and outbound bytes (the sweep's sum) now */
    private readonly load: () => { lagMs: number; outboundBytes: number },
    private readonly opts: DegradeOptions,
    private readonly observer: DegradeObserver,
    private readonly log: Logger,
    private readonly clocks: DegradeClocks = processClocks,
  ) {
    const thresholds: DegradeThresholds = { lagMs: opts.degradeLagMs, outboundBytes: opts.degradeOutboundBytes, cpu: opts.degradeCpu };
    this.policy = new DegradePolicy(thresholds);
    this.cpuAt = clocks.cpuUs();
    this.wallAt = clocks.wallUs();
  }

  get level(): number {
    return this.policy.level;
  }

  start(): void {
    if (!this.opts.degrade || this.timer) return;
    this.cpuAt = this.clocks.cpuUs();
    this.wallAt = this.clocks.wallUs();
    this.timer = setInterval(() => this.tick(), DEGRADE_TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * One second: sample, step, apply. The gauges are set on every tick, changed or not (a
   * room that became hot, or left, changes the rooms without a step).
   */
  tick(): void {
    const cpuUs = this.clocks.cpuUs();
    const wallUs = this.clocks.wallUs();
    const cpu = wallUs > this.wallAt ? Math.max(0, cpuUs - this.cpuAt) / (wallUs - this.wallAt) : 0;
    this.cpuAt = cpuUs;
    this.wallAt = wallUs;
    const { lagMs, outboundBytes } = this.load();
    const sample: DegradeSample = { lagMs, outboundBytes, cpu };
    const change = this.policy.sample(sample);
    const rooms = this.rooms.degrade(this.policy.level, this.opts.degradeMinMembers);
    this.observer.degradeState(this.policy.level, rooms);
    if (!change) return;
    this.observer.degradeStep(change.direction, change.signal);
    const fields = { level: change.to, from: change.from, signal: change.signal, lagMs: Math.round(lagMs), outboundBytes, cpu: Math.round(sample.cpu * 100) / 100, rooms, minMembers: this.opts.degradeMinMembers };
    this.log.info(fields, change.direction === 'up' ? 'degradation level raised: hot rooms get wider merge windows and lower display caps' : 'degradation level lowered');
  }
}
