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

import type { Redis } from 'ioredis';
import { FailureLog } from '../failure-log.js';
import type { Logger } from '../log.js';
import type { ReplicaWaitResult } from '../metric-labels.js';

/** Confirms durability beyond the primary: resolves once replicas hold every write made before the call. */
export interface ReplicaConfirm {
  /** Rejects with ReplicaWaitError when too few replicas confirmed in time, or Redis did not answer. */
  confirm(): Promise<void>;
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
  /** WAIT's timeout (ms): the longest an acknowledgement is held while replicas do not answer */
  readonly timeoutMs: number;
  /** the marker key this process writes (one per process: no contention between them) */
  readonly markerKey: string;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

/** How long the marker key lives: it is rewritten by every round, and only its replication matters. */
const MARKER_TTL_MS = 60_000;

export class RedisReplicaWaiter implements ReplicaConfirm {
  /** callers for the next round */
  private next: Waiter[] = [];
  private running = false;
  private round = 0;
  private readonly failures: FailureLog;

  constructor(
    /** a connection of its own (WAIT blocks it), with a command timeout above `timeoutMs` */
    private readonly redis: Redis,
    private readonly opts: ReplicaWaitOptions,
    private readonly observer: ReplicaWaitObserver,
    private readonly log: Logger,
  ) {
    if (!(opts.replicas >= 1)) throw new RangeError('replicas must be at least 1');
    // A warning when rounds start failing and a line when they work again, not one per round.
    this.failures = new FailureLog(log, `waiting for ${opts.replicas} Redis replica(s) (REDIS_WAIT_REPLICAS: gifts, notices and stored chat batches are not acknowledged meanwhile)`);
  }

  confirm(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.next.push({ resolve, reject });
      if (!this.running) this.start();
    });
  }

  private start(): void {
    this.running = true;
    // The callers of this event-loop turn go in one round.
    setImmediate(() => void this.run());
  }

  private async run(): Promise<void> {
    while (this.next.length > 0) {
      const waiters = this.next;
      this.next = [];
      const err = await this.waitOnce();
      for (const w of waiters) {
        if (err) w.reject(err);
        else w.resolve();
      }
    }
    this.running = false;
  }

  /** One marker write and one WAIT; null when enough replicas confirmed. */
  private async waitOnce(): Promise<ReplicaWaitError | null> {
    const { replicas, timeoutMs, markerKey } = this.opts;
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const res = await this.redis
        .pipeline()
        .set(markerKey, String(++this.round), 'PX', MARKER_TTL_MS)
        .call('WAIT', String(replicas), String(timeoutMs))
        .exec();
      if (!res) throw new Error('the pipeline was not run');
      const [setErr] = res[0]!;
      const [waitErr, acked] = res[1]!;
      // The marker refused (NOREPLICAS under min-replicas-to-write, a read-only replica after a
      // failover): the WAIT that follows proves nothing.
      if (setErr) throw setErr;
      if (waitErr) throw waitErr;
      const n = Number(acked);
      if (n >= replicas) {
        this.observer.replicaWait('confirmed', seconds());
        this.failures.succeeded();
        return null;
      }
      this.observer.replicaWait('short', seconds());
      const short = new ReplicaWaitError(`${n} of ${replicas} Redis replicas confirmed the write within ${timeoutMs} ms`);
      this.failures.failed(short);
      return short;
    } catch (err) {
      this.observer.replicaWait('failed', seconds());
      this.failures.failed(err);
      return new ReplicaWaitError(`waiting for Redis replicas failed: ${(err as Error).message}`, { cause: err });
    }
  }
}
