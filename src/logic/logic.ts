// The logic service: validates, authorizes, rate-limits, de-duplicates, sequences, stores
// and publishes upstream room messages. Stateless: all state is behind the Store seams, so
// any number of instances can serve the same queue group.

import type { RoomBus } from '../bus/index.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { Errors, ProtocolError } from '../protocol/errors.js';
import { encodeItem } from '../protocol/items.js';
import { KIND_NAMES, Kind, ROOM_ID } from '../protocol/ops.js';
import type { Store } from '../store/index.js';
import { decodeRequest, encodeReply, type UpstreamReply, type UpstreamRequest } from './upstream.js';
import { validateSend } from './validate.js';

export interface LogicOptions {
  readonly maxTextLength: number;
  readonly userMessageRate: number;
  readonly userMessageBurst: number;
  readonly dedupeTtlMs: number;
}

/** Roles allowed to send notices into a room. */
const NOTICE_ROLES = new Set(['admin', 'moderator']);

export class Logic {
  constructor(
    private readonly bus: RoomBus,
    private readonly store: Store,
    private readonly opts: LogicOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /** The request handler served on the bus. Always answers: an ack or an error code. */
  readonly handle = async (data: Uint8Array): Promise<Uint8Array> => {
    let req: UpstreamRequest | null;
    try {
      req = decodeRequest(data);
    } catch (err) {
      this.log.warn({ err }, 'undecodable upstream request');
      req = null;
    }
    if (!req) {
      this.metrics.upstreamHandled('unknown', Errors.BadFrame.reason);
      return encodeReply({ e: Errors.BadFrame.code, m: 'malformed upstream request' });
    }
    return encodeReply(await this.send(req));
  };

  async send(req: UpstreamRequest): Promise<UpstreamReply> {
    const kindName = KIND_NAMES[(req.b as { k?: number } | null)?.k ?? 0] ?? 'unknown';
    try {
      const reply = await this.accept(req);
      this.metrics.upstreamHandled(kindName, 'dup' in reply ? 'duplicate' : 'accepted');
      return reply;
    } catch (err) {
      if (err instanceof ProtocolError) {
        this.metrics.upstreamHandled(kindName, err.entry.reason);
        return { e: err.entry.code, m: err.message };
      }
      this.log.error({ err, uid: req.u }, 'upstream message failed');
      this.metrics.upstreamHandled(kindName, Errors.Internal.reason);
      return { e: Errors.Internal.code, m: Errors.Internal.message };
    }
  }

  private async accept(req: UpstreamRequest): Promise<UpstreamReply> {
    if (!ROOM_ID.test(req.room)) throw new ProtocolError(Errors.InvalidRoom);
    const { fields, cmid } = validateSend(req.b, this.opts);
    if (fields.k === Kind.Notice && !req.r.some((r) => NOTICE_ROLES.has(r))) {
      throw new ProtocolError(Errors.Forbidden, 'notices need the admin or moderator role');
    }
    const { deduper, limiter, sequencer, history } = this.store;
    const dedupeKey = cmid === undefined ? undefined : `${req.u}:${cmid}`;
    if (dedupeKey !== undefined) {
      const prior = await deduper.claim(dedupeKey, this.opts.dedupeTtlMs);
      if (prior !== undefined) return { s: prior, t: req.at, dup: true };
    }
    let seq: number;
    try {
      if (!(await limiter.allow(`u:${req.u}`, this.opts.userMessageRate, this.opts.userMessageBurst))) {
        throw new ProtocolError(Errors.RateLimited);
      }
      seq = await sequencer.next(`room:${req.room}`);
    } catch (err) {
      // Nothing was published: let a retry with the same id be processed anew.
      if (dedupeKey !== undefined) await deduper.release(dedupeKey);
      throw err;
    }
    const data = encodeItem({ s: seq, u: req.u, n: req.n, t: req.at, ...fields });
    this.bus.publish(req.room, data);
    // Past this point the message is out: storage failures are logged, never turned into a
    // rejection that would make the client retry and duplicate it.
    if (fields.k !== Kind.Like) {
      history.append(req.room, { seq, data }).catch((err: unknown) => this.log.error({ err, room: req.room }, 'history append failed'));
    }
    if (dedupeKey !== undefined) {
      deduper.settle(dedupeKey, seq, this.opts.dedupeTtlMs).catch((err: unknown) => this.log.error({ err }, 'dedupe settle failed'));
    }
    return { s: seq, t: req.at };
  }
}
