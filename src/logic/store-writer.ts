// The storage writer: takes batches of chat messages from the storage queue and applies them to
// the chat store (history, inboxes, contacts), idempotently, so that a batch delivered again (a
// writer died before acknowledging it) changes nothing twice. Then it tells the users whose
// unread total rose, merged: each user at most once per UNREAD_PUSH_INTERVAL_MS, and only
// users online somewhere. Runs in logic processes (STORE_WRITER); any number share the queue.

import type { NodeBus } from '../bus/index.js';
import { FailureLog } from '../failure-log.js';
import type { Logger } from '../log.js';
import type { ReplicaConfirm } from '../redis/replica-wait.js';
import { BatchRetryError } from '../queue/index.js';
import { NOT_CONFIRMED } from './room-items.js';
import type { Metrics } from '../metrics.js';
import { encodeFrame } from '../protocol/codec.js';
import { encodeDelivery } from '../protocol/delivery.js';
import { Op } from '../protocol/ops.js';
import type { ChatQueue, StoredRecord } from '../queue/index.js';
import type { Registry } from '../registry/index.js';
import type { ChatStore } from '../store/chat/index.js';
import type { Intake } from '../store/intake/index.js';

export interface StoreWriterOptions {
  readonly unreadPushIntervalMs: number;
  /** how long a settled client id is remembered (DEDUPE_TTL_MS) */
  readonly dedupeTtlMs: number;
}

/** Users told per push round at most; the rest wait for the next round. */
const PUSH_ROUND_MAX = 10_000;

export class StoreWriter {
  private consumer: { stop(): Promise<void> } | null = null;
  /** users whose unread total rose since the last push round */
  private changed = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private pushing = false;
  private readonly pushFailures: FailureLog;

  constructor(
    private readonly queue: ChatQueue,
    private readonly store: ChatStore,
    /** settles the senders' de-duplication claims of what was stored */
    private readonly intake: Pick<Intake, 'settle'>,
    private readonly push: {
      readonly registry: Registry;
      readonly bus: NodeBus;
      /** the big groups of a user (their unread counts are derived): see ChatReads.bigGroupsOf */
      readonly bigGroupsOf: (uid: string) => Promise<string[]>;
    },
    private readonly opts: StoreWriterOptions,
    private readonly metrics: Metrics,
    log: Logger,
    /** REDIS_WAIT_REPLICAS: a batch is acknowledged to the queue once the Redis replicas hold it; null: at once */
    private readonly replicas: ReplicaConfirm | null = null,
  ) {
    this.pushFailures = new FailureLog(log, 'unread pushes after storage writes');
    this.settleFailures = new FailureLog(log, 'de-duplication settles after storage writes');
  }

  private readonly settleFailures: FailureLog;

  start(): void {
    this.consumer = this.queue.consume((records) => this.apply(records));
    this.timer = setInterval(() => void this.pushRound(), this.opts.unreadPushIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.consumer?.stop();
    this.consumer = null;
  }

  /** Applies one batch; a rejection leaves it in the queue, to be delivered again. */
  private async apply(records: StoredRecord[]): Promise<void> {
    // Which sockets the writes go on (REDIS_WAIT_REPLICAS): a reconnection from here to the
    // confirmation refuses it (the apply and the settles below, on both connections).
    const ticket = this.replicas?.ticket();
    const result = await this.store.apply(records, Date.now());
    // Stored (now or before): a retry of the same client id is a duplicate from here on, even
    // if the logic process that took the message died before it could settle the claim. Not
    // awaited: the records are stored whatever happens to this.
    const now = Date.now();
    const settles: Promise<void>[] = [];
    for (const rec of records) {
      if (rec.k === undefined || rec.s <= 0) continue;
      // Remembered until DEDUPE_TTL_MS after the message was accepted, as the logic's own settle
      // would: a writer far behind must not extend the window (the client may reuse the id
      // after it, for a new message).
      const ttl = rec.t + this.opts.dedupeTtlMs - now;
      if (ttl <= 0) continue;
      const settling = this.intake.settle(rec.k, rec.s, ttl).then(
        () => this.settleFailures.succeeded(),
        (err: unknown) => this.settleFailures.failed(err),
      );
      settles.push(settling);
    }
    this.metrics.storeWritten('applied', result.applied);
    this.metrics.storeWritten('skipped', result.skipped);
    this.metrics.storeWritten('inbox', result.inboxWrites);
    this.metrics.storeWritten('evicted', result.evicted);
    for (const uid of result.unreadChanged) this.changed.add(uid);
    // REDIS_WAIT_REPLICAS: the batch leaves the queue only once the replicas hold it (and the
    // claims settled with it): a failover cannot lose what the queue no longer has. Rejecting
    // leaves the batch in the queue; delivered again, its records are skipped as applied and
    // the replicas asked again.
    if (this.replicas) {
      await Promise.all(settles);
      try {
        await this.replicas.confirm(ticket!);
      } catch (err) {
        throw new BatchRetryError(`the batch is stored on the Redis primary but ${NOT_CONFIRMED}: ${(err as Error).message}`, { cause: err });
      }
    }
  }

  /** Pushes UNREAD {total} to the online users among those whose total rose. */
  private async pushRound(): Promise<void> {
    if (this.pushing || this.changed.size === 0) return;
    this.pushing = true;
    try {
      const uids: string[] = [];
      for (const uid of this.changed) {
        uids.push(uid);
        this.changed.delete(uid);
        if (uids.length === PUSH_ROUND_MAX) break;
      }
      const where = await this.push.registry.lookup(uids);
      if (where.size === 0) return;
      const online = [...where.keys()];
      const extras = new Map(await Promise.all(online.map(async (uid) => [uid, await this.push.bigGroupsOf(uid)] as const)));
      const totals = await this.store.totals(online, (uid) => extras.get(uid) ?? [], Date.now());
      let pushed = 0;
      for (const [uid, gateways] of where) {
        const total = totals.get(uid);
        if (total === undefined) continue;
        const delivery = encodeDelivery([uid], encodeFrame(Op.Unread, 0, { total }));
        for (const gw of gateways) this.push.bus.sendToNode(gw, delivery);
        pushed++;
      }
      this.metrics.unreadPushed(pushed);
      this.pushFailures.succeeded();
    } catch (err) {
      this.metrics.unreadPushFailed();
      this.pushFailures.failed(err);
    } finally {
      this.pushing = false;
    }
  }
}
