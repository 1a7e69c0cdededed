// Every process's copy of the moderation state (mutes, bans, word lists): loaded at start,
// changed at once by the control subject's events, and loaded again whenever the store's
// version differs from the one applied: a poll every MODERATION_POLL_MS, and at once after a
// reconnect of the bus or of Redis (events sent meanwhile are lost). The store is the truth: a lower
// version read there is believed, and an event moves the version only to the next one. Checks are synchronous
// map lookups, so the send path and JOIN pay no round trip (docs/moderation.md).

import type { ControlBus } from '../bus/index.js';
import { FailureLog } from '../failure-log.js';
import type { Logger } from '../log.js';
import { EVERYWHERE, inForce, restrictionField, type ModerationSnapshot, type ModerationStore, type Restriction, type RestrictionKind, type StoredList } from '../store/moderation/index.js';
import { decodeEvent, type ControlEvent } from './events.js';

export interface ModerationListener {
  /** a ban came into force (an event, or found by a reload): evict the user from the room */
  banned?(r: Restriction): void;
  /** the word lists changed (or were loaded first) */
  listsChanged?(lists: readonly StoredList[]): void;
}

/** At most one reload per this many ms asked for by events (gaps, list changes). */
export const EVENT_RELOAD_MS = 100;

export class ModerationCache {
  private applied = 0;
  private readonly maps: Record<RestrictionKind, Map<string, Restriction>> = { mute: new Map(), ban: new Map() };
  private currentLists: readonly StoredList[] = [];
  private listsKey = '';
  private readonly listeners: ModerationListener[] = [];
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | null = null;
  private again = false;
  /** a reload asked for by an event, waiting for its turn (at most one per EVENT_RELOAD_MS) */
  private eventReload: NodeJS.Timeout | undefined;
  private eventReloadAt = 0;
  private readonly failures: FailureLog;

  constructor(
    private readonly store: ModerationStore,
    private readonly bus: ControlBus,
    private readonly opts: { readonly pollMs: number },
    private readonly log: Logger,
  ) {
    this.failures = new FailureLog(log, 'moderation state reads (mutes, bans and word lists may be stale)');
  }

  /** The version of the state applied. */
  get version(): number {
    return this.applied;
  }

  get lists(): readonly StoredList[] {
    return this.currentLists;
  }

  listen(listener: ModerationListener): void {
    this.listeners.push(listener);
  }

  /** Loads the state, subscribes to the events, starts the poll. Rejects if the first load fails. */
  async start(onStoreReconnect?: (listener: () => void) => void): Promise<void> {
    await this.bus.onBroadcast((data) => {
      const ev = decodeEvent(data);
      if (ev) this.apply(ev);
      else this.log.warn('undecodable control event dropped');
    });
    this.bus.onReconnect?.(() => void this.reload());
    onStoreReconnect?.(() => void this.reload());
    this.load(await this.store.snapshot());
    if (this.opts.pollMs > 0) {
      this.timer = setInterval(() => void this.poll(), this.opts.pollMs);
      this.timer.unref();
    }
  }

  stop(): void {
    clearInterval(this.timer);
    clearTimeout(this.eventReload);
    this.eventReload = undefined;
  }

  /** The mute in force for `uid` sending to `room` ('' for chat: only a mute everywhere counts). */
  muted(uid: string, room: string, now = Date.now()): Restriction | null {
    return (room !== '' ? this.current('mute', uid, room, now) : null) ?? this.current('mute', uid, EVERYWHERE, now);
  }

  banned(uid: string, room: string, now = Date.now()): Restriction | null {
    return this.current('ban', uid, room, now);
  }

  private current(kind: RestrictionKind, uid: string, room: string, now: number): Restriction | null {
    const map = this.maps[kind];
    if (map.size === 0) return null;
    const key = restrictionField(uid, room);
    const r = map.get(key);
    if (!r) return null;
    if (inForce(r, now)) return r;
    map.delete(key);
    return null;
  }

