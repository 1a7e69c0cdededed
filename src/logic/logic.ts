// The logic service: validates, authorizes, rate-limits, de-duplicates, sequences, stores and
// publishes upstream messages. Room items (SEND) are stored in the room's recovery window, then
// published once to the room (room-items.ts); group and
// user messages (MSG) go into the storage queue (src/queue/: durable before the ACK), then are
// fanned out to their recipients' gateways (chat.ts). The chat reads (SYNC, HISTORY, CONTACTS,
// READ) are chat-reads.ts. Stateless: all
// state is behind the storage seams it is given (LogicStores) and the registry, so any number
// of instances can serve the same queue group.

import type { RoomBus } from '../bus/index.js';
import { FailureLog } from '../failure-log.js';
import type { Logger } from '../log.js';
import { isRedisUnavailable } from '../redis/client.js';
import { ReplicaWaitError, type ReplicaConfirm, type ReplicaTicket } from '../redis/replica-wait.js';
import type { Metrics } from '../metrics.js';
import { Errors, overloadRetryMs, ProtocolError } from '../protocol/errors.js';
import { encode, encodeFrameWithBody } from '../protocol/codec.js';
import { encodeItem } from '../protocol/items.js';
import { kindName } from '../protocol/kinds.js';
import { Op, ROOM_ID } from '../protocol/ops.js';
import type { Groups } from '../store/groups/index.js';
import type { ClaimSettle, RoomHistory } from '../store/history/index.js';
import type { Intake } from '../store/intake/index.js';
import { scopes } from '../store/sequence/index.js';
import { QueueFullError, QueueUnavailableError, type ChatQueue } from '../queue/index.js';
import { messageId, type ChatFanout, type ChatMessage } from './chat.js';
import { ChatReads } from './chat-reads.js';
import { MaybeStoredError, mustBeReplicated, NOT_CONFIRMED, NotStoredError, Republisher, StoredNotPublishedError, storeThenPublish } from './room-items.js';
import { decodeRequests, encodeReply, MAX_BATCH_REQUESTS, type UpstreamReply, type UpstreamRequest } from './upstream.js';
import { validateMessage, validateSend } from './validate.js';
import type { ContentModeration } from './moderation.js';

/** The storage seams the logic service uses, and nothing more. */
export interface LogicStores {
  readonly history: RoomHistory;
  readonly intake: Intake;
  readonly groups: Groups;
  /** the storage queue of chat messages: a MSG is acknowledged once it is in it */
  readonly queue: ChatQueue;
  /** REDIS_WAIT_REPLICAS: a gift's or notice's ACK waits for the Redis replicas; null or absent: none */
  readonly replicas?: ReplicaConfirm | null;
}

export interface LogicOptions {
  readonly maxTextLength: number;
  readonly userMessageRate: number;
  readonly userMessageBurst: number;
  readonly dedupeTtlMs: number;
  /** requests this process handles at once; more are refused at once with ERROR 32 */
  readonly logicMaxInflight: number;
  /** groups with more members get no per-member inbox writes (history only) */
  readonly bigGroupSize: number;
  /** how long a group's member list is reused (0: read for every message) */
  readonly groupCacheMs: number;
}


/**
 * How long a client id stays claimed while its first attempt is processed: longer than any
 * attempt takes, short enough that a claim left by a logic process that died lapses soon.
 */
/** the bucket of approved held items: never empty (rate and burst per second) */
const APPROVED_RATE = 1_000_000;
const CLAIM_TTL_MS = 10_000;

/** Groups whose last member list a logic process keeps for a Redis outage. */
const LAST_MEMBERS_MAX = 1_000;

export class Logic {
  private readonly internal: FailureLog;
  /** requests being handled: the bound of LOGIC_MAX_INFLIGHT */
  private inflight = 0;
  private badRequestLoggedAt = 0;
  private readonly storeWrites: FailureLog;
  /** the recovery window's appends: their own log, so that other writes' successes do not hide them */
  private readonly windowWrites: FailureLog;
  private readonly republisher: Republisher;
  private readonly liveDelivery: FailureLog;
  private readonly storeUnavailable: FailureLog;
  /** the member lists last read of recently active groups, for while the groups store fails */
  /** live deliveries under way (not awaited by their ACKs) */
  private delivering = 0;
  private readonly lastMembers = new Map<string, { readonly at: number; readonly members: string[] }>();
  private readonly membersReads = new Map<string, Promise<string[] | null>>();

