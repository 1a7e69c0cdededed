// The logic service's moderation step, before the intake (no seq, no de-duplication claim, no
// rate token for what it refuses): the sender's mute, the room's ban, then the word filter on
// the text (reject, hold for review, or mask) and on the display name (masked only). Filter
// hits count toward an auto-mute in the store, so across every logic process. Also the
// MODERATE op of moderators (docs/moderation.md).

import { BusTimeoutError, BusUnavailableError } from '../bus/index.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { ModerationActions, type Actor } from '../moderation/actions.js';
import { encode } from '../protocol/codec.js';
import { Errors, ProtocolError } from '../protocol/errors.js';
import { Op, ROOM_ID, UID } from '../protocol/ops.js';
import { EVERYWHERE, type Restriction, type StoredList } from '../store/moderation/index.js';
import { ContentFilter, parseWordLists } from './filter/index.js';
import type { UpstreamReply, UpstreamRequest } from './upstream.js';

export interface ModerationOptions {
  readonly filterAutomuteHits: number;
  readonly filterAutomuteWindowMs: number;
  readonly filterAutomuteMs: number;
}

/** Display names whose verdict is kept (names repeat with every message of a user). */
const NAME_CACHE_MAX = 10_000;
/** A moderator's reason, at most. */
const WHY_MAX = 200;
/** The longest timed mute or ban a MODERATE may ask for: a year. */
const MODERATE_MAX_MS = 365 * 86_400_000;

export const MODERATOR_ROLES: readonly string[] = ['moderator', 'admin'];

export class ContentModeration {
  private readonly filter = new ContentFilter();
  private readonly names = new Map<string, string>();

  constructor(
    readonly actions: ModerationActions,
    private readonly opts: ModerationOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    actions.cache.listen({ listsChanged: (lists) => this.load(lists) });
    this.load(actions.cache.lists);
  }

  /** Rebuilds the filter from stored lists; on a failure the previous one stays. */
  load(lists: readonly StoredList[]): void {
    try {
      const parsed = parseWordLists({ lists });
      this.filter.load(parsed);
      this.names.clear();
      this.metrics.filterLoaded(true, this.filter.wordCount);
      this.log.info({ lists: parsed.length, words: this.filter.wordCount, version: this.actions.cache.version }, 'word filter loaded');
    } catch (err) {
      this.metrics.filterLoaded(false, 0);
      this.log.warn({ err }, 'the stored word lists do not parse: the previous filter stays');
    }
  }

  /** Throws ERROR 22 when `uid` is muted for `room` ('' for chat: a mute everywhere). */
  checkMute(uid: string, room: string): void {
    const m = this.actions.cache.muted(uid, room);
    if (m) throw new ProtocolError(Errors.Muted, m.room === EVERYWHERE ? 'everywhere' : `in ${m.room}`, remaining(m));
  }

  checkBan(uid: string, room: string): void {
    const b = this.actions.cache.banned(uid, room);
    if (b) throw new ProtocolError(Errors.Banned, room, remaining(b));
  }

  /**
   * The text to publish: `x` itself, or masked; synchronous, so that a passing text costs the
   * send path no extra turn. A reject or hold answers a promise that rejects: ERROR 17, or
   * ERROR 18 once the request is stored for review (17 when the review queue is full). Each
   * of them counts toward the sender's auto-mute in `room` ('' for chat: everywhere).
   */
  checkText(req: UpstreamRequest, room: string, x: string): string | Promise<never> {
    const v = this.filter.check(x);
    this.metrics.filterVerdict(v.action);
    if (v.action === 'pass') return x;
    if (v.action === 'mask') return v.text;
    return this.refuse(req, room, v.action, v.lists);
  }

  private async refuse(req: UpstreamRequest, room: string, action: 'reject' | 'hold', lists: readonly string[]): Promise<never> {
    let id: string | null = null;
    if (action === 'hold') id = await this.actions.store.hold({ at: Date.now(), o: req.o, u: req.u, n: req.n, r: req.r, room: req.room, b: req.b, lists });
    // Counted and, at the threshold, muted without holding up the answer (countHit logs its
    // own failures at warn).
    void this.countHit(req.u, room);
    if (id !== null) throw new ProtocolError(Errors.HeldForReview, `review ${id}`);
    throw new ProtocolError(Errors.ContentRejected, action === 'hold' ? 'the review queue is full' : undefined);
  }

  /** The backend API's texts (trusted, no review queue): masked, or null for a reject or hold list's hit. */
  filterTrusted(x: string): string | null {
    const v = this.filter.check(x);
    this.metrics.filterVerdict(v.action);
    return v.action === 'pass' ? x : v.action === 'mask' ? v.text : null;
  }

  /** A display name with the filter's words masked; one that hits a reject or hold list becomes the uid. */
  name(n: string, uid: string): string {
    if (this.filter.wordCount === 0) return n;
    let out = this.names.get(n);
    if (out === undefined) {
      const v = this.filter.check(n);
      out = v.action === 'pass' ? n : v.action === 'mask' ? v.text : '';
      if (this.names.size >= NAME_CACHE_MAX) this.names.delete(this.names.keys().next().value!);
      this.names.set(n, out);
    }
    return out === '' ? uid : out;
  }

