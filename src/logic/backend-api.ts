// The backend API: what a site's payment or moderation service posts into the cluster, a room
// item (a gift, a notice, a paid message) or a notice to one user, with an idempotency key.
// One implementation, two transports: the admin HTTP API (admin-api.ts, `POST
// /api/rooms/<room>/items`, `POST /api/users/<uid>/notices`) and NATS requests on
// `<prefix>.api.room-item` and `<prefix>.api.notice` (natsHandler, served by every logic
// process as one queue group). docs/cluster.md, "Backend API".
//
// The rule: a 200 means it happened. A room item is answered 200 only once it is sequenced,
// stored in the room's recovery window, published and confirmed by the bus; a notice once it
// is in the storage queue (the user's inbox and history will have it) and its live push is
// confirmed. Anything else is a 503 that says whether something may have happened, and a
// retry with the same key gets the first result (200, `duplicate: true`) whenever the first
// attempt got as far as storing it.

import { createHash } from 'node:crypto';
import { MAX_ADMIN_BODY } from '../admin-http.js';
import { BusTimeoutError, BusUnavailableError, type NodeBus, type RequestHandler, type RoomBus } from '../bus/index.js';
import { FailureLog } from '../failure-log.js';
import type { Logger } from '../log.js';
import type { AdminRoute } from '../metric-labels.js';
import type { Metrics } from '../metrics.js';
import { encode } from '../protocol/codec.js';
import { ProtocolError } from '../protocol/errors.js';
import { encodeItem } from '../protocol/items.js';
import { ROOM_ID, UID } from '../protocol/ops.js';
import { displayName } from '../protocol/text.js';
import { QueueFullError, QueueUnavailableError, type ChatQueue } from '../queue/index.js';
import type { RoomHistory } from '../store/history/index.js';
import type { Intake, IntakeVerdict } from '../store/intake/index.js';
import { scopes } from '../store/sequence/index.js';
import { messageId, type ChatFanout, type ChatMessage } from './chat.js';
import { MaybeStoredError, mustBeReplicated, NOT_CONFIRMED, NotStoredError, Republisher, StoredNotPublishedError, storeThenPublish } from './room-items.js';
import type { ReplicaConfirm } from '../redis/replica-wait.js';
import { text, validateSend } from './validate.js';

export type Json = Record<string, unknown>;

/** An answer of either transport: the HTTP status and the JSON body (`{error}` unless 200). */
export interface ApiAnswer {
  readonly status: number;
  readonly body: Json;
}

export interface BackendApiOptions {
  readonly maxTextLength: number;
  /** how long a settled key is remembered (DEDUPE_TTL_MS) */
  readonly dedupeTtlMs: number;
}

export interface BackendApiDeps {
  /** claim, sequence number (the send path's, with its Redis fallback: seq 0 while Redis is down) */
  readonly intake: Intake;
  readonly history: RoomHistory;
  readonly bus: RoomBus & Pick<NodeBus, 'confirm'>;
  /** the chat storage queue: a notice is stored like a direct message */
  readonly queue: ChatQueue;
  readonly chat: ChatFanout;
  /**
   * the word filter on texts (docs/moderation.md): the text to publish (masked, or as given),
   * or null when a reject or hold list hit (answered 400: the backend has no review queue)
   */
  readonly filter?: (text: string) => string | null;
  /** REDIS_WAIT_REPLICAS: a gift's or notice's 200 waits for the Redis replicas; null or absent: none */
  readonly replicas?: ReplicaConfirm | null;
  readonly metrics: Metrics;
  readonly log: Logger;
}

/** A key: as a client message id, 1-64 printable ASCII characters. */
const KEY = /^[\x21-\x7e]{1,64}$/;

/** Held at most this long while its first attempt is processed, as a SEND's client id. */
const CLAIM_TTL_MS = 10_000;

/**
 * The API is not rate limited (the backend is trusted, and its traffic is its business): its
 * requests take from one bucket, shared by every logic process, this large.
 */
const API_BUCKET = { bucket: 'api', rate: 1_000_000, burst: 1_000_000 } as const;

/** Requests one logic process handles at once; more are refused (503) rather than queued. */
const MAX_INFLIGHT = 1_000;

/** A NATS request's JSON at most, as an HTTP body. */
export const MAX_BODY = MAX_ADMIN_BODY;

class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class BackendApi {
  private inflight = 0;
  private readonly failures: FailureLog;
  private readonly republisher: Republisher;

  constructor(
    private readonly opts: BackendApiOptions,
    private readonly deps: BackendApiDeps,
  ) {
    this.failures = new FailureLog(deps.log, 'backend API requests (answered 503)');
    this.republisher = new Republisher(deps.history, deps.bus, deps.log);
  }