  constructor(
    private readonly bus: RoomBus,
    private readonly stores: LogicStores,
    private readonly chat: ChatFanout,
    private readonly reads: ChatReads,
    private readonly opts: LogicOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    /** mutes, bans and the word filter (docs/moderation.md); null: none */
    private readonly moderation: ContentModeration | null = null,
  ) {
    this.internal = new FailureLog(log, 'upstream message processing');
    this.storeWrites = new FailureLog(log, 'de-duplication writes');
    this.windowWrites = new FailureLog(log, 'recovery window appends (ERROR 30: may or may not be stored)');
    this.republisher = new Republisher(stores.history, bus, log);
    this.liveDelivery = new FailureLog(log, 'live delivery of chat messages (they stay in the inboxes)');
    this.storeUnavailable = new FailureLog(log, 'Redis answers for chat messages and reads (ERROR 30)');
    metrics.watchLogic(() => this.inflight);
  }

  /**
   * The request handler served on the bus: a batch of requests (or one, from an older
   * gateway). Always answers, one reply per request: an ack or an error code. Past
   * `logicMaxInflight` requests in progress, the rest of a batch is refused at once (ERROR 32
   * with a retry hint): work queued beyond what the stores can take only grows latency until
   * every request times out, and the bus connection with it.
   */
  readonly handle = async (data: Uint8Array): Promise<Uint8Array> => {
    let decoded: { batch: boolean; reqs: (UpstreamRequest | null)[] } | null;
    try {
      decoded = decodeRequests(data);
    } catch (err) {
      this.badRequest(err);
      decoded = { batch: false, reqs: [null] };
    }
    if (!decoded) {
      this.badRequest(new Error(`a batch of more than ${MAX_BATCH_REQUESTS} requests`));
      this.metrics.upstreamHandled('unknown', Errors.BadFrame.reason);
      return encodeReply({ e: Errors.BadFrame.code, m: `at most ${MAX_BATCH_REQUESTS} requests per batch` });
    }
    const { batch, reqs } = decoded;
    const room = Math.max(0, this.opts.logicMaxInflight - this.inflight);
    const taken = Math.min(room, reqs.length);
    this.inflight += taken;
    let replies: UpstreamReply[];
    try {
      // Past the bound a request is refused at once; an entry that is no request is answered
      // as such wherever it is (it costs nothing to handle).
      replies = await Promise.all(reqs.map((req, i) => (i < taken || req === null ? this.one(req) : this.shed(req))));
    } finally {
      this.inflight -= taken;
    }
    return encodeReply(batch ? replies : replies[0]!);
  };

  /** Logs undecodable upstream requests at warn, at most once per 10 s (any NATS client can send them). */
  private badRequest(err: unknown): void {
    const now = Date.now();
    if (now - this.badRequestLoggedAt < 10_000) return;
    this.badRequestLoggedAt = now;
    this.log.warn({ err }, 'undecodable upstream request (logged at most once per 10 s)');
  }

  private async one(req: UpstreamRequest | null): Promise<UpstreamReply> {
    if (!req) {
      this.metrics.upstreamHandled('unknown', Errors.BadFrame.reason);
      return { e: Errors.BadFrame.code, m: 'malformed upstream request' };
    }
    const started = performance.now();
    const reply = await this.send(req);
    this.metrics.logicHandled(req.o === Op.Msg ? 'msg' : req.o === Op.Send ? 'send' : 'read', (performance.now() - started) / 1000);
    return reply;
  }

  private shed(req: UpstreamRequest): UpstreamReply {
    this.metrics.upstreamShed('logic');
    this.metrics.upstreamHandled(labelOf(req), Errors.Overloaded.reason);
    return { e: Errors.Overloaded.code, m: Errors.Overloaded.message, r: overloadRetryMs() };
  }

