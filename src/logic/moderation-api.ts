// The admin API's moderation routes (logic role): mutes and bans, the filter's word lists, and
// the review queue. Every change is stored, then sent to every process on the control subject;
// a success is answered once the bus confirmed it (docs/cluster.md, "Admin API";
// docs/moderation.md).

import { HttpError, type Json, type RouteDef, type RouteSet } from '../admin-http.js';
import { BusTimeoutError, BusUnavailableError } from '../bus/index.js';
import { FailureLog } from '../failure-log.js';
import type { Logger } from '../log.js';
import type { ModerationActions, Actor } from '../moderation/actions.js';
import { Errors } from '../protocol/errors.js';
import { Op, ROOM_ID, UID } from '../protocol/ops.js';
import { EVERYWHERE, type HeldItem, type RestrictionKind } from '../store/moderation/index.js';
import type { ApiAnswer, BackendApi } from './backend-api.js';
import { FilterListError, parseWordLists } from './filter/index.js';
import type { UpstreamReply, UpstreamRequest } from './upstream.js';

const REASON_MAX = 200;
const MS_MAX = 10 * 365 * 86_400_000;
const HELD_PAGE_MAX = 1_000;

export interface ModerationApiDeps {
  readonly actions: ModerationActions;
  /** approved room items go out as the backend's items do (new seq) */
  readonly backend: Pick<BackendApi, 'roomItem'>;
  /** approved chat messages go through the logic service, unchecked */
  readonly logic: { send(req: UpstreamRequest, approved: boolean): Promise<UpstreamReply> };
  /** the display name as published (masked; the uid when it hits a reject or hold list), as chat's */
  readonly name?: (n: string, uid: string) => string;
  readonly log: Logger;
}

export class ModerationApi implements RouteSet {
  readonly routes: readonly RouteDef[];
  private readonly failures: FailureLog;

  constructor(private readonly deps: ModerationApiDeps) {
    this.failures = new FailureLog(deps.log, 'moderation admin API');
    this.routes = [
      ['POST', /^\/api\/moderation\/mutes$/, 'mute_set', (_p, b, q) => this.restrict('mute', b, q)],
      ['DELETE', /^\/api\/moderation\/mutes\/([^/]+)$/, 'mute_delete', (p, b, q) => this.lift('mute', p[0]!, b, q)],
      ['GET', /^\/api\/moderation\/mutes$/, 'mute_list', (_p, _b, q) => this.list('mutes', q)],
      ['POST', /^\/api\/moderation\/bans$/, 'ban_set', (_p, b, q) => this.restrict('ban', b, q)],
      ['DELETE', /^\/api\/moderation\/bans\/([^/]+)$/, 'ban_delete', (p, b, q) => this.lift('ban', p[0]!, b, q)],
      ['GET', /^\/api\/moderation\/bans$/, 'ban_list', (_p, _b, q) => this.list('bans', q)],
      ['PUT', /^\/api\/moderation\/lists\/([^/]+)$/, 'wordlist_put', (p, b, q) => this.putList(p[0]!, b, q)],
      ['DELETE', /^\/api\/moderation\/lists\/([^/]+)$/, 'wordlist_delete', (p, b, q) => this.deleteList(p[0]!, b, q)],
      ['GET', /^\/api\/moderation\/lists$/, 'wordlist_list', (_p, _b, q) => this.lists(q)],
      ['GET', /^\/api\/moderation\/held$/, 'held_list', (_p, _b, q) => this.held(q)],
      ['POST', /^\/api\/moderation\/held\/([^/]+)\/approve$/, 'held_approve', (p, b, q) => this.approve(p[0]!, b, q)],
      ['POST', /^\/api\/moderation\/held\/([^/]+)\/reject$/, 'held_reject', (p, b, q) => this.reject(p[0]!, b, q)],
    ];
  }

  failed(err: unknown, path: string): [number, Json] {
    if (err instanceof FilterListError) return [400, { error: err.message }];
    this.failures.failed(err, { path });
    if (err instanceof BusUnavailableError) return [503, { error: 'message bus unavailable: stored, but not every process may know yet (the version poll catches up); retry' }];
    if (err instanceof BusTimeoutError) return [503, { error: 'message bus did not confirm: stored; every process finds it by the version poll; retry to be sure' }];
    return [503, { error: 'storage unavailable; retry' }];
  }

  succeeded(): void {
    this.failures.succeeded();
  }