  /** `POST /api/rooms/<room>/items`, `<prefix>.api.room-item`. */
  /** `unfiltered`: a held item a moderator approved, not filtered again. */
  roomItem(room: string, body: Json, unfiltered = false): Promise<ApiAnswer> {
    return this.run(() => this.postItem(room, body, unfiltered));
  }

  /** `POST /api/users/<uid>/notices`, `<prefix>.api.notice`. */
  notice(uid: string, body: Json): Promise<ApiAnswer> {
    return this.run(() => this.postNotice(uid, body));
  }

  /**
   * The NATS transport of one endpoint: a JSON request (the HTTP body plus `room` or `to`),
   * a JSON reply `{status, ...the HTTP answer's body}`. Never rejects: bad input is a 400.
   */
  natsHandler(endpoint: 'room_item' | 'notice'): RequestHandler {
    const route: AdminRoute = endpoint === 'room_item' ? 'nats_room_item' : 'nats_user_notice';
    return async (data) => {
      let answer: ApiAnswer;
      try {
        const body = parseRequest(data);
        const target = endpoint === 'room_item' ? body.room : body.to;
        const name = endpoint === 'room_item' ? 'room' : 'to';
        if (typeof target !== 'string') throw new ApiError(400, `${name} is required (a string)`);
        answer = endpoint === 'room_item' ? await this.roomItem(target, body) : await this.notice(target, body);
      } catch (err) {
        answer = err instanceof ApiError ? { status: err.status, body: { error: err.message } } : this.unexpected(err);
      }
      this.deps.metrics.adminRequest(route, answer.status);
      return Buffer.from(JSON.stringify({ status: answer.status, ...answer.body }));
    };
  }

  private async run(handle: () => Promise<ApiAnswer>): Promise<ApiAnswer> {
    if (this.inflight >= MAX_INFLIGHT) return { status: 503, body: { error: `overloaded: more than ${MAX_INFLIGHT} backend API requests in progress on this process; nothing was done; retry` } };
    this.inflight++;
    try {
      const answer = await handle();
      if (answer.status === 200) this.failures.succeeded();
      return answer;
    } catch (err) {
      if (err instanceof ApiError) return { status: err.status, body: { error: err.message } };
      return this.unexpected(err);
    } finally {
      this.inflight--;
    }
  }

  private unexpected(err: unknown): ApiAnswer {
    this.failures.failed(err);
    return { status: 503, body: { error: 'internal failure: nothing is known to have been done; retry with the same key' } };
  }