  /**
   * `approved`: a held item a moderator approved (docs/moderation.md, "Review queue"): not
   * checked against mutes, bans and the filter again.
   */
  async send(req: UpstreamRequest, approved = false): Promise<UpstreamReply> {
    const label = labelOf(req);
    try {
      // A request of an op this version does not know (a newer gateway) is refused, not taken
      // for a SEND.
      let reply: UpstreamReply;
      if (ChatReads.handles(req.o)) reply = await this.reads.handle(req);
      else if (req.o === Op.Msg) reply = await this.acceptMessage(req, approved);
      else if (req.o === Op.Send) reply = await this.acceptRoomItem(req, approved);
      else if (req.o === Op.Moderate && this.moderation) reply = await this.moderation.moderate(req);
      else throw new ProtocolError(Errors.UnknownOp, `op ${req.o} is not an upstream request`);
      this.metrics.upstreamHandled(label, 'dup' in reply ? 'duplicate' : 'accepted');
      this.internal.succeeded();
      this.storeUnavailable.succeeded();
      return reply;
    } catch (err) {
      if (err instanceof ProtocolError) {
        this.metrics.upstreamHandled(label, err.entry.reason);
        return err.retryMs === undefined ? { e: err.entry.code, m: err.message } : { e: err.entry.code, m: err.message, r: err.retryMs };
      }
      if (err instanceof QueueFullError) {
        // The storage queue is at its limit (writers behind, or Redis down for long): refuse
        // like any overload, with a retry hint; nothing was stored or delivered.
        this.metrics.upstreamShed('queue');
        this.metrics.upstreamHandled(label, Errors.Overloaded.reason);
        return { e: Errors.Overloaded.code, m: 'the storage queue is full', r: overloadRetryMs() };
      }
      if (isRedisUnavailable(err)) {
        // A read, a group's members or a registry answer Redis did not give in time: retry.
        this.storeUnavailable.failed(err, { uid: req.u });
        this.metrics.upstreamHandled(label, Errors.Unavailable.reason);
        return { e: Errors.Unavailable.code, m: 'storage did not answer in time; retry' };
      }
      if (err instanceof QueueUnavailableError) {
        this.metrics.upstreamHandled(label, Errors.Unavailable.reason);
        return { e: Errors.Unavailable.code, m: 'the storage queue is unavailable; retry with the same id' };
      }
      this.internal.failed(err, { uid: req.u });
      this.metrics.upstreamHandled(label, Errors.Internal.reason);
      return { e: Errors.Internal.code, m: Errors.Internal.message };
    }
  }

  private async acceptRoomItem(req: UpstreamRequest, approved: boolean): Promise<UpstreamReply> {
    if (!ROOM_ID.test(req.room)) throw new ProtocolError(Errors.InvalidRoom);
    const mod = approved ? null : this.moderation;
    // Mutes and bans first: the cheapest checks, and a muted user's text is not filtered.
    mod?.checkMute(req.u, req.room);
    mod?.checkBan(req.u, req.room);
    const valid = validateSend(req.b, this.opts);
    const { kind, cmid } = valid;
    let fields = valid.fields;
    const roles = kind.senderRoles;
    if (roles && !req.r.some((r) => roles.includes(r))) {
      throw new ProtocolError(Errors.Forbidden, `${kind.name} items need one of the roles ${roles.join(', ')}`);
    }
    // The filter, before the intake: a refused or held text takes no seq, claim or rate token.
    const x = (fields as { x?: unknown }).x;
    if (mod && typeof x === 'string') {
      const checked = mod.checkText(req, req.room, x);
      const text = typeof checked === 'string' ? checked : await checked;
      if (text !== x) fields = { ...fields, x: text } as typeof fields;
    }
    const n = this.moderation ? this.moderation.name(req.n, req.u) : req.n;
    const replicas = mustBeReplicated(kind) ? (this.stores.replicas ?? null) : null;
    return this.sequenced(
      req,
      cmid,
      scopes.room(req.room),
      async (seq, settle, ticket) => {
        // Stored for recovery first (settling the claim in the same step), then published
        // (room-items.ts): the ACK of a replayed kind means the item is in the room's window.
        // Unsequenced items (the sequencer was unavailable) have no place in the seq-ordered
        // window; never-shed kinds are refused then.
        const data = encodeItem({ s: seq, u: req.u, n, t: req.at, ...fields });
        const settled = await storeThenPublish(this.stores.history, this.bus, { room: req.room, kind, seq, data }, settle, replicas && ticket ? { confirm: replicas, ticket } : null);
        if (kind.replayed && seq > 0) this.windowWrites.succeeded();
        return settled;
      },
      // A retry of a stored item: its first attempt may have stored it and never published it.
      // With REDIS_WAIT_REPLICAS, a never-shed one is acknowledged (and republished) only once
      // the replicas hold it: its first attempt may have been refused for want of them.
      kind.replayed
        ? async (seq, ticket) => {
            if (replicas && ticket) await this.replicated(replicas, ticket);
            await this.republisher.republish(req.room, seq);
          }
        : undefined,
      approved,
    );
  }

