// Group and user messages: fanned out to UIDs upstream. The recipients' gateways come from the
// registry, and each gateway gets ONE delivery naming its local recipients, carrying the
// client frame encoded once. Users online nowhere are skipped here: they find the message in
// their offline inbox (the storage queue writes it, src/queue/).

import { randomBytes } from 'node:crypto';
import { BusTimeoutError, type NodeBus } from '../bus/index.js';
import type { Metrics } from '../metrics.js';
import { encodeFrame } from '../protocol/codec.js';
import { encodeDelivery } from '../protocol/delivery.js';
import { Op } from '../protocol/ops.js';
import type { Registry } from '../registry/index.js';

/** The body of a MESSAGE frame (docs/protocol.md, "MESSAGE"). */
export interface ChatMessage {
  /** group id, for a group message */
  g?: string;
  /** recipient uid, for a message to one user */
  to?: string;
  /** sequence number in the conversation (0: unsequenced) */
  s: number;
  /** sender uid ('' for a server notice) */
  u: string;
  n: string;
  t: number;
  x: string;
  /** server message id: the same in the live MESSAGE and in the stored copies */
  id: string;
}

/** A server message id: 96 random bits, base64url (16 characters). */
export function messageId(): string {
  return randomBytes(12).toString('base64url');
}

export interface Delivered {
  /** recipients online on some gateway */
  readonly online: number;
  readonly gateways: number;
}

export interface DeliverOptions {
  /** send nothing while the bus is down, and resolve once the bus has taken it */
  readonly confirm?: boolean;
  /** look the recipients up in the registry, not in the cache */
  readonly fresh?: boolean;
}

/** Users whose registry answer a logic process keeps at most. */
const CACHE_MAX = 200_000;

interface Cached {
  readonly at: number;
  /** the gateways holding the user; empty: online nowhere */
  readonly gateways: readonly string[];
}

export class ChatFanout {
  /**
   * Registry answers of the last `cacheMs`, by uid, oldest first. A group's members are looked
   * up for every message to it: without the cache a 100-member group costs 100 registry reads
   * per message. A user who connects is missed by live delivery for up to `cacheMs` more (the
   * inbox has the message); a user who left is sent to a gateway that drops it.
   */
  private readonly cache = new Map<string, Cached>();

  constructor(
    private readonly registry: Registry,
    private readonly bus: NodeBus,
    private readonly metrics: Metrics,
    private readonly cacheMs = 0,
  ) {}

  /** uids being looked up now: a message to the same group waits for that answer. */
  private readonly inflight = new Map<string, Promise<unknown>>();

  /** The gateways of each user online somewhere, from the cache where it is fresh. */
  private async lookup(uids: readonly string[]): Promise<Map<string, readonly string[]>> {
    if (this.cacheMs <= 0) return this.registry.lookup(uids);
    let missing: string[] | null = null;
    let waiting: Set<Promise<unknown>> | null = null;
    const now = performance.now();
    for (const uid of uids) {
      const hit = this.cache.get(uid);
      if (hit !== undefined && now - hit.at < this.cacheMs) continue;
      const pending = this.inflight.get(uid);
      if (pending) (waiting ??= new Set()).add(pending);
      else (missing ??= []).push(uid);
    }
    if (missing !== null) {
      const asked = missing;
      const lookup = this.registry.lookup(asked).then((found) => {
        const at = performance.now();
        for (const uid of asked) {
          this.cache.delete(uid); // re-inserted last: the map stays in age order
          this.cache.set(uid, { at, gateways: found.get(uid) ?? [] });
        }
        for (const [uid, c] of this.cache) {
          if (this.cache.size <= CACHE_MAX && at - c.at < this.cacheMs) break;
          this.cache.delete(uid);
        }
      });
      const settled = lookup.finally(() => {
        for (const uid of asked) if (this.inflight.get(uid) === settled) this.inflight.delete(uid);
      });
      for (const uid of asked) this.inflight.set(uid, settled);
      (waiting ??= new Set()).add(settled);
    }
    if (waiting !== null) await Promise.all(waiting);
    const where = new Map<string, readonly string[]>();
    for (const uid of uids) {
      const gateways = this.cache.get(uid)?.gateways;
      if (gateways !== undefined && gateways.length > 0) where.set(uid, gateways);
    }
    return where;
  }

  /**
   * Sends one message to every connection of `recipients`; rejects if the registry fails.
   * With `confirm`, it sends nothing while the bus is down (BusUnavailableError), and resolves
   * only once the bus has taken what was sent; once something was sent, a failure is a
   * BusTimeoutError: it may still arrive (an answer to someone outside depends on telling the
   * two apart). Without it, a caller that awaits it and then answers over the same bus
   * connection cannot have its answer overtake the deliveries (MSG does not await it).
   * The message's id makes it a tracked push: gateways resend it until it is acknowledged.
   */
  async deliver(recipients: readonly string[], message: ChatMessage, opts: DeliverOptions = {}): Promise<Delivered> {
    return this.deliverFrame(recipients, encodeFrame(Op.Message, 0, message), { ...opts, id: message.id });
  }

  /** As deliver(), with the client frame (MESSAGE, UNREAD) already encoded; `id`: a MESSAGE's id, to track. */
  async deliverFrame(recipients: readonly string[], frame: Uint8Array, opts: DeliverOptions & { id?: string } = {}): Promise<Delivered> {
    // `fresh`: from the registry itself, for what must not miss a connection opened a moment
    // ago (a notice, whose API answer says whether it was delivered; UNREAD after a READ).
    const where = opts.fresh ? await this.registry.lookup(recipients) : await this.lookup(recipients);
    const byGateway = new Map<string, string[]>();
    for (const [uid, gateways] of where) {
      for (const gw of gateways) {
        const list = byGateway.get(gw);
        if (list) list.push(uid);
        else byGateway.set(gw, [uid]);
      }
    }
    if (byGateway.size > 0) {
      const deliveries = [...byGateway].map(([gw, uids]) => [gw, encodeDelivery(uids, frame, opts.id)] as const);
      // Checked right before sending, with nothing awaited in between: a publish made while
      // NATS is down would wait in the client's buffer and might go out later.
      if (opts.confirm) await this.bus.confirm();
      for (const [gw, data] of deliveries) this.bus.sendToNode(gw, data);
      if (opts.confirm) {
        try {
          await this.bus.confirm();
        } catch (err) {
          throw new BusTimeoutError('sent, but the bus did not confirm it: it may or may not arrive', { cause: err });
        }
      }
    }
    this.metrics.chatFanout(recipients.length, where.size, byGateway.size);
    return { online: where.size, gateways: byGateway.size };
  }
}