  private async postItem(room: string, body: Json, unfiltered: boolean): Promise<ApiAnswer> {
    if (!ROOM_ID.test(room)) throw new ApiError(400, `room must match ${ROOM_ID}`);
    const key = keyOf(body);
    const u = body.u === undefined ? '' : body.u;
    if (typeof u !== 'string' || (u !== '' && !UID.test(u))) throw new ApiError(400, `u must be '' (a system item) or a uid matching ${UID}`);
    if (body.n !== undefined && typeof body.n !== 'string') throw new ApiError(400, 'n must be a string');
    const fallback = u === '' ? 'system' : u;
    const n = body.n === undefined ? fallback : displayName(body.n, fallback);
    const valid = badInput(() => validateSend({ k: body.k, x: body.x, c: body.c, m: body.m, g: body.g, a: body.a }, this.opts));
    const kind = valid.kind;
    let fields = valid.fields;
    const x = (fields as { x?: unknown }).x;
    if (!unfiltered && typeof x === 'string') fields = { ...fields, x: this.filtered(x) } as typeof fields;
    const t = Date.now();
    const scope = scopes.room(room);
    const claim = key === undefined ? undefined : claimOf(scope, key);
    const verdict = await this.admit(claim, scope);
    // REDIS_WAIT_REPLICAS: which socket the intake's writes went on (replica-wait.ts).
    const ticket = this.deps.replicas?.ticket() ?? null;
    const { bus, history } = this.deps;
    if ('dup' in verdict) {
      // The first attempt stored it; it may never have published it (its process died, the bus
      // refused it): the stored copy goes out again, viewers that have it drop it by seq.
      // With REDIS_WAIT_REPLICAS, a never-shed one only once the replicas hold it: its first
      // attempt may have been answered 503 for want of them.
      if (kind.replayed && verdict.dup > 0 && mustBeReplicated(kind) && this.deps.replicas) {
        try {
          await this.deps.replicas.confirm(ticket!);
        } catch (err) {
          return this.unavailable(err, `stored, ${NOT_CONFIRMED} (${(err as Error).message}): the item may or may not be stored; retry with the same key`);
        }
      }
      if (kind.replayed && verdict.dup > 0) await this.republisher.republish(room, verdict.dup);
      return { status: 200, body: { room, s: verdict.dup, t, duplicate: true } };
    }
    const seq = verdict.seq;
    let settled: boolean;
    try {
      // Numbers 0: the intake fell back to this process's memory (Redis is down). An item
      // without a seq has no place in the recovery window: refused, whatever its kind.
      if (seq === 0) throw new NotStoredError('the sequence store (Redis) is unavailable');
      // Nothing is stored while NATS is down: an item in the window that was never published
      // would be answered 503 now and "duplicate" on the retry.
      await bus.confirm();
      // The claim is settled by the append itself (replayed kinds): stored iff settled.
      const settle = claim === undefined ? undefined : { claim, ttlMs: this.opts.dedupeTtlMs };
      settled = await storeThenPublish(history, bus, { room, kind, seq, data: encodeItem({ s: seq, u, n, t, ...fields }) }, settle, this.deps.replicas && ticket ? { confirm: this.deps.replicas, ticket } : null);
    } catch (err) {
      if (err instanceof StoredNotPublishedError) {
        return this.unavailable(err, 'the item is stored for recovery but the bus did not take it; a retry with the same key answers 200 duplicate and publishes it again');
      }
      if (err instanceof MaybeStoredError) {
        // Redis may have stored it (and settled the key with it) after all: the key is kept. A
        // retry gets 200 duplicate (stored; published again) or 503 "still being processed"
        // until the claim lapses (10 s; not stored: then processed anew). One copy either way.
        return this.unavailable(err, `${err.message}: the item may or may not be stored (it was not published); retry with the same key`);
      }
      await this.release(claim);
      if (err instanceof BusUnavailableError || err instanceof BusTimeoutError) return this.unavailable(err, 'the message bus (NATS) is unavailable: nothing was published; retry');
      if (err instanceof NotStoredError) return this.unavailable(err, `${err.message}: nothing was published; retry`);
      throw err;
    }
    // Published: from here on the item exists, and a retry gets it. A kind that is not stored
    // (likes) has its key settled here.
    const settling = settled ? Promise.resolve() : this.settle(claim, seq);
    try {
      await bus.confirm();
    } catch (err) {
      await settling;
      const stored = kind.replayed ? ' (it is stored for recovery: viewers who resume get it)' : '';
      return this.unavailable(err, `published, but the message bus (NATS) did not confirm it: it may or may not have reached the viewers now${stored}; a retry with the same key answers 200 duplicate`);
    }
    await settling;
    return { status: 200, body: { room, s: seq, t } };
  }

  /** The text through the word filter; a reject or hold list's hit is a 400. */
  private filtered(x: string): string {
    if (!this.deps.filter) return x;
    const out = this.deps.filter(x);
    if (out === null) throw new ApiError(400, 'content_rejected: the text contains words of a reject or hold list');
    return out;
  }

  private async postNotice(uid: string, body: Json): Promise<ApiAnswer> {
    if (!UID.test(uid)) throw new ApiError(400, `uid must match ${UID}`);
    const key = keyOf(body);
    const x = this.filtered(badInput(() => text(body.x, 'x', this.opts.maxTextLength * 5)));
    const t = Date.now();
    const scope = scopes.notices(uid);
    const claim = key === undefined ? undefined : claimOf(scope, key);
    const verdict = await this.admit(claim, scope);
    const ticket = this.deps.replicas?.ticket() ?? null;
    if ('dup' in verdict) return { status: 200, body: { to: uid, s: verdict.dup, id: noticeId(claim!, verdict.dup), duplicate: true } };
    const seq = verdict.seq;
    if (seq === 0) {
      // The store would number it later, but a retry on another process could not find it.
      await this.release(claim);
      return this.unavailable(null, 'the sequence store (Redis) is unavailable: nothing was stored; retry');
    }
    // REDIS_WAIT_REPLICAS: the seq on the replicas first, as a MSG's (logic.ts).
    const { replicas } = this.deps;
    if (replicas) {
      try {
        await replicas.confirm(ticket!);
      } catch (err) {
        await this.release(claim);
        return this.unavailable(err, `the notice's sequence number was ${NOT_CONFIRMED} (${(err as Error).message}): nothing was stored; retry`);
      }
    }
    const message: ChatMessage = { to: uid, s: seq, u: '', n: 'system', t, x, id: claim === undefined ? messageId() : noticeId(claim, seq) };
    try {
      // Stored like a direct message: the user's inbox and the notices' history.
      await this.deps.queue.enqueue({ c: scope, s: seq, id: message.id, t, u: '', m: encode(message), r: [uid], ...(claim !== undefined ? { k: claim } : {}) });
    } catch (err) {
      if (err instanceof QueueUnavailableError && err.maybeStored) {
        // Maybe in the queue: the claim stays (its writer settles it if it is), no second copy.
        return this.unavailable(err, 'the storage queue did not confirm: the notice may or may not be stored; retry with the same key');
      }
      await this.release(claim);
      if (err instanceof QueueFullError) return this.unavailable(err, 'the storage queue is full: nothing was stored; retry later');
      if (err instanceof QueueUnavailableError) return this.unavailable(err, 'the storage queue is unavailable: nothing was stored; retry');
      throw err;
    }
    // Stored: the user's next SYNC finds it, whatever happens to the live push.
    await this.settle(claim, seq);
    let delivered;
    try {
      delivered = await this.deps.chat.deliver([uid], message, { confirm: true, fresh: true });
    } catch (err) {
      return this.unavailable(err, "stored in the user's inbox, but the live push was not confirmed (it may or may not have arrived); a retry with the same key answers 200 duplicate");
    }
    return { status: 200, body: { to: uid, s: seq, id: message.id, delivered: delivered.online > 0, gateways: delivered.gateways } };
  }