  private async acceptMessage(req: UpstreamRequest, approved: boolean): Promise<UpstreamReply> {
    const mod = approved ? null : this.moderation;
    mod?.checkMute(req.u, '');
    const valid = validateMessage(req.b, this.opts);
    const { target, cmid } = valid;
    const checked = mod ? mod.checkText(req, '', valid.x) : valid.x;
    const x = typeof checked === 'string' ? checked : await checked;
    const n = this.moderation ? this.moderation.name(req.n, req.u) : req.n;
    let recipients: string[];
    let scope: string;
    let inboxes: readonly string[];
    if ('g' in target) {
      const members = await this.membersOf(target.g);
      if (!members || !members.includes(req.u)) throw new ProtocolError(Errors.NotMember, `group ${target.g}`);
      recipients = members;
      scope = scopes.group(target.g);
      // A big group's message is stored once, in its history, and written to nobody's inbox:
      // members read the history (docs/protocol.md, "Big groups").
      inboxes = members.length > this.opts.bigGroupSize ? [] : members;
    } else {
      recipients = target.to === req.u ? [req.u] : [target.to, req.u]; // the sender's other connections too
      scope = scopes.direct(req.u, target.to);
      inboxes = recipients;
    }
    const claim = cmid === undefined ? undefined : `${req.u}|${cmid}`;
    const replicas = this.stores.replicas ?? null;
    return this.sequenced(req, cmid, scope, async (seq, _settle, ticket) => {
      // REDIS_WAIT_REPLICAS: the seq on the replicas before the message is acknowledged, so that a
      // failover cannot give it to another message (the writer would keep one of the two).
      if (replicas && ticket && seq > 0) {
        try {
          await replicas.confirm(ticket);
        } catch (err) {
          throw new ProtocolError(Errors.Unavailable, `the message's sequence number was ${NOT_CONFIRMED} (${(err as Error).message}): nothing was stored; retry with the same id`, { cause: err });
        }
      }
      const message: ChatMessage = { ...target, s: seq, u: req.u, n, t: req.at, x, id: messageId() };
      const m = encode(message);
      // The ACK waits for the queue: once the message is in it, it will reach every inbox and the
      // history, whatever happens to this process or to Redis. A failure here is a rejection
      // (nothing stored, nothing delivered): the client retries with the same id.
      // With the claim: the writer settles it once the message is stored (a retry then gets its
      // ACK even if this process dies before answering). Unsequenced messages' claims are local.
      await this.stores.queue.enqueue({ c: scope, s: seq, id: message.id, t: req.at, u: req.u, m, r: inboxes, ...(claim !== undefined && seq > 0 ? { k: claim } : {}) });
      // Stored: from here on, nothing may turn into a rejection (a retry would store it twice).
      // Live delivery is best effort, and the ACK does not wait for it (a registry lookup and
      // the bus): whoever misses it finds the message in the inbox.
      // Bounded: past LOGIC_MAX_INFLIGHT deliveries under way (a slow registry), the ACK waits
      // for its own, so that they cannot pile up without limit.
      this.delivering++;
      const delivered = this.chat.deliverFrame(recipients, encodeFrameWithBody(Op.Message, 0, m), { id: message.id }).then(
        () => this.liveDelivery.succeeded(),
        (err: unknown) => this.liveDelivery.failed(err, { scope }),
      );
      const done = delivered.finally(() => this.delivering--);
      if (this.delivering > this.opts.logicMaxInflight) await done;
    }, undefined, approved);
  }