  private async restrict(kind: RestrictionKind, b: Json, q: URLSearchParams): Promise<[number, Json]> {
    known(b, q, ['u', 'room', 'ms', 'until', ...ACTOR_KEYS], []);
    const uid = userId(b.u, 'u');
    const room = b.room === undefined ? null : roomId(b.room);
    if (room === null && kind === 'ban') throw new HttpError(400, 'a ban needs room');
    if (b.ms !== undefined && b.until !== undefined) throw new HttpError(400, 'give ms or until, not both');
    let until: number | undefined;
    if (b.ms !== undefined) {
      if (!Number.isSafeInteger(b.ms) || (b.ms as number) < 1 || (b.ms as number) > MS_MAX) throw new HttpError(400, `ms must be an integer in [1, ${MS_MAX}]`);
      until = Date.now() + (b.ms as number);
    } else if (b.until !== undefined) {
      if (!Number.isSafeInteger(b.until) || (b.until as number) <= Date.now()) throw new HttpError(400, 'until must be a time in the future, ms since the epoch');
      until = b.until as number;
    }
    const r = await this.deps.actions.restrict(kind, uid, room ?? EVERYWHERE, until, actorOf(b));
    return [200, { [kind]: r }];
  }

  private async lift(kind: RestrictionKind, uidPart: string, b: Json, q: URLSearchParams): Promise<[number, Json]> {
    known(b, q, ACTOR_KEYS, ['room']);
    const uid = userId(uidPart, 'uid');
    const raw = q.get('room');
    const room = raw === null || raw === '' ? (kind === 'ban' ? null : EVERYWHERE) : roomId(raw);
    if (room === null) throw new HttpError(400, 'a ban is lifted in a room: ?room=<id>');
    const lifted = await this.deps.actions.lift(kind, uid, room, actorOf(b));
    if (!lifted) throw new HttpError(404, `no ${kind} of ${uid} in ${room}`);
    return [200, { uid, room, lifted: true }];
  }

  private async list(which: 'mutes' | 'bans', q: URLSearchParams): Promise<[number, Json]> {
    known({}, q, [], []);
    const s = await this.deps.actions.store.snapshot();
    return [200, { version: s.version, [which]: s[which] }];
  }

  private async putList(name: string, b: Json, q: URLSearchParams): Promise<[number, Json]> {
    known(b, q, ['action', 'words', ...ACTOR_KEYS], []);
    const [list] = parseWordLists({ lists: [{ name, action: b.action, words: b.words }] });
    // The lists together stay within the filter's bounds: checked with the others as stored.
    const others = (await this.deps.actions.store.snapshot()).lists.filter((l) => l.name !== name);
    parseWordLists({ lists: [...others, list] });
    await this.deps.actions.putList({ name: list!.name, action: list!.action, words: list!.words }, actorOf(b));
    return [200, { list: name, action: list!.action, words: list!.words.length }];
  }

  private async deleteList(name: string, b: Json, q: URLSearchParams): Promise<[number, Json]> {
    known(b, q, ACTOR_KEYS, []);
    if (!(await this.deps.actions.deleteList(name, actorOf(b)))) throw new HttpError(404, `no list ${name}`);
    return [200, { list: name, deleted: true }];
  }

  private async lists(q: URLSearchParams): Promise<[number, Json]> {
    known({}, q, [], []);
    const s = await this.deps.actions.store.snapshot();
    return [200, { version: s.version, lists: s.lists }];
  }

  private async held(q: URLSearchParams): Promise<[number, Json]> {
    known({}, q, [], ['limit']);
    const raw = q.get('limit');
    const limit = raw === null ? 100 : Number(raw);
    if (!Number.isInteger(limit) || limit < 1 || limit > HELD_PAGE_MAX) throw new HttpError(400, `limit must be an integer in [1, ${HELD_PAGE_MAX}]`);
    return [200, { held: await this.deps.actions.store.held(limit) }];
  }

  /** Publishes a held item now: a room item with a new seq, or a chat message. */
  private async approve(id: string, b: Json, q: URLSearchParams): Promise<[number, Json]> {
    known(b, q, ACTOR_KEYS, []);
    const { actions } = this.deps;
    const item = await actions.store.take(id);
    if (!item) throw new HttpError(404, `no held item ${id}`);
    const actor = actorOf(b);
    let answer: [number, Json];
    try {
      answer = item.o === Op.Send ? await this.publishItem(item) : await this.publishMessage(item);
    } catch (err) {
      await this.keep(item);
      throw err;
    }
    if (answer[0] >= 500) {
      await this.keep(item);
      return answer;
    }
    if (answer[0] === 200) actions.audited('approve', actor, { uid: item.u, room: item.room, held: id });
    else {
      // Refused for good (a 4xx: the item no longer valid, its group gone...): taken from the
      // queue and not published; said loudly, with what was dropped.
      this.deps.log.warn({ audit: 'approve_dropped', by: actor.by, uid: item.u, room: item.room, held: id, status: answer[0], answer: answer[1] }, 'moderation: an approved item was refused and dropped');
    }
    return answer;
  }

