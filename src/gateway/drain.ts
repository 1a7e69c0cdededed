// Draining a gateway without a reconnect storm (docs/cluster.md, "Draining a gateway"). A full
// drain (SIGTERM, or the admin API with share 1) first turns the gateway not ready while it
// still serves and admits (DRAIN_NOT_READY_MS: load balancers deregister it meanwhile), then
// refuses new upgrades and moves its clients over DRAIN_WINDOW_MS: on a fixed tick the same
// number each time, so that they leave at a steady rate, each told GOAWAY with a reconnect
// delay within the tick and closed with 1012. A partial drain (share < 1, rebalancing) moves
// that share of the connections the same way and stays ready and admitting throughout.
// The gateway does the moving (move()); this file decides when, and how many.

/** 0 serving, 1 not ready (still serving), 2 moving clients, 3 drained (refusing, idle): danmaku_drain_state */
export const DrainPhase = { Serving: 0, NotReady: 1, Moving: 2, Drained: 3 } as const;
export type DrainPhase = (typeof DrainPhase)[keyof typeof DrainPhase];
export const PHASE_NAMES = ['serving', 'not_ready', 'moving', 'drained'] as const;

/** Clients are moved on this tick; a GOAWAY's reconnectMs is drawn from [0, TICK_MS). */
export const DRAIN_TICK_MS = 25;

export interface DrainRequest {
  /** share of the current connections to move: 1 (a full drain) or less (rebalancing) */
  readonly share: number;
  readonly windowMs: number;
  /** ignored (0) for a share below 1: the gateway stays ready */
  readonly notReadyMs: number;
  /** who asked: `signal` (the process exits after it) or `admin` */
  readonly by: 'signal' | 'admin';
}

/** What a drain will do, as the admin API answers it. */
export interface DrainPlan {
  readonly share: number;
  /** connections when it started, and how many of them it moves (all, for a full drain) */
  readonly connections: number;
  readonly moving: number;
  readonly notReadyMs: number;
  readonly windowMs: number;
  readonly by: DrainRequest['by'];
}

/** What the drain needs of the gateway. */
export interface DrainHost<C> {
  /** the open connections now */
  connections(): C[];
  /** whether `c` is still open (it may have left by itself since the plan) */
  isOpen(c: C): boolean;
  /** upgrades refused with 503 `draining` (true) or admitted again (false) */
  refuse(on: boolean): void;
  /** sends the rooms' pending batches now (likes a degraded room holds too; the rooms keep their degradation level) */
  flush(): void;
  /** GOAWAY with this reconnect delay, then close 1012 */
  move(c: C, reconnectMs: number): void;
  /** the phase changed (metrics, logs, the registry's announcement) */
  changed(phase: DrainPhase, plan: DrainPlan): void;
}

/**
 * How many of `n` connections are moved by the end of tick `i` (1-based) of `ticks`: the same
 * number each tick, give or take one, starting at the first tick (a lone client is not kept to
 * the window's end).
 */
export function movedBy(n: number, ticks: number, i: number): number {
  if (i >= ticks) return n;
  return Math.ceil((n * i) / ticks);
}

/** Ticks of a window: at least one (a window of 0 moves everyone at once). */
export function ticksOf(windowMs: number): number {
  return Math.max(1, Math.ceil(windowMs / DRAIN_TICK_MS));
}

/** `k` of `items` picked at random (a partial Fisher-Yates shuffle). */
export function pick<T>(items: T[], k: number, random: () => number = Math.random): T[] {
  const a = [...items];
  const n = Math.min(k, a.length);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(random() * (a.length - i));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a.slice(0, n);
}

export class Drain<C> {
  private _phase: DrainPhase = DrainPhase.Serving;
  private _plan: DrainPlan | null = null;
  private timer: NodeJS.Timeout | null = null;
  private targets: C[] = [];
  private moved = 0;
  private movingSince = 0;
  private finished: (() => void) | null = null;
  private done: Promise<void> = Promise.resolve();

  constructor(
    private readonly host: DrainHost<C>,
    private readonly random: () => number = Math.random,
  ) {}

  get phase(): DrainPhase {
    return this._phase;
  }

  get plan(): DrainPlan | null {
    return this._plan;
  }

  /** A full drain under way or done: not ready (readiness `draining`), refusing from the moving phase on. */
  get full(): boolean {
    return this._phase !== DrainPhase.Serving && this._plan !== null && this._plan.share >= 1;
  }