  /**
   * Applies one event: this process's own at once, the others' as they arrive. The store is the
   * truth: an event only moves the version applied to exactly the next one; anything else (a
   * gap, a version from a store that went back, a forged one) asks for a reload from the store
   * (coalesced, at most one per EVENT_RELOAD_MS) and never moves the version itself.
   */
  apply(ev: ControlEvent): void {
    if (ev.e === 'lists') {
      // The lists themselves are in the store (up to megabytes): the event only says "reload".
      if (ev.v !== this.applied) this.reloadSoon();
      return;
    }
    if (ev.v <= this.applied) return; // already applied (this process's own), or in a snapshot loaded since
    if (ev.v === this.applied + 1) this.applied = ev.v;
    else this.reloadSoon(); // a gap (an event lost) or a version not to be believed: the store says
    // Enforced at once all the same; a reload replaces it with the store's state.
    if ('r' in ev) {
      this.maps[ev.e].set(restrictionField(ev.r.uid, ev.r.room), ev.r);
      if (ev.e === 'ban') this.notifyBan(ev.r);
    } else {
      this.maps[ev.e === 'unmute' ? 'mute' : 'ban'].delete(restrictionField(ev.u, ev.room));
    }
  }

  /** A reload asked for by an event: at most one per EVENT_RELOAD_MS, the requests meanwhile coalesced. */
  private reloadSoon(): void {
    if (this.eventReload) return;
    const wait = Math.max(0, this.eventReloadAt + EVENT_RELOAD_MS - Date.now());
    this.eventReload = setTimeout(() => {
      this.eventReload = undefined;
      this.eventReloadAt = Date.now();
      void this.reload();
    }, wait);
    this.eventReload.unref();
  }

  /** Reads the version; loads everything if it differs from the one applied. */
  async poll(): Promise<void> {
    try {
      const v = await this.store.version();
      this.failures.succeeded();
      if (v !== this.applied) await this.reload();
    } catch (err) {
      this.failures.failed(err);
    }
  }

  /** Loads the whole state (one at a time; a call during a load loads once more after it). */
  reload(): Promise<void> {
    if (this.reloading) {
      this.again = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      try {
        do {
          this.again = false;
          let s = await this.store.snapshot();
          // Older than the state applied: an event applied during the read, or a store that
          // went back (a restart without persistence, a failover). Read once more; the second
          // answer is the truth either way.
          if (s.version < this.applied) s = await this.store.snapshot();
          this.load(s);
          this.failures.succeeded();
        } while (this.again);
      } catch (err) {
        this.failures.failed(err);
      } finally {
        this.reloading = null;
      }
    })();
    return this.reloading;
  }

  private load(s: ModerationSnapshot): void {
    // The store is the truth, even when its version is lower than the one applied.
    const bansBefore = this.maps.ban;
    for (const kind of ['mute', 'ban'] as const) {
      this.maps[kind] = new Map((kind === 'mute' ? s.mutes : s.bans).map((r) => [restrictionField(r.uid, r.room), r]));
    }
    this.applied = s.version;
    for (const [key, r] of this.maps.ban) {
      const before = bansBefore.get(key);
      if (!before || before.at !== r.at || before.until !== r.until) this.notifyBan(r);
    }
    const key = JSON.stringify([...s.lists].sort((a, b) => (a.name < b.name ? -1 : 1)));
    if (key !== this.listsKey) {
      this.listsKey = key;
      this.currentLists = s.lists;
      for (const l of this.listeners) l.listsChanged?.(s.lists);
    }
  }

  private notifyBan(r: Restriction): void {
    for (const l of this.listeners) {
      try {
        l.banned?.(r);
      } catch (err) {
        this.log.warn({ err, uid: r.uid, room: r.room }, 'applying a ban failed');
      }
    }
  }
}