  private async reject(id: string, b: Json, q: URLSearchParams): Promise<[number, Json]> {
    known(b, q, ACTOR_KEYS, []);
    const item = await this.deps.actions.store.take(id);
    if (!item) throw new HttpError(404, `no held item ${id}`);
    this.deps.actions.audited('reject', actorOf(b), { uid: item.u, room: item.room, held: id });
    return [200, { id, rejected: true }];
  }

  private async publishItem(item: HeldItem): Promise<[number, Json]> {
    const f = (typeof item.b === 'object' && item.b !== null ? item.b : {}) as Record<string, unknown>;
    const n = this.deps.name ? this.deps.name(item.n, item.u) : item.n;
    const body: Json = { u: item.u, n, k: f.k, x: f.x, c: f.c, m: f.m, g: f.g, a: f.a, key: heldKey(item) };
    for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
    const a: ApiAnswer = await this.deps.backend.roomItem(item.room, body, true);
    return [a.status, { id: item.id, ...a.body }];
  }

  private async publishMessage(item: HeldItem): Promise<[number, Json]> {
    const reply = await this.deps.logic.send({ o: item.o, u: item.u, n: item.n, r: item.r, room: item.room, at: Date.now(), b: item.b }, true);
    // A rate limit (none is taken for approved messages, but an older logic process may) is
    // retryable like an outage: the item is put back.
    if ('e' in reply) return [reply.e >= 30 || reply.e === Errors.RateLimited.code ? 503 : 409, { id: item.id, error: reply.m }];
    if ('s' in reply) return [200, { id: item.id, s: reply.s, t: reply.t }];
    return [409, { id: item.id, error: 'not a message' }];
  }

  /**
   * Puts an item whose publication failed back in the queue: under a new id, but carrying the
   * idempotency key of the first attempt, so that a retried approval of a publication that did
   * go out (its answer lost) is a duplicate, not a second item.
   */
  private async keep(item: HeldItem): Promise<void> {
    const { id: _id, ...rest } = item;
    await this.deps.actions.store.hold({ ...rest, key: heldKey(item) }).catch((err: unknown) => this.failures.failed(err));
  }
}

/** The idempotency key of a held item's publication: the first id it was held under. */
function heldKey(item: HeldItem): string {
  return item.key ?? `held-${item.id}`;
}

const ACTOR_KEYS = ['by', 'reason'] as const;

/**
 * Refuses a body or query key the route does not know (400 naming it), as MODERATE does: a
 * misspelt `room` must not silently mean "everywhere".
 */
function known(b: Json, q: URLSearchParams, bodyKeys: readonly string[], queryKeys: readonly string[]): void {
  for (const k of Object.keys(b)) if (!bodyKeys.includes(k)) throw new HttpError(400, `unknown field ${JSON.stringify(k)} (known: ${bodyKeys.join(', ') || 'none'})`);
  for (const k of q.keys()) if (!queryKeys.includes(k)) throw new HttpError(400, `unknown query parameter ${JSON.stringify(k)} (known: ${queryKeys.join(', ') || 'none'})`);
}

function actorOf(b: Json): Actor {
  const by = b.by === undefined ? 'admin' : b.by;
  if (typeof by !== 'string' || by.length < 1 || by.length > 64) throw new HttpError(400, 'by must be a string of 1-64 characters');
  if (b.reason !== undefined && (typeof b.reason !== 'string' || b.reason.length > REASON_MAX)) throw new HttpError(400, `reason must be a string of at most ${REASON_MAX} characters`);
  return { by, source: 'admin', ...(b.reason !== undefined ? { reason: b.reason as string } : {}) };
}

function userId(v: unknown, what: string): string {
  if (typeof v !== 'string' || !UID.test(v)) throw new HttpError(400, `${what} must match ${UID}`);
  return v;
}

function roomId(v: unknown): string {
  if (typeof v !== 'string' || !ROOM_ID.test(v)) throw new HttpError(400, `room must match ${ROOM_ID}`);
  return v;
}