  private async countHit(uid: string, room: string): Promise<void> {
    const { filterAutomuteHits: hits, filterAutomuteWindowMs: windowMs, filterAutomuteMs: ms } = this.opts;
    if (hits <= 0) return;
    const scope = room === '' ? EVERYWHERE : room;
    const key = `${uid}|${scope}`;
    try {
      const n = await this.actions.store.hit(key, windowMs);
      // Once per crossing of the threshold: of two logic processes counting the same user's
      // hits at the same time, only the one whose hit made it `hits` mutes.
      if (n !== hits) return;
      await this.actions.store.clearHits(key);
      await this.actions.restrict('mute', uid, scope, Date.now() + ms, { by: 'auto', source: 'auto', reason: `${n} filter hits within ${windowMs} ms` });
    } catch (err) {
      // The refusal stands; only the auto-mute is missed (the store or the bus is failing).
      this.log.warn({ err, uid }, 'auto-mute failed');
    }
  }

  /** MODERATE (op 24) of a moderator or admin: checked, carried out, answered MODERATED. */
  async moderate(req: UpstreamRequest): Promise<UpstreamReply> {
    const admin = req.r.includes('admin');
    if (!admin && !req.r.includes('moderator')) throw new ProtocolError(Errors.Forbidden, 'MODERATE needs the role moderator or admin');
    const m = readModerate(req.b, admin);
    if (m.u === req.u) throw new ProtocolError(Errors.BadField, 'u must be another user');
    const actor: Actor = { by: req.u, source: 'moderator', ...(m.why !== undefined ? { reason: m.why } : {}) };
    const scope = m.room ?? EVERYWHERE;
    const body: Record<string, unknown> = { a: m.a, u: m.u, ...(m.room !== undefined ? { room: m.room } : {}) };
    try {
      if (m.a === 'mute' || m.a === 'ban') {
        const r = await this.actions.restrict(m.a, m.u, scope, m.ms === undefined ? undefined : Date.now() + m.ms, actor);
        if (r.until !== undefined) body.until = r.until;
      } else {
        await this.actions.lift(m.a === 'unmute' ? 'mute' : 'ban', m.u, scope, actor);
      }
    } catch (err) {
      // Stored, but the bus did not confirm the event: ERROR 30, as docs/moderation.md says (a
      // retry sets it again; the version poll spreads it meanwhile).
      if (err instanceof BusUnavailableError || err instanceof BusTimeoutError) {
        this.log.warn({ err, by: req.u, a: m.a, u: m.u }, 'MODERATE: the bus did not confirm');
        throw new ProtocolError(Errors.Unavailable, 'stored, but the message bus did not confirm; retry');
      }
      throw err;
    }
    return { o: Op.Moderated, b: encode(body) };
  }
}

export interface ModerateRequest {
  readonly a: 'mute' | 'unmute' | 'ban' | 'unban';
  readonly u: string;
  readonly room?: string;
  readonly ms?: number;
  readonly why?: string;
}

/** A MODERATE body; ERROR 3 for any field out of place. A moderator (not admin) must name a room; a ban always does. */
export function readModerate(body: unknown, admin: boolean): ModerateRequest {
  const bad = (m: string): never => {
    throw new ProtocolError(Errors.BadField, m);
  };
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return bad('the body must be a map');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!['a', 'u', 'room', 'ms', 'why'].includes(k)) bad(`unknown field ${k}`);
  if (b.a !== 'mute' && b.a !== 'unmute' && b.a !== 'ban' && b.a !== 'unban') return bad('a must be mute, unmute, ban or unban');
  if (typeof b.u !== 'string' || !UID.test(b.u)) return bad(`u must match ${UID}`);
  if (b.room !== undefined && (typeof b.room !== 'string' || !ROOM_ID.test(b.room))) return bad(`room must match ${ROOM_ID}`);
  if (b.room === undefined && (!admin || b.a === 'ban' || b.a === 'unban')) return bad(b.a === 'ban' || b.a === 'unban' ? 'a ban needs room' : 'a moderator must name the room');
  if (b.ms !== undefined) {
    if (b.a !== 'mute' && b.a !== 'ban') bad('ms only with mute or ban');
    if (!Number.isSafeInteger(b.ms) || (b.ms as number) < 1 || (b.ms as number) > MODERATE_MAX_MS) bad(`ms must be an integer in [1, ${MODERATE_MAX_MS}]`);
  }
  if (b.why !== undefined && (typeof b.why !== 'string' || b.why.length > WHY_MAX)) bad(`why must be a string of at most ${WHY_MAX} characters`);
  return { a: b.a, u: b.u, ...(b.room !== undefined ? { room: b.room as string } : {}), ...(b.ms !== undefined ? { ms: b.ms as number } : {}), ...(b.why !== undefined ? { why: b.why as string } : {}) };
}

/** retryMs of a timed restriction: what remains of it. */
function remaining(r: Restriction): { retryMs?: number } {
  return r.until === undefined ? {} : { retryMs: Math.max(1, r.until - Date.now()) };
}
