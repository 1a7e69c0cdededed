// The bus on NATS (cluster mode). Room items go to one subject per room, which a gateway
// subscribes to only while it has local members of the room; messages for one gateway go to
// its own subject; upstream requests go to a subject served by the logic processes as a
// queue group. The client reconnects by itself and restores every live subscription.
// Room items published during one turn of the event loop go out as one message per room (an
// array of items; a lone item stays a map), and a subscriber hands each item to the gateway
// on its own: per item, the broker and both clients then do a fraction of a message's work.

import { connect, errors, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { batchesOf } from '../coalesce.js';
import type { Logger } from '../log.js';
import { encodeArrayOfEncoded } from '../protocol/codec.js';
import { splitArray } from '../protocol/strict.js';
import { BusTimeoutError, BusUnavailableError, NoRespondersError, type ApiBus, type Bus, type BusObserver, type NodeHandler, type RequestHandler, type RoomHandler } from './index.js';
import type { Subjects } from './subjects.js';

/** Room items per bus message at most; a message also stays under the server's max_payload. */
const MAX_ITEMS_PER_MESSAGE = 256;
/** Room for the array header and the protocol line under max_payload. */
const PAYLOAD_MARGIN = 1024;

export interface NatsBusOptions {
  /** one URL or a comma-separated list of cluster members */
  readonly url: string;
  /** connection name, shown by the NATS server's monitoring */
  readonly name: string;
  readonly subjects: Subjects;
  readonly observer: BusObserver;
  readonly log: Logger;
  /** how long subscribe() and listen() wait for the server to confirm (default 3000 ms) */
  readonly timeoutMs?: number;
}

/**
 * A NATS connection of this server's (the bus's, the storage queue's): fails fast when no
 * server answers at boot; after that it reconnects forever, every 0.5 s with jitter.
 * `url`: one URL or a comma-separated list of cluster members.
 */
export function connectNats(url: string, name: string): Promise<NatsConnection> {
  return connect({
    servers: url.split(',').map((s) => s.trim()),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    reconnectJitter: 250,
    pingInterval: 10_000,
  });
}

export async function connectNatsBus(opts: NatsBusOptions): Promise<NatsBus> {
  return new NatsBus(await connectNats(opts.url, opts.name), opts);
}

export class NatsBus implements Bus, ApiBus {
  private readonly rooms = new Map<string, Subscription>();
  private readonly subs: Subscription[] = [];
  private handler: RoomHandler | undefined;
  private served: Subscription | undefined;
  /** the backend API's subscriptions (serveApi) */
  private readonly apiServed: Subscription[] = [];
  /** requests being handled; close() waits for their replies */
  private inflight = 0;
  private closing = false;
  /** false between a disconnect and the reconnect */
  private up = true;
  private readonly watching: Promise<void>;
  /** room items published in this turn of the event loop, by room, not yet sent */
  private outbox = new Map<string, Uint8Array[]>();
  private outboxScheduled = false;
  /** run after each reconnect (ControlBus.onReconnect) */
  private readonly reconnectListeners: (() => void)[] = [];

  constructor(
    private readonly nc: NatsConnection,
    private readonly opts: NatsBusOptions,
  ) {
    opts.observer.busConnected(true);
    this.watching = this.watch();
  }

  /** Logs each connection event once and counts it. */
  private async watch(): Promise<void> {
    const { log, observer } = this.opts;
    for await (const s of this.nc.status()) {
      switch (s.type) {
        case 'disconnect':
          this.up = false;
          observer.busConnected(false);
          observer.busEvent('disconnect');
          log.warn({ server: s.server }, 'NATS connection lost; reconnecting');
          break;
        case 'reconnect':
          this.up = true;
          observer.busConnected(true);
          observer.busEvent('reconnect');
          log.info({ server: s.server, rooms: this.rooms.size }, 'NATS reconnected; subscriptions restored');
          for (const listener of this.reconnectListeners) this.guard('reconnect', listener);
          if (this.handler?.roomsRestored) {
            Promise.resolve(this.handler.roomsRestored()).catch((err: unknown) => log.error({ err }, 'refilling rooms after the reconnect failed'));
          }
          break;
        case 'error':
        case 'slowConsumer':
        case 'staleConnection':
        case 'ldm':
          observer.busEvent(s.type);
          log.warn({ status: s }, 'NATS event');
          break;
        default:
          break; // 'reconnecting', 'ping', 'update': too frequent or harmless
      }
    }
  }

  /** Whether the connection is up now (false while it reconnects, and once closed). */
  get connected(): boolean {
    return this.up && !this.nc.isClosed();
  }

  /** Whether it serves upstream requests (serve() called, subscription not closed). */
  get serving(): boolean {
    return this.served !== undefined && !this.served.isClosed() && !this.closing;
  }

  attach(handler: RoomHandler): void {
    if (this.handler) throw new Error('a room handler is already attached');
    this.handler = handler;
  }

  publish(room: string, data: Uint8Array): void {
    // Not refused while closing: requests still being handled publish before they answer.
    // Refused once closed, at once, as nats.js would: the caller must not take it as sent.
    if (this.nc.isClosed()) throw new BusUnavailableError('the NATS connection is closed');
    // Too large to send at all: refused now, while the caller can still answer with an error.
    if (data.length > this.maxPayload) throw new Error(`a room item of ${data.length} bytes is over NATS' max_payload of ${this.maxPayload}`);
    const queued = this.outbox.get(room);
    if (queued) queued.push(data);
    else this.outbox.set(room, [data]);
    if (!this.outboxScheduled) {
      this.outboxScheduled = true;
      setImmediate(this.flushOutbox);
    }
  }

  /**
   * Sends the room items published so far, one message per room (at most MAX_ITEMS_PER_MESSAGE
   * items each). Runs after the turn, and before anything that must follow them: a request's
   * reply (its ACK must not overtake its item), confirm() and close().
   */
  private readonly flushOutbox = (): void => {
    this.outboxScheduled = false;
    if (this.outbox.size === 0) return;
    const outbox = this.outbox;
    this.outbox = new Map();
    const limit = this.maxPayload - PAYLOAD_MARGIN;
    for (const [room, items] of outbox) {
      const subject = this.opts.subjects.room(room);
      for (const chunk of batchesOf(items, MAX_ITEMS_PER_MESSAGE, limit, (item) => item.length)) this.publishItems(subject, chunk);
    }
  };

  /**
   * One message of room items. Each item fits in a message (publish() checks), so if the
   * array does not go out, the items go one by one: an acknowledged item is not lost to its
   * neighbours.
   */
  private publishItems(subject: string, items: Uint8Array[]): void {
    try {
      this.nc.publish(subject, items.length === 1 ? items[0]! : encodeArrayOfEncoded(items));
      this.opts.observer.busPublished('room');
      return;
    } catch (err) {
      if (items.length === 1) return this.publishFailed(err);
    }
    for (const item of items) {
      try {
        this.nc.publish(subject, item);
        this.opts.observer.busPublished('room');
      } catch (err) {
        this.publishFailed(err);
      }
    }
  }

  private publishFailed(err: unknown): void {
    this.opts.observer.busEvent('handler_error');
    this.opts.log.warn({ err }, 'a room item could not be published');
  }

  /** The server's max_payload (1 MB unless configured otherwise). */
  private get maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  async subscribe(room: string): Promise<void> {
    if (this.closing || this.rooms.has(room)) return;
    // Nothing published to the room could be promised to reach it: fail now, not after a timeout.
    if (!this.up) throw new BusTimeoutError(`subscription to room ${room}: NATS is unreachable`);
    const handler = this.handler;
    if (!handler) throw new Error('attach a room handler before subscribing');
    const { observer } = this.opts;
    const sub = this.nc.subscribe(this.opts.subjects.room(room), {
      callback: (err, msg) => {
        if (err) return this.opts.log.error({ err, room }, 'room subscription failed');
        observer.busReceived('room');
        // Copied: the payload is a view into the socket's read buffer, and the gateway keeps
        // items in its replay window. An array is several items; anything else is given as
        // it is, for the gateway's checks to count and drop if it is not an item.
        const items = splitArray(msg.data);
        // An empty array is handed over as it is, to be counted as a bad item.
        if (!items || items.length === 0) return this.guard('room message', () => handler.roomMessage(room, msg.data.slice(), false));
        for (const item of items) this.guard('room message', () => handler.roomMessage(room, item.slice(), false));
      },
    });
    this.rooms.set(room, sub);
    // Resolves once the server has the subscription: nothing published after this is missed.
    // While NATS is unreachable that cannot be promised: the caller gets an error (the client
    // ERROR 30) instead of waiting; the room's release unsubscribes.
    await this.confirmed(`subscription to room ${room}`);
  }

  private async confirmed(what: string): Promise<void> {
    const ms = this.opts.timeoutMs ?? 3_000;
    // The connection can drop while the flush waits (the client rejects it with its own error):
    // the bus's error, so that callers can tell an outage from a bug.
    const flushed = this.nc.flush().catch((err: unknown) => {
      throw new BusUnavailableError(`${what}: the NATS connection was lost before it confirmed`, { cause: err });
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BusTimeoutError(`${what}: NATS did not confirm within ${ms} ms`)), ms);
    });
    flushed.catch(() => undefined); // after a timeout nobody awaits it
    try {
      await Promise.race([flushed, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  unsubscribe(room: string): void {
    const sub = this.rooms.get(room);
    if (!sub) return;
    this.rooms.delete(room);
    sub.unsubscribe();
  }

  async listen(nodeId: string, handler: NodeHandler): Promise<void> {
    const { observer } = this.opts;
    this.subs.push(
      this.nc.subscribe(this.opts.subjects.node(nodeId), {
        callback: (err, msg) => {
          if (err) return this.opts.log.error({ err }, 'gateway subscription failed');
          observer.busReceived('node');
          this.guard('gateway message', () => handler.nodeMessage(msg.data));
        },
      }),
    );
    await this.confirmed(`subscription to ${this.opts.subjects.node(nodeId)}`);
  }

  broadcast(data: Uint8Array): void {
    if (this.nc.isClosed()) throw new BusUnavailableError('the NATS connection is closed');
    this.nc.publish(this.opts.subjects.control, data);
    this.opts.observer.busPublished('control');
  }

  async onBroadcast(handler: (data: Uint8Array) => void): Promise<void> {
    const { observer } = this.opts;
    this.subs.push(
      this.nc.subscribe(this.opts.subjects.control, {
        callback: (err, msg) => {
          if (err) return this.opts.log.error({ err }, 'control subscription failed');
          observer.busReceived('control');
          this.guard('control message', () => handler(msg.data));
        },
      }),
    );
    await this.confirmed(`subscription to ${this.opts.subjects.control}`);
  }

  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  sendToNode(nodeId: string, data: Uint8Array): void {
    this.nc.publish(this.opts.subjects.node(nodeId), data);
    this.opts.observer.busPublished('node');
  }

  async confirm(): Promise<void> {
    // A publish made now would sit in the client's reconnect buffer and may or may not go out.
    if (!this.up || this.nc.isClosed()) throw new BusUnavailableError('NATS is unreachable');
    this.flushOutbox();
    await this.confirmed('publish');
  }

  async request(data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    // Sent now it would wait in the reconnect buffer and most likely time out: fail at once.
    if (!this.up) throw new BusUnavailableError('NATS is unreachable');
    this.opts.observer.busPublished('request');
    try {
      const reply = await this.nc.request(this.opts.subjects.upstream, data, { timeout: timeoutMs });
      return reply.data;
    } catch (err) {
      if (err instanceof errors.TimeoutError) throw new BusTimeoutError(`no reply within ${timeoutMs} ms`, { cause: err });
      if (err instanceof errors.NoRespondersError || (err instanceof errors.RequestError && err.isNoResponders())) {
        throw new NoRespondersError('no logic instance is serving requests', { cause: err });
      }
      throw err;
    }
  }

  serve(handler: RequestHandler): void {
    if (this.served) throw new Error('this bus already serves requests');
    this.served = this.serveOn(this.opts.subjects.upstream, 'upstream', handler);
  }

  serveApi(subject: string, handler: RequestHandler): void {
    this.apiServed.push(this.serveOn(subject, 'backend API', handler));
  }

  /** A queue-group subscription whose handler's answer is the reply; close() lets it finish. */
  private serveOn(subject: string, what: string, handler: RequestHandler): Subscription {
    const { observer, log } = this.opts;
    return this.nc.subscribe(subject, {
      queue: this.opts.subjects.logicQueue,
      callback: (err, msg) => {
        if (err) return log.error({ err, subject }, `${what} subscription failed`);
        observer.busReceived('request');
        this.inflight++;
        Promise.resolve()
          .then(() => handler(msg.data))
          .then(
            (reply) => {
              // The items this request published go out before its reply. A reply that cannot
              // be sent (closed, or over max_payload) is logged; the requester times out.
              try {
                this.flushOutbox();
                if (msg.reply) msg.respond(reply);
              } catch (err) {
                observer.busEvent('handler_error');
                log.warn({ err }, `${what} reply could not be sent`);
              }
            },
            (e: unknown) => log.error({ err: e }, `${what} request handler failed`), // the requester times out
          )
          .finally(() => this.inflight--);
      },
    });
  }

  /**
   * Runs a handler inside a NATS callback. nats.js calls callbacks from its socket reader: a
   * throw there would stop the connection's reading until a stale-connection reconnect.
   */
  private guard(what: string, run: () => void): void {
    try {
      run();
    } catch (err) {
      this.opts.observer.busEvent('handler_error');
      this.opts.log.error({ err }, `${what} handler failed`);
    }
  }

  /** Resolves after a round trip to the server: what this node published before is delivered. */
  async flush(): Promise<void> {
    this.flushOutbox();
    if (!this.nc.isClosed()) await this.nc.flush();
  }

  /** Stops taking requests, lets in-flight ones answer (up to 2 s), then drains and closes. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.rooms.clear();
    const within = <T>(p: Promise<T>, ms: number) => Promise.race([p.catch(() => undefined), new Promise((r) => setTimeout(r, ms))]);
    const served = [...(this.served ? [this.served] : []), ...this.apiServed];
    if (served.length > 0 && !this.nc.isClosed()) {
      // drain, not unsubscribe: requests already received are still handled and answered.
      await within(Promise.all(served.map((s) => s.drain())), 2_000);
      const deadline = Date.now() + 2_000;
      while (this.inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    }
    this.flushOutbox();
    // While NATS is unreachable, drain would wait forever: give it a bound, then close.
    if (!this.nc.isClosed()) await within(this.nc.drain(), 2_000);
    if (!this.nc.isClosed()) await this.nc.close().catch(() => undefined);
    await within(this.watching, 500);
  }
}