  /** The intake step of a request: its key's claim and a number in `scope`. */
  private async admit(claim: string | undefined, scope: string): Promise<{ seq: number } | { dup: number }> {
    let verdict: IntakeVerdict;
    try {
      verdict = await this.deps.intake.admit({ claim, claimTtlMs: Math.min(CLAIM_TTL_MS, this.opts.dedupeTtlMs), ...API_BUCKET, scope });
    } catch (err) {
      throw this.unavailableError(err, 'the sequence store (Redis) is unavailable: nothing was done; retry');
    }
    if ('inFlight' in verdict) throw new ApiError(503, 'an earlier request with this key is still being processed: retry with the same key');
    if ('limited' in verdict) throw new ApiError(503, 'the backend API bucket is empty: nothing was done; retry');
    return verdict;
  }

  /**
   * Records a key's result for its retries. Awaited before the answer, so that a retry sent
   * after it is answered `duplicate` at once (not "still being processed"); a failure changes
   * nothing in the answer (what was done is done), and the claim lapses within 10 s.
   */
  private async settle(claim: string | undefined, seq: number): Promise<void> {
    if (claim !== undefined) await this.deps.intake.settle(claim, seq, this.opts.dedupeTtlMs).catch((err: unknown) => this.failures.failed(err));
  }

  /** Frees a claim whose request did nothing: a retry is processed anew. */
  private async release(claim: string | undefined): Promise<void> {
    if (claim !== undefined) await this.deps.intake.release(claim).catch((err: unknown) => this.failures.failed(err));
  }

  private unavailable(err: unknown, message: string): ApiAnswer {
    const e = this.unavailableError(err, message);
    return { status: e.status, body: { error: e.message } };
  }

  private unavailableError(err: unknown, message: string): ApiError {
    if (err !== null) this.failures.failed(err);
    return new ApiError(503, message);
  }
}

/** The request's idempotency key, if it has one. */
function keyOf(body: Json): string | undefined {
  if (body.key === undefined) return undefined;
  if (typeof body.key !== 'string' || !KEY.test(body.key)) throw new ApiError(400, 'key must be 1-64 printable ASCII characters (0x21-0x7E)');
  return body.key;
}

/**
 * The claim of a key: `|<scope>|<key>`. A user's claims are `<uid>|<id>` and no uid is empty,
 * so no client can take a key of the API's; the scope makes a key name one request to one
 * room or user (the same key for another target is another request).
 */
function claimOf(scope: string, key: string): string {
  return `|${scope}|${key}`;
}

/**
 * A keyed notice's message id, from its claim and seq: a retry answered `duplicate` names the
 * same id as the first answer and the stored copies, without storing anything more.
 */
function noticeId(claim: string, seq: number): string {
  return createHash('sha256').update(`${claim}\n${seq}`).digest().subarray(0, 12).toString('base64url');
}

/** Runs a validation of the send path; its ProtocolError becomes a 400. */
function badInput<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof ProtocolError) throw new ApiError(400, err.message);
    throw err;
  }
}

/** A NATS request's JSON object. */
function parseRequest(data: Uint8Array): Json {
  if (data.length > MAX_BODY) throw new ApiError(413, `request larger than ${MAX_BODY} bytes`);
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    throw new ApiError(400, 'request is not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ApiError(400, 'request must be a JSON object');
  return v as Json;
}
