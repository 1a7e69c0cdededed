// The chat storage queue on NATS JetStream (cluster mode). One stream (file storage) on one
// subject, with work-queue retention: a message is removed once a writer acks it, so the
// stream holds exactly the backlog and its byte limit (discard new) bounds the backlog, not
// the history of everything ever queued (with limits retention, a week of applied messages
// would fill max_bytes and refuse new ones while nothing waits). One durable pull consumer,
// shared by every writer in the cluster: each queue message goes to one writer at a time, and
// one that is not acked within ack_wait (its writer died) goes to another.
//
// The queue has a NATS connection of its own (connectJetStreamQueue), not the bus's: its
// publishes wait for a PubAck from the stream's disk write, and its writers pull batches of up
// to half a megabyte each; on the bus's connection that traffic would queue in front of room
// items, and a slow stream would be mistaken for a slow bus. Its status (up or not) is its own
// too: an enqueue is refused at once (QueueUnavailableError) while this connection is down.

import { randomBytes } from 'node:crypto';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  JetStreamError,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type Consumer,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StreamConfig,
} from '@nats-io/jetstream';
import { ClosedConnectionError, DrainingConnectionError, RequestError, TimeoutError, nanos, type NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '../bus/nats.js';
import type { Subjects } from '../bus/subjects.js';
import { Coalescer } from '../coalesce.js';
import type { Logger } from '../log.js';
import { encodeArrayOfEncoded } from '../protocol/codec.js';
import {
  BACKLOG_POLL_MS,
  BatchRetryError,
  DEFAULT_MAX_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_RECORDS_PER_MESSAGE,
  QueueFullError,
  QueueUnavailableError,
  backoffMs,
  Pause,
  decodeMessage,
  encodeRecord,
  lagsOf,
  type ApplyFn,
  type ChatQueue,
  type QueueObserver,
  type StoredRecord,
  type Writer,
} from './index.js';

export const DEFAULT_MAX_AGE_MS = 7 * 24 * 3600_000;
export const DEFAULT_ACK_WAIT_MS = 30_000;
/** queue messages per writer pull (each up to MAX_RECORDS_PER_MESSAGE records) */
export const DEFAULT_BATCH_MESSAGES = 64;
/** how long enqueue() retries a publish without a PubAck before refusing */
export const DEFAULT_PUBLISH_TIMEOUT_MS = 5_000;
/** delivered-not-acked queue messages across all writers: bounds what the writers hold */
export const DEFAULT_MAX_ACK_PENDING = 1024;
/** how long a writer's pull waits for messages (nats.js' minimum is 1 s); also stop()'s bound */
export const DEFAULT_FETCH_EXPIRES_MS = 2_000;
/** the longest nak delay, and pause, after failed applies: well under ack_wait */
export const DEFAULT_BACKOFF_CAP_MS = 15_000;
/** the stream's de-duplication window of Nats-Msg-Id (publish retries fall well inside it) */
export const DUPLICATE_WINDOW_MS = 120_000;
export const DURABLE_NAME = 'store-writers';

/** One publish attempt waits this long for its PubAck before it is sent again (same id). */
const ATTEMPT_TIMEOUT_MS = 2_000;
/** Room for the array header and headers over MAX_MESSAGE_BYTES in the stream's max_msg_size. */
const MSG_SIZE_MARGIN = 4096;
/** Pause between failed pulls (the server is down or restarting): short, to resume soon. */
const FETCH_RETRY_CAP_MS = 2_000;

export interface JetStreamQueueOptions {
  readonly subjects: Pick<Subjects, 'chatStore' | 'chatStream'>;
  readonly observer: QueueObserver;
  readonly log: Logger;
  /** the stream's max_bytes (discard new): a full stream refuses enqueues (CHAT_QUEUE_MAX_BYTES) */
  readonly maxBytes?: number;
  /** the stream's max_age: a record not applied in this long is dropped by the server */
  readonly maxAgeMs?: number;
  /** the stream's replicas (CHAT_QUEUE_REPLICAS): 3 on a JetStream cluster survives a server's loss */
  readonly replicas?: number;
  /** the consumer's ack_wait: a writer that died holds its messages this long */
  readonly ackWaitMs?: number;
  readonly batchMessages?: number;
  readonly publishTimeoutMs?: number;
  readonly maxAckPending?: number;
  readonly fetchExpiresMs?: number;
  readonly backoffCapMs?: number;
}

export interface JetStreamQueueConnectOptions extends JetStreamQueueOptions {
  /** one URL or a comma-separated list of cluster members */
  readonly url: string;
  /** connection name, shown by the NATS server's monitoring */
  readonly name: string;
}

/**
 * Connects (failing fast when no server answers at boot; after that it reconnects forever),
 * then creates or updates the stream and the consumer.
 */
export async function connectJetStreamQueue(opts: JetStreamQueueConnectOptions): Promise<JetStreamQueue> {
  const nc = await connectNats(opts.url, opts.name);
  const queue = new JetStreamQueue(nc, opts);
  try {
    await queue.start();
  } catch (err) {
    await queue.close();
    throw err;
  }
  return queue;
}

/** 'maximum messages exceeded', 'maximum bytes exceeded' (discard new), or the account's or
 *  server's storage being exhausted: the stream refuses, the client is told to retry later. */
function isFull(err: unknown): boolean {
  return err instanceof JetStreamApiError && /maximum (messages|bytes)|insufficient resources|resource limits exceeded/i.test(err.message);
}

/** Errors after which the same publish may succeed: no PubAck yet, or no stream answering yet
 *  (a restarted server that has not loaded it). The same message id makes a retry safe. */
function isTransient(err: unknown): boolean {
  if (err instanceof TimeoutError) return true;
  if (err instanceof RequestError && err.isNoResponders()) return true;
  // nats.js maps a no-responders publish to JetStreamNotEnabled; a 503 is "temporarily unavailable".
  if (err instanceof JetStreamApiError) return err.status === 503;
  return err instanceof JetStreamError && /not enabled/i.test(err.message);
}

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

function isConnectionError(err: unknown): boolean {
  return err instanceof ClosedConnectionError || err instanceof DrainingConnectionError;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class JetStreamQueue implements ChatQueue {
  private readonly js: JetStreamClient;
  private jsm: JetStreamManager | undefined;
  private readonly batcher: Coalescer<Uint8Array, void>;
  private readonly writers = new Set<JetStreamWriter>();
  private closed = false;
  /** false between a disconnect and the reconnect */
  private up = true;
  /** the publishes waiting for a PubAck: refused at once when the connection is lost */
  private readonly waiting = new Set<(err: Error) => void>();
  private readonly watching: Promise<void>;
  private poll: NodeJS.Timeout | undefined;
  private readonly stream: string;
  private readonly subject: string;

  constructor(
    /** owned: close() drains and closes it */
    readonly nc: NatsConnection,
    private readonly opts: JetStreamQueueOptions,
  ) {
    this.stream = opts.subjects.chatStream;
    this.subject = opts.subjects.chatStore;
    this.js = jetstream(nc, { timeout: ATTEMPT_TIMEOUT_MS });
    // One queue message per turn: the records of the messages accepted together.
    this.batcher = new Coalescer((items) => this.publish(items), { max: MAX_RECORDS_PER_MESSAGE, maxWeight: MAX_MESSAGE_BYTES, weight: (b) => b.length });
    this.watching = this.watch();
  }

  private async watch(): Promise<void> {
    const { log } = this.opts;
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') {
        this.up = false;
        // Their PubAck cannot come now; whether the message was stored before is unknown,
        // and the caller is told so at once instead of after the timeout.
        for (const refuse of this.waiting) refuse(new QueueUnavailableError('the NATS connection was lost before the queue confirmed', true));
        this.waiting.clear();
        log.warn({ server: s.server }, 'chat queue: NATS connection lost; reconnecting');
      } else if (s.type === 'reconnect') {
        this.up = true;
        log.info({ server: s.server }, 'chat queue: NATS reconnected');
        // A server that lost its store (a new one in its place) has no stream: made again.
        this.ensure().catch((err: unknown) => log.error({ err }, 'chat queue: checking the stream after the reconnect failed'));
      }
    }
  }

  /** Creates or updates the stream and the consumer (idempotent: every process does it at start). */
  async start(): Promise<void> {
    await this.ensure();
  }

  private async ensure(): Promise<void> {
    const { opts } = this;
    this.jsm ??= await jetstreamManager(this.nc, { timeout: ATTEMPT_TIMEOUT_MS * 2 });
    const jsm = this.jsm;
    const want: Partial<StreamConfig> & { name: string } = {
      name: this.stream,
      subjects: [this.subject],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      discard: DiscardPolicy.New,
      max_bytes: opts.maxBytes ?? DEFAULT_MAX_BYTES,
      max_age: nanos(opts.maxAgeMs ?? DEFAULT_MAX_AGE_MS),
      max_msg_size: MAX_MESSAGE_BYTES + MSG_SIZE_MARGIN,
      duplicate_window: nanos(DUPLICATE_WINDOW_MS),
      num_replicas: opts.replicas ?? 1,
    };
    try {
      const { config } = await jsm.streams.info(this.stream);
      if (config.max_bytes !== want.max_bytes || config.max_age !== want.max_age || config.max_msg_size !== want.max_msg_size || config.duplicate_window !== want.duplicate_window || config.num_replicas !== want.num_replicas) {
        await jsm.streams.update(this.stream, { ...config, ...want });
        opts.log.info({ stream: this.stream }, 'chat queue: stream limits updated');
      }
    } catch (err) {
      if (!isApiError(err, JetStreamApiCodes.StreamNotFound)) throw err;
      // Two processes starting together may both get here: adding an identical stream twice is fine.
      await jsm.streams.add(want);
      opts.log.info({ stream: this.stream }, 'chat queue: stream created');
    }
    const ackWait = nanos(opts.ackWaitMs ?? DEFAULT_ACK_WAIT_MS);
    const maxAckPending = opts.maxAckPending ?? DEFAULT_MAX_ACK_PENDING;
    try {
      const { config } = await jsm.consumers.info(this.stream, DURABLE_NAME);
      if (config.ack_wait !== ackWait || config.max_ack_pending !== maxAckPending) {
        await jsm.consumers.update(this.stream, DURABLE_NAME, { ack_wait: ackWait, max_ack_pending: maxAckPending });
      }
    } catch (err) {
      if (!isApiError(err, JetStreamApiCodes.ConsumerNotFound)) throw err;
      await jsm.consumers.add(this.stream, {
        durable_name: DURABLE_NAME,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: ackWait,
        max_ack_pending: maxAckPending,
        max_deliver: -1, // a record is never given up on: it is retried until applied
      });
    }
  }

  enqueue(rec: StoredRecord): Promise<void> {
    if (this.closed) return Promise.reject(new QueueUnavailableError('the chat queue is closed'));
    // Published now it would wait in the reconnect buffer and most likely time out: fail at once.
    if (!this.up) return Promise.reject(new QueueUnavailableError('NATS is unreachable'));
    let bytes: Uint8Array;
    try {
      bytes = encodeRecord(rec);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    if (bytes.length > MAX_MESSAGE_BYTES) return Promise.reject(new RangeError(`a record of ${bytes.length} bytes is over the queue's ${MAX_MESSAGE_BYTES}`));
    return this.batcher.call(bytes);
  }

  /** One queue message for the records of a turn; resolves on its PubAck. */
  private async publish(items: Uint8Array[]): Promise<void[]> {
    const payload = encodeArrayOfEncoded(items);
    // The id is the message's: every attempt sends the same one, so a PubAck lost on its way
    // (the message stored, the answer not received) makes the retry a no-op duplicate.
    const msgID = randomBytes(12).toString('base64url');
    const timeoutMs = this.opts.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 1; ; attempt++) {
      // From the second attempt on, an earlier one may have been stored (its PubAck lost).
      const sent = attempt > 1;
      if (this.closed || !this.up || this.nc.isClosed()) throw new QueueUnavailableError('NATS is unreachable', sent);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new QueueUnavailableError(`the chat queue did not confirm within ${timeoutMs} ms`, sent);
      try {
        await new Promise<void>((resolve, reject) => {
          this.waiting.add(reject);
          this.js
            .publish(this.subject, payload, { msgID, timeout: Math.min(remaining, ATTEMPT_TIMEOUT_MS) })
            .then(() => resolve(), reject) // a second settle (after a refusal) is a no-op
            .finally(() => this.waiting.delete(reject));
        });
        break;
      } catch (err) {
        if (err instanceof QueueUnavailableError) throw err;
        // After a first attempt that timed out, any refusal leaves its fate unknown: it may
        // have been stored (only its PubAck lost).
        if (attempt > 1) throw new QueueUnavailableError(`the chat queue did not confirm: ${(err as Error).message}`, true, { cause: err });
        if (isFull(err)) throw new QueueFullError(`the chat queue is full: ${(err as Error).message}`, { cause: err });
        if (isConnectionError(err)) throw new QueueUnavailableError('the NATS connection is closed', true, { cause: err });
        if (!isTransient(err)) throw err;
        // A timeout already waited; no responders comes back at once: do not spin on it.
        if (!(err instanceof TimeoutError)) await sleep(Math.min(100 * attempt, Math.max(0, deadline - Date.now())));
      }
    }
    this.opts.observer.enqueued(items.length, payload.length);
    return items.map(() => undefined);
  }

  consume(apply: ApplyFn): Writer {
    if (this.closed) throw new QueueUnavailableError('the chat queue is closed');
    const writer = new JetStreamWriter(this.nc, this.js, this.stream, apply, this.opts);
    this.writers.add(writer);
    this.pollBacklog();
    return {
      stop: async () => {
        await writer.stop();
        this.writers.delete(writer);
        if (this.writers.size === 0) this.stopPolling();
      },
    };
  }

  /**
   * Reports the backlog every BACKLOG_POLL_MS while a writer runs. With work-queue retention
   * the stream holds only unacked messages: its message count is the backlog (pending plus
   * delivered-not-acked), and its first message is the oldest unapplied one.
   */
  private pollBacklog(): void {
    if (this.poll) return;
    this.poll = setInterval(() => {
      if (!this.up || !this.jsm) return;
      this.jsm.streams.info(this.stream).then(
        ({ state }) => {
          const age = state.messages > 0 ? Math.max(0, Date.now() - Date.parse(state.first_ts)) / 1000 : 0;
          this.opts.observer.backlog(state.messages, Number.isFinite(age) ? age : 0);
        },
        (err: unknown) => this.opts.log.debug({ err }, 'chat queue: backlog poll failed'),
      );
    }, BACKLOG_POLL_MS);
    this.poll.unref();
  }

  private stopPolling(): void {
    clearInterval(this.poll);
    this.poll = undefined;
  }

  /** Stops the writers (each finishes its batch and acks it), then drains and closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopPolling();
    await Promise.all([...this.writers].map((w) => w.stop()));
    this.writers.clear();
    const within = <T>(p: Promise<T>, ms: number) => Promise.race([p.catch(() => undefined), sleep(ms)]);
    // While NATS is unreachable, drain would wait forever: give it a bound, then close.
    if (!this.nc.isClosed()) await within(this.nc.drain(), 2_000);
    if (!this.nc.isClosed()) await this.nc.close().catch(() => undefined);
    await within(this.watching, 500);
  }
}

/** A queue message being applied, with its valid records. */
interface Held {
  readonly msg: JsMsg;
  readonly records: StoredRecord[];
}

/**
 * One writer: pulls up to batchMessages queue messages at a time, applies what has arrived in
 * one apply() call (while the rest of the pull arrives), and acks each message after that.
 * Pulls, not a push or a continuous consume(): the writer asks for more only once it applied
 * what it holds, so a slow store slows the pulls rather than piling messages up in memory,
 * and the other writers get the rest.
 */
class JetStreamWriter {
  private stopping = false;
  private readonly loop: Promise<void>;
  private readonly pauses = new Pause();
  /** consecutive failed applies (the backoff) */
  private failures = 0;
  private consumer: Consumer | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly stream: string,
    private readonly apply: ApplyFn,
    private readonly opts: JetStreamQueueOptions,
  ) {
    this.loop = this.run();
  }

  private get done(): boolean {
    return this.stopping || this.nc.isClosed();
  }

  private async run(): Promise<void> {
    const { log } = this.opts;
    let fetchFailures = 0;
    while (!this.done) {
      let messages: ConsumerMessages;
      try {
        this.consumer ??= await this.js.consumers.get(this.stream, DURABLE_NAME);
        messages = await this.consumer.fetch({ max_messages: this.opts.batchMessages ?? DEFAULT_BATCH_MESSAGES, expires: this.opts.fetchExpiresMs ?? DEFAULT_FETCH_EXPIRES_MS });
      } catch (err) {
        if (this.done) break;
        fetchFailures++;
        if (fetchFailures === 1 || fetchFailures % 30 === 0) log.warn({ err, failures: fetchFailures }, 'chat queue: pulling records failed; retrying');
        await this.pause(backoffMs(fetchFailures, FETCH_RETRY_CAP_MS));
        continue;
      }
      fetchFailures = 0;
      await this.drain(messages);
    }
  }

  /**
   * Applies the messages of one pull as they arrive. A stop() lets the pull run out (at most
   * fetchExpiresMs): messages it brings are applied and acked, not left to wait for ack_wait.
   */
  private async drain(messages: ConsumerMessages): Promise<void> {
    const buffer: JsMsg[] = [];
    let ended = false;
    let signal: (() => void) | undefined;
    const notify = () => {
      const s = signal;
      signal = undefined;
      s?.();
    };
    const reading = (async () => {
      for await (const m of messages) {
        buffer.push(m);
        notify();
      }
    })()
      // Heartbeats missed (the server restarted), the connection closed: the next pull retries.
      .catch((err: unknown) => this.opts.log.debug({ err }, 'chat queue: a pull ended with an error'))
      .finally(() => {
        ended = true;
        notify();
      });
    for (;;) {
      if (buffer.length === 0) {
        if (ended) break;
        await new Promise<void>((r) => (signal = r));
        continue;
      }
      // One more turn: messages read from the socket together go in one apply.
      await new Promise((r) => setImmediate(r));
      await this.process(buffer.splice(0));
    }
    await reading;
  }

  private async process(msgs: JsMsg[]): Promise<void> {
    const { observer, log } = this.opts;
    const held: Held[] = [];
    let redelivered = 0;
    let malformed = 0;
    for (const msg of msgs) {
      if (msg.info.deliveryCount > 1) redelivered++;
      const d = decodeMessage(msg.data);
      // Not an array, or an empty one (never sent by a queue): one bad message; else its bad records.
      malformed += !d.array || (d.records.length === 0 && d.bad === 0) ? 1 : d.bad;
      // Nothing in it to apply, ever: removed from the stream now (work queue: term removes it).
      if (d.records.length === 0) settle(msg, 'term');
      else held.push({ msg, records: d.records });
    }
    if (redelivered > 0) observer.redelivered(redelivered);
    if (malformed > 0) {
      observer.malformed?.(malformed);
      log.warn({ malformed }, 'chat queue: dropped queue messages or records that are not valid records');
    }
    if (held.length === 0) return;
    const records = held.flatMap((h) => h.records);
    try {
      await this.apply(records);
    } catch (err) {
      observer.applyFailed();
      this.failures++;
      if (this.failures === 1 || this.failures % 10 === 0) log.warn({ err, records: records.length, failures: this.failures }, 'chat queue: applying records failed; retrying');
      // A batch that failed before may hold a record that fails every time: one message at a
      // time then, so that the others are applied and only the culprit keeps coming back.
      // Not when no record is to blame (BatchRetryError: the store's replicas did not confirm).
      if (!(err instanceof BatchRetryError) && held.length > 1 && held.some((h) => h.msg.info.deliveryCount > 2)) return this.oneByOne(held);
      // Stopping: handed back at once, for another writer, not after a backoff.
      const delay = this.stopping ? 0 : backoffMs(this.failures, this.opts.backoffCapMs ?? DEFAULT_BACKOFF_CAP_MS);
      for (const h of held) settle(h.msg, 'nak', delay);
      // The store is most likely down: do not fail through the rest of the backlog meanwhile.
      await this.pause(delay);
      return;
    }
    this.failures = 0;
    for (const h of held) settle(h.msg, 'ack');
    observer.applied(records.length, lagsOf(records, Date.now()));
  }

  private async oneByOne(held: Held[]): Promise<void> {
    const { observer } = this.opts;
    const delay = backoffMs(this.failures, this.opts.backoffCapMs ?? DEFAULT_BACKOFF_CAP_MS);
    let failed = 0;
    for (const [i, h] of held.entries()) {
      // Stopping: what is left goes back to the queue at once, for this or another writer.
      if (this.stopping) {
        for (const rest of held.slice(i)) settle(rest.msg, 'nak');
        return;
      }
      try {
        await this.apply(h.records);
      } catch {
        failed++;
        observer.applyFailed();
        settle(h.msg, 'nak', delay);
        continue;
      }
      settle(h.msg, 'ack');
      observer.applied(h.records.length, lagsOf(h.records, Date.now()));
    }
    if (failed === held.length) await this.pause(delay);
    else this.failures = 0;
  }

  private pause(ms: number): Promise<void> {
    return this.pauses.wait(ms, this.done);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.pauses.cutShort();
    await this.loop;
    // The acks just sent are at the server before the caller closes anything.
    if (!this.nc.isClosed()) await this.nc.flush().catch(() => undefined);
  }
}

/**
 * Acks, naks (redelivered after `delayMs`) or terminates a message. On a closed connection
 * that throws: nothing to do then, the server redelivers it after ack_wait.
 */
function settle(msg: JsMsg, how: 'ack' | 'nak' | 'term', delayMs?: number): void {
  try {
    if (how === 'ack') msg.ack();
    else if (how === 'nak') msg.nak(delayMs);
    else msg.term();
  } catch {
    // see above
  }
}
