// Keeps this gateway's entries in the user registry true: a user's first connection here
// registers them, the last one's close removes them, and a heartbeat keeps the entries alive.
// Writes are batched (one call per FLUSH_MS) so that a flash crowd costs few round trips.
// A failed write, or a heartbeat that finds the entries lapsed (Redis restarted, or this
// gateway was cut off for longer than the ttl), schedules a full rewrite: the local map of
// connections (UserCounts, the gateway's LocalUsers) is the truth, the registry a copy that
// converges to it. The agent keeps no second map of its own: only the users changed since its
// last write. With every heartbeat it also announces the gateway's load (GET /entry reads the
// announcements), and announce() does so at once when the load changes in a way that matters
// (a drain starts).

import { FailureLog } from '../failure-log.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { GatewayLoad, Registry } from '../registry/index.js';

const FLUSH_MS = 20;

/** How many connections each user has on this gateway: read, never kept, by the agent. */
export interface UserCounts {
  count(uid: string): number;
  /** every user with at least one connection, and how many (a copy) */
  all(): ReadonlyMap<string, number>;
  /** users with at least one connection */
  readonly size: number;
}

export interface RegistryAgentOptions {
  readonly gatewayId: string;
  readonly heartbeatMs: number;
  readonly ttlMs: number;
}

export class RegistryAgent {
  /** users whose count changed since the last write */
  private changed = new Set<string>();
  private resync = true;
  private failing = false;
  private writing: Promise<void> | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private beatTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private announcing: Promise<void> | null = null;
  /** announce() was called while an announcement was in flight: one more follows it */
  private announceAgain = false;
  private readonly announceFailures: FailureLog;

  constructor(
    private readonly registry: Registry,
    private readonly users: UserCounts,
    private readonly opts: RegistryAgentOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    /** the gateway's load now; null while there is nothing to announce (not listening yet) */
    private readonly load: () => GatewayLoad | null = () => null,
  ) {
    this.announceFailures = new FailureLog(log, 'load announcements');
  }

  /** Registers the gateway (replacing what a previous life under the same id left) and starts the heartbeat. */
  async start(): Promise<void> {
    await this.flush();
    this.beatTimer = setInterval(() => void this.beat(), this.opts.heartbeatMs);
  }

  /** A user's connections here changed (one opened or closed). */
  userChanged(uid: string): void {
    if (this.stopped) return;
    this.changed.add(uid);
    this.flushTimer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /**
   * The Redis connection is back after a loss: rewrite every entry. Writes acknowledged just
   * before the loss may not be there any more (a failover to a replica that had not received
   * them, docs/cluster.md "Redis high availability: Sentinel"; a restart from an older AOF).
   */
  storeReconnected(): void {
    if (this.stopped) return;
    this.resync = true;
    void this.flush();
  }

  /** Writes what changed (or everything, after a failure); one write at a time, in order. */
  flush(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.stopped) return Promise.resolve(); // stop() removes the entries; nothing may re-add them
    this.writing ??= this.write().finally(() => {
      this.writing = null;
      if (this.changed.size > 0 && !this.stopped) this.flushTimer ??= setTimeout(() => void this.flush(), FLUSH_MS);
    });
    return this.writing;
  }

  private async write(): Promise<void> {
    const { gatewayId, ttlMs } = this.opts;
    const changed = this.changed;
    this.changed = new Set();
    try {
      let ok = false;
      if (!this.resync) {
        ok = await this.registry.update(gatewayId, new Map([...changed].map((u) => [u, this.users.count(u)])), ttlMs);
      }
      if (!ok) {
        await this.registry.replace(gatewayId, this.users.all(), ttlMs);
        this.metrics.registryResynced();
      }
      this.resync = false;
      this.metrics.registryWritten(this.users.size);
      if (this.failing) this.log.info({ users: this.users.size }, 'registry writes recovered; entries rewritten');
      this.failing = false;
    } catch (err) {
      for (const u of changed) this.changed.add(u);
      this.resync = true;
      if (!this.failing) this.log.warn({ err }, 'registry write failed; will rewrite all entries when it recovers');
      this.failing = true;
    }
  }

  private beating: Promise<void> | null = null;

  private beat(): Promise<void> {
    void this.announce();
    this.beating ??= this.beatOnce().finally(() => (this.beating = null));
    return this.beating;
  }

  /**
   * Announces the gateway's load now (also done on every heartbeat). Never rejects: a failure
   * is logged once per outage and the next heartbeat tries again. Resolves once an
   * announcement made after this call was written (or failed).
   */
  announce(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.announcing) {
      this.announceAgain = true; // the loop in flight writes once more before it resolves
      return this.announcing;
    }
    this.announcing = this.announceLoop().finally(() => (this.announcing = null));
    return this.announcing;
  }

  private async announceLoop(): Promise<void> {
    do {
      this.announceAgain = false;
      const load = this.load();
      if (!load || this.stopped) return;
      try {
        await this.registry.announce(load, this.opts.ttlMs);
        this.announceFailures.succeeded();
      } catch (err) {
        this.announceFailures.failed(err);
      }
    } while (this.announceAgain && !this.stopped);
  }

  private async beatOnce(): Promise<void> {
    if (this.writing || this.stopped) return;
    if (this.resync || this.changed.size > 0) return void (await this.flush());
    try {
      if (await this.registry.heartbeat(this.opts.gatewayId, this.opts.ttlMs)) return;
      this.log.warn('registry entries of this gateway had lapsed; rewriting them');
    } catch (err) {
      if (!this.failing) this.log.warn({ err }, 'registry heartbeat failed');
      this.failing = true;
    }
    this.resync = true;
    await this.flush();
  }

  /** Stops the heartbeat and removes this gateway's entries (graceful shutdown). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.beatTimer) clearInterval(this.beatTimer);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    await this.writing;
    await this.beating; // a heartbeat in flight must not land after the removal below
    await this.announcing; // nor an announcement (the removal takes it away too)
    await this.registry.replace(this.opts.gatewayId, new Map(), 0).catch((err: unknown) => this.log.warn({ err }, 'registry cleanup failed; entries will lapse'));
  }
}
