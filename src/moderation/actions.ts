// Carrying out a moderation action: the store first, then the event to every process (and to
// this one's cache at once), an audit log line and the count (right after the store write); the promise resolves once the
// bus has confirmed the event, so that a success answered to a moderator or to the admin API
// means every process is being told (docs/moderation.md, "Mute and ban").

import type { ControlBus, NodeBus } from '../bus/index.js';
import type { Logger } from '../log.js';
import type { ModerationActionLabel, ModerationSource } from '../metric-labels.js';
import type { Metrics } from '../metrics.js';
import type { ModerationStore, Restriction, RestrictionKind, StoredList } from '../store/moderation/index.js';
import type { ModerationCache } from './cache.js';
import { encodeEvent, type ControlEvent } from './events.js';

export interface Actor {
  /** a moderator's uid, `admin`, or `auto` */
  readonly by: string;
  readonly source: ModerationSource;
  readonly reason?: string;
}

export class ModerationActions {
  constructor(
    readonly store: ModerationStore,
    private readonly bus: ControlBus & Pick<NodeBus, 'confirm'>,
    readonly cache: ModerationCache,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /** Mutes or bans `uid` in `room` (a mute also EVERYWHERE) until `until` (ms; undefined: until lifted). */
  async restrict(kind: RestrictionKind, uid: string, room: string, until: number | undefined, actor: Actor): Promise<Restriction> {
    const r: Restriction = { uid, room, by: actor.by, source: actor.source, at: Date.now(), ...(until !== undefined ? { until } : {}), ...(actor.reason !== undefined ? { reason: actor.reason } : {}) };
    const v = await this.store.set(kind, r);
    await this.announce({ v, e: kind, r }, kind, actor, { uid, room, until });
    return r;
  }

  /** Lifts a mute or ban; false when there was none (nothing is sent). */
  async lift(kind: RestrictionKind, uid: string, room: string, actor: Actor): Promise<boolean> {
    const v = await this.store.lift(kind, uid, room);
    if (v === null) return false;
    const action = kind === 'mute' ? 'unmute' : 'unban';
    await this.announce({ v, e: action, u: uid, room }, action, actor, { uid, room });
    return true;
  }

  /** Stores a word list; every process reloads its filter. */
  async putList(list: StoredList, actor: Actor): Promise<void> {
    const v = await this.store.putList(list);
    await this.listsChanged(v, actor, { list: list.name, words: list.words.length, op: 'put' });
  }

  async deleteList(name: string, actor: Actor): Promise<boolean> {
    const v = await this.store.deleteList(name);
    if (v === null) return false;
    await this.listsChanged(v, actor, { list: name, op: 'delete' });
    return true;
  }

  /** FILTER_FILE's lists, stored only when there are none; false when there were. */
  async seedLists(lists: readonly StoredList[]): Promise<boolean> {
    const v = await this.store.seedLists(lists);
    if (v === null) return false;
    this.bus.broadcast(encodeEvent({ v, e: 'lists' }));
    await this.bus.confirm();
    return true;
  }

  /** Audit of a review decision (approve, reject): logged and counted, nothing to broadcast. */
  audited(action: ModerationActionLabel, actor: Actor, fields: Record<string, unknown>): void {
    this.metrics.moderationAction(action, actor.source);
    this.log.info({ audit: action, by: actor.by, source: actor.source, reason: actor.reason, ...fields }, `moderation: ${action}`);
  }

  private async listsChanged(v: number, actor: Actor, fields: Record<string, unknown>): Promise<void> {
    this.log.info({ audit: 'lists', by: actor.by, source: actor.source, ...fields }, 'moderation: word lists changed');
    const reloaded = this.cache.reload();
    this.bus.broadcast(encodeEvent({ v, e: 'lists' }));
    await Promise.all([reloaded, this.bus.confirm()]);
  }

  private async announce(ev: ControlEvent, action: ModerationActionLabel, actor: Actor, fields: { uid: string; room: string; until?: number }): Promise<void> {
    // Audited as soon as it is stored: a change that was stored is always audited, even when
    // the broadcast throws (the version poll spreads it then).
    this.audited(action, actor, fields);
    this.cache.apply(ev);
    this.bus.broadcast(encodeEvent(ev));
    await this.bus.confirm();
  }
}
