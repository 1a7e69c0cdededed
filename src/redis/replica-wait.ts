// Waiting for Redis replicas before an acknowledgement (REDIS_WAIT_REPLICAS, docs/cluster.md
// "What it can lose"). Redis replication is asynchronous: a primary that dies before its
// replica received a write takes the write with it, even though we acknowledged it. WAIT
// closes that window for a single failure: it answers once N replicas have acknowledged the
// replication stream up to the calling connection's last write.
//
// WAIT blocks the connection it is sent on until the replicas answer, so it runs on a
// connection of its own, never the send path's shared one. That connection has written nothing,
// so each round first writes a small marker key and then WAITs for it: the replication stream
// is one ordered stream, so a replica that has the marker has every write the primary ran before
// it, which includes every write whose answer the caller had received when it asked. Callers
// that ask while a round is under way join the next one (their writes may have come after the
// marker), so there is at most one WAIT in flight, whatever the rate of gifts.
//
// Each connection finds the primary on its own (Sentinel): during a failover the wait connection
// can be on the new primary while a write connection still writes to the old one, and a WAIT
// there would confirm writes it never saw. So each round first writes a token (this process's
// id and the round's number) on every connection that writes what is waited for; the wait
// connection then checks, in the script that writes its marker, that the server it is on holds
// every token of this round. A server holding a token has, earlier in its stream, every write
// made on the same socket before it (it ran them, or replicated them). The same socket: each
// caller takes a ticket (the connections' reconnection counts) when its first write to be
// covered was answered, or before it, and is refused if a covered connection reconnected between
// the ticket and the round's token (a write may be on the server it left).

import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { FailureLog } from '../failure-log.js';
import type { Logger } from '../log.js';
import type { ReplicaWaitResult } from '../metric-labels.js';

/** Which socket each write connection was on when the ticket was taken (ReplicaConfirm.ticket), and whose ticket it is. */
export interface ReplicaTicket {
  readonly waiter: string;
  readonly epochs: readonly number[];
}

/** Confirms durability beyond the primary: resolves once replicas hold the writes made before the ticket. */
export interface ReplicaConfirm {
  /** Taken when the first write to be confirmed was answered (or before it). */
  ticket(): ReplicaTicket;
  /**
   * Resolves once replicas hold every write made on the covered connections before the call,
   * none of them having reconnected since the ticket. Rejects with ReplicaWaitError when too
   * few replicas confirmed in time, a covered connection reconnected since the ticket, or Redis
   * did not answer; throws at once for a ticket of another waiter (a bug, not an outage).
   */
  confirm(ticket: ReplicaTicket): Promise<void>;
}

/** Fewer replicas than required confirmed the writes in time (or the WAIT could not run). */
export class ReplicaWaitError extends Error {
  override name = 'ReplicaWaitError';
}

export interface ReplicaWaitObserver {
  /** one round: how long it took, and its result */
  replicaWait(result: ReplicaWaitResult, seconds: number): void;
}

export interface ReplicaWaitOptions {
  /** replicas that must confirm (WAIT's numreplicas), at least 1 */
  readonly replicas: number;
  /** WAIT's timeout (ms): how long one round waits while replicas do not answer */
  readonly timeoutMs: number;
  /** the marker key this waiter writes (one per waiter: no contention); the write connections' tokens are `<markerKey>:<i>` */
  readonly markerKey: string;
  /** what the waiter covers, for its log lines (send: gifts, room notices, MSG and notice seqs; chat: the storage writers' batches) */
  readonly name?: string;
}

interface Waiter {
  readonly ticket: ReplicaTicket;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

/** How long the marker and tokens live: rewritten by every round, only their replication matters. */
const MARKER_TTL_MS = 60_000;

/**
 * Checks the round's tokens, then writes the marker. KEYS: the marker, then the tokens; ARGV 1:
 * the round's value, 2: the keys' ttl (ms). Answers the number of tokens not found with it.
 */
const MARK = `local missing = 0
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) ~= ARGV[1] then missing = missing + 1 end
end
if missing > 0 then return missing end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 0`;

export class RedisReplicaWaiter implements ReplicaConfirm {
  /** callers for the next round */
  private next: Waiter[] = [];
  private running = false;
  private round = 0;
  /** this waiter's own tokens: not a stale one of an earlier process with the same id */
  private readonly id = randomUUID();
  /** per write connection: how many times it closed (a new socket, maybe another server) */
  private readonly epochs: number[];
  private readonly failures: FailureLog;