  /** Whether a drain is moving clients or waiting to (a drained gateway is not running: it waits for undrain). */
  get running(): boolean {
    return this._phase === DrainPhase.NotReady || this._phase === DrainPhase.Moving;
  }

  /**
   * Starts a drain; resolves once its clients are moved. A signal's drain replaces any drain of
   * the admin API (keeping the not-ready time already served); the caller refuses an admin
   * drain while one runs (409).
   */
  start(req: DrainRequest): { plan: DrainPlan; done: Promise<void> } {
    const wasNotReady = this.full;
    this.cancel();
    const connections = this.host.connections();
    const full = req.share >= 1;
    // Nothing to deregister from when nobody is here, nor when it was not ready already.
    const notReadyMs = !full || connections.length === 0 || wasNotReady ? 0 : req.notReadyMs;
    const moving = full ? connections.length : Math.round(connections.length * req.share);
    // Returned as built: a rebalance that finishes at once (an empty gateway, a window of 0)
    // has cleared _plan by the time start() returns.
    const plan: DrainPlan = { share: req.share, connections: connections.length, moving, notReadyMs, windowMs: req.windowMs, by: req.by };
    this._plan = plan;
    this.done = new Promise((resolve) => (this.finished = resolve));
    const done = this.done;
    if (notReadyMs > 0) {
      this.enter(DrainPhase.NotReady);
      this.timer = setTimeout(() => this.startMoving(), notReadyMs);
    } else this.startMoving();
    return { plan, done };
  }

  /** A second signal: whatever remains of the windows is skipped, everyone left is moved now. */
  hurry(): void {
    if (this._phase === DrainPhase.NotReady) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.startMoving(true);
    } else if (this._phase === DrainPhase.Moving) this.tick(true);
  }

  /** Ends a drain: moving stops, upgrades are admitted again, the gateway is ready. */
  undrain(): void {
    this.cancel();
    this.host.refuse(false);
    const plan = this._plan;
    this._plan = null;
    if (this._phase !== DrainPhase.Serving && plan) this.enter(DrainPhase.Serving, plan);
  }

  /** Moving progress, for the admin API's GET. */
  progress(): { moved: number; left: number } {
    return { moved: this.moved, left: this.targets.filter((c) => this.host.isOpen(c)).length };
  }

  /** Stops its timers, phase unchanged (the gateway is shutting down). */
  stop(): void {
    this.cancel();
  }

  private cancel(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      clearInterval(this.timer);
    }
    this.timer = null;
    this.targets = [];
    this.finished?.();
    this.finished = null;
  }

  private startMoving(now = false): void {
    const plan = this._plan!;
    const full = plan.share >= 1;
    if (full) this.host.refuse(true);
    this.host.flush();
    const open = this.host.connections();
    // Rebalancing picks at random among the connections of its start; a full drain takes everyone.
    this.targets = full ? open : pick(open, plan.moving, this.random);
    this.moved = 0;
    this.movingSince = Date.now();
    this.enter(DrainPhase.Moving);
    if (now || plan.windowMs === 0) return this.tick(true);
    this.tick(false);
    if (this._phase === DrainPhase.Moving) this.timer = setInterval(() => this.tick(false), DRAIN_TICK_MS);
  }

  /**
   * Moves the targets due by now. Due is computed from the time since moving began, not by
   * counting timer calls: a stalled event loop catches up rather than stretching the window.
   */
  private tick(all: boolean): void {
    const plan = this._plan!;
    const ticks = ticksOf(plan.windowMs);
    const elapsed = Math.floor((Date.now() - this.movingSince) / DRAIN_TICK_MS) + 1;
    const due = all ? this.targets.length : movedBy(this.targets.length, ticks, elapsed);
    for (; this.moved < due; this.moved++) {
      const c = this.targets[this.moved]!;
      if (this.host.isOpen(c)) this.host.move(c, Math.floor(this.random() * DRAIN_TICK_MS));
    }
    if (this.moved < this.targets.length) return;
    if (plan.share >= 1) {
      // Upgrades that were admitted before the refusals began and opened since.
      for (const c of this.host.connections()) this.host.move(c, Math.floor(this.random() * DRAIN_TICK_MS));
    }
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.targets = [];
    this.enter(plan.share >= 1 ? DrainPhase.Drained : DrainPhase.Serving);
    if (plan.share < 1) this._plan = null;
    this.finished?.();
    this.finished = null;
  }

  private enter(phase: DrainPhase, plan = this._plan!): void {
    this._phase = phase;
    this.host.changed(phase, plan);
  }
}