  /** Waits for the replicas (a retry answered dup); ERROR 30 when they do not confirm. */
  private async replicated(replicas: ReplicaConfirm, ticket: ReplicaTicket): Promise<void> {
    try {
      await replicas.confirm(ticket);
    } catch (err) {
      // Logged by the waiter (once when rounds start failing), counted in its metric.
      throw new ProtocolError(Errors.Unavailable, `stored, ${NOT_CONFIRMED} (${(err as Error).message}): the item may or may not be stored; retry with the same id`, { cause: err });
    }
  }

  /** The admin API changed (or deleted) the group: its member list is read again. */
  groupChanged(g: string): void {
    this.lastMembers.delete(g);
  }

  /**
   * A group's members: read from the groups store at most once per `groupCacheMs` per group
   * (every message to a group needs them; concurrent ones share one read), and while the store
   * fails, the last list read (stale if error): a message acknowledged from it is stored and
   * reaches the inboxes once Redis is back, where otherwise group chat would stop with Redis.
   */
  private async membersOf(g: string): Promise<string[] | null> {
    const now = performance.now();
    const cached = this.lastMembers.get(g);
    if (cached && now - cached.at < this.opts.groupCacheMs) return cached.members;
    let reading = this.membersReads.get(g);
    if (!reading) {
      reading = this.stores.groups.members(g).finally(() => this.membersReads.delete(g));
      this.membersReads.set(g, reading);
    }
    try {
      const members = await reading;
      this.lastMembers.delete(g);
      if (members) {
        this.lastMembers.set(g, { at: performance.now(), members });
        // Bounded, oldest entries first: a cache of recently active groups.
        if (this.lastMembers.size > LAST_MEMBERS_MAX) this.lastMembers.delete(this.lastMembers.keys().next().value!);
      }
      return members;
    } catch (err) {
      if (cached === undefined) throw err;
      return cached.members;
    }
  }