  constructor(
    /** a connection of its own (WAIT blocks it: main.ts gives each waiter one), with a command timeout above `timeoutMs` */
    private readonly redis: Redis,
    /** the connections whose writes are waited for (each is given a token per round) */
    private readonly writers: readonly Redis[],
    private readonly opts: ReplicaWaitOptions,
    private readonly observer: ReplicaWaitObserver,
    log: Logger,
  ) {
    if (!(opts.replicas >= 1)) throw new RangeError('replicas must be at least 1');
    this.epochs = writers.map(() => 0);
    writers.forEach((w, i) => w.on('close', () => this.epochs[i]!++));
    // A warning when rounds start failing and a line when they work again, not one per round.
    const held = opts.name === 'chat' ? 'the storage writers\' batches stay in the queue' : opts.name === 'send' ? 'gifts, room notices, chat messages and user notices are refused' : 'what waits is not acknowledged';
    this.failures = new FailureLog(log, `waiting for ${opts.replicas} Redis replica(s) (REDIS_WAIT_REPLICAS: ${held} meanwhile)`);
  }

  ticket(): ReplicaTicket {
    return { waiter: this.id, epochs: [...this.epochs] };
  }

  confirm(ticket: ReplicaTicket): Promise<void> {
    if (ticket.waiter !== this.id) throw new Error('REDIS_WAIT_REPLICAS: a ticket of another waiter');
    return new Promise<void>((resolve, reject) => {
      this.next.push({ ticket, resolve, reject });
      if (!this.running) this.start();
    });
  }

  private start(): void {
    this.running = true;
    // The callers of this event-loop turn go in one round.
    setImmediate(() => void this.run());
  }

  private async run(): Promise<void> {
    try {
      while (this.next.length > 0) {
        const waiters = this.next;
        this.next = [];
        await this.waitOnce(waiters).catch((e: unknown) => {
          const err = new ReplicaWaitError(`waiting for Redis replicas failed: ${String(e)}`, { cause: e });
          for (const w of waiters) w.reject(err);
        });
      }
    } finally {
      this.running = false;
      // Whoever came after a failure above is not left waiting.
      if (this.next.length > 0) this.start();
    }
  }

  /** The tokens, then the checked marker and one WAIT; answers every waiter of the round. */
  private async waitOnce(waiters: readonly Waiter[]): Promise<void> {
    const { replicas, timeoutMs, markerKey } = this.opts;
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    const value = `${this.id}:${++this.round}`;
    const tokens = this.writers.map((_, i) => `${markerKey}:${i}`);
    const fail = (result: ReplicaWaitResult, err: ReplicaWaitError) => {
      this.observer.replicaWait(result, seconds());
      this.failures.failed(err);
      for (const w of waiters) w.reject(err);
    };
    let tokenEpochs: number[];
    try {
      // Each token's socket: the epoch when its answer came (no close can come between).
      tokenEpochs = await Promise.all(this.writers.map((w, i) => w.set(tokens[i]!, value, 'PX', MARKER_TTL_MS).then(() => this.epochs[i]!)));
      const res = await this.redis.pipeline().eval(MARK, 1 + tokens.length, markerKey, ...tokens, value, MARKER_TTL_MS).call('WAIT', String(replicas), String(timeoutMs)).exec();
      if (!res) throw new Error('the pipeline was not run');
      const [markErr, missing] = res[0]!;
      const [waitErr, acked] = res[1]!;
      // The marker refused (NOREPLICAS under min-replicas-to-write, a read-only replica after a
      // failover), or on another server than the writes: the WAIT proves nothing.
      if (markErr) throw markErr;
      if (Number(missing) > 0) throw new Error(`the wait connection is on another Redis server than ${missing} of the write connections (a failover under way)`);
      if (waitErr) throw waitErr;
      const n = Number(acked);
      if (n < replicas) return fail('short', new ReplicaWaitError(`${n} of ${replicas} Redis replicas confirmed the write within ${timeoutMs} ms`));
    } catch (err) {
      return fail('failed', new ReplicaWaitError(`waiting for Redis replicas failed: ${(err as Error).message}`, { cause: err }));
    }
    this.observer.replicaWait('confirmed', seconds());
    this.failures.succeeded();
    const moved = new ReplicaWaitError('a Redis connection reconnected between the write and its confirmation (a failover under way): its write may be on the server it left');
    for (const w of waiters) {
      if (w.ticket.epochs.every((e, i) => e === tokenEpochs[i])) w.resolve();
      else w.reject(moved);
    }
  }
}