  /**
   * The steps every upstream message shares: de-duplication by client id, the user's rate
   * limit and a sequence number in `scope` (one intake step: one Redis round trip), then
   * `publish`, given the claim to settle if it can do so atomically with storing the message
   * (it resolves true when it did). If nothing was stored or published, the client id is
   * released so that a retry is processed anew; once the message exists (published, or stored:
   * in the room's window or maybe in the storage queue), a retry must find it, so the outcome
   * is recorded for retries (not awaited) or the claim kept until it lapses. `onDup` runs for
   * a retry answered dup, before the answer.
   */
  private async sequenced(
    req: UpstreamRequest,
    cmid: string | undefined,
    scope: string,
    publish: (seq: number, settle: ClaimSettle | undefined, ticket: ReplicaTicket | null) => Promise<boolean | void>,
    onDup?: (seq: number, ticket: ReplicaTicket | null) => Promise<void>,
    approved = false,
  ): Promise<UpstreamReply> {
    const { intake } = this.stores;
    // '|' cannot occur in a uid, so the key is unambiguous whatever the client id holds.
    const claim = cmid === undefined ? undefined : `${req.u}|${cmid}`;
    const verdict = await intake.admit({
      claim,
      claimTtlMs: Math.min(CLAIM_TTL_MS, this.opts.dedupeTtlMs),
      // An approved held item took its token when it was first sent: it is not limited again
      // (its own bucket, never empty), so that an approval is never lost to the sender's rate.
      ...(approved ? { bucket: `a:${req.u}`, rate: APPROVED_RATE, burst: APPROVED_RATE } : { bucket: `u:${req.u}`, rate: this.opts.userMessageRate, burst: this.opts.userMessageBurst }),
      scope,
    });
    // REDIS_WAIT_REPLICAS: which socket the intake's writes (seq, claim) went on; a reconnection
    // before the confirmation refuses it (replica-wait.ts).
    const ticket = this.stores.replicas?.ticket() ?? null;
    if ('dup' in verdict) {
      if (onDup) await onDup(verdict.dup, ticket);
      return { s: verdict.dup, t: req.at, dup: true };
    }
    // Never acknowledge what is not known to be published: a retry racing its first attempt
    // (or one whose first attempt died with its process) is told to retry.
    if ('inFlight' in verdict) throw new ProtocolError(Errors.Unavailable, 'an earlier attempt with this id is still being processed; retry');
    if ('limited' in verdict) throw new ProtocolError(Errors.RateLimited);
    const seq = verdict.seq;
    let settled: boolean | void;
    try {
      settled = await publish(seq, claim === undefined ? undefined : { claim, ttlMs: this.opts.dedupeTtlMs }, ticket);
    } catch (err) {
      if (err instanceof NotStoredError) {
        // A gift refused for want of a seq: not logged here, the sequence store's fallback logs
        // that outage.
        if (claim !== undefined) await intake.release(claim).catch((e: unknown) => this.storeWrites.failed(e));
        throw new ProtocolError(Errors.Unavailable, `${err.message}: nothing was published; retry with the same id`, { cause: err });
      }
      if (err instanceof MaybeStoredError) {
        // Redis may have run the append (and settled the claim with it) after all: the claim is
        // kept. A retry finds dup (stored: acknowledged, and republished) or in flight until the
        // claim lapses (not stored: then processed anew). One copy either way.
        // A replica wait that failed is logged by the waiter; a failed append here.
        if (!(err.cause instanceof ReplicaWaitError)) this.windowWrites.failed(err.cause, { scope });
        throw new ProtocolError(Errors.Unavailable, `${err.message}: the item may or may not be stored; retry with the same id`, { cause: err });
      }
      if (err instanceof StoredNotPublishedError) {
        // It is in the room's window, its claim settled with it: a retry is told dup (and
        // republishes it), never stores it again.
        throw new ProtocolError(Errors.Unavailable, `${err.message}; a retry with the same id is acknowledged`, { cause: err });
      }
      if (err instanceof QueueUnavailableError && err.maybeStored) {
        // It may be in the storage queue after all: the claim is kept (a retry with the same id
        // is told to retry until it lapses), not released for a retry to store it a second time.
        throw new ProtocolError(Errors.Unavailable, 'the storage queue did not confirm: the message may or may not be stored; retry with the same id', { cause: err });
      }
      // Nothing was published: let a retry with the same id be processed anew.
      if (claim !== undefined) await intake.release(claim).catch((e: unknown) => this.storeWrites.failed(e));
      throw err;
    }
    if (claim !== undefined && settled !== true) {
      intake.settle(claim, seq, this.opts.dedupeTtlMs).then(
        () => this.storeWrites.succeeded(),
        (err: unknown) => this.storeWrites.failed(err),
      );
    }
    return { s: seq, t: req.at };
  }
}

/** The kind label of a request in danmaku_upstream_messages_total. */
function labelOf(req: UpstreamRequest | null): string {
  if (!req) return 'unknown';
  const b = req.b as { k?: number; g?: unknown } | null;
  if (req.o === Op.Msg) return b?.g !== undefined ? 'group' : 'direct';
  if (req.o === Op.Send) return kindName(b?.k);
  if (req.o === Op.Moderate) return 'moderate';
  return READ_LABELS[req.o] ?? 'unknown';
}

const READ_LABELS: Readonly<Record<number, string>> = { [Op.Sync]: 'sync', [Op.History]: 'history', [Op.Contacts]: 'contacts', [Op.Read]: 'read' };

