// The chat storage queue in this process's memory (standalone mode): records wait in an array
// bounded in bytes, and one writer applies them in batches, in order. A batch stays at the
// front of the queue until its apply resolves, so a rejected apply is retried (after a
// backoff) with the same records and nothing is dropped; what is still queued when the
// process ends is lost, as everything else a standalone server keeps in memory.

import type { Logger } from '../log.js';
import {
  BACKLOG_POLL_MS,
  DEFAULT_MAX_BYTES,
  MAX_MESSAGE_BYTES,
  QueueFullError,
  QueueUnavailableError,
  backoffMs,
  Pause,
  lagsOf,
  recordSize,
  type ApplyFn,
  type ChatQueue,
  type QueueObserver,
  type StoredRecord,
  type Writer,
} from './index.js';

/** Records per apply() call: as many as a JetStream writer's batch typically holds. */
export const DEFAULT_MEMORY_BATCH_RECORDS = 1024;
/** The longest pause between two attempts of a failing batch. */
export const DEFAULT_BACKOFF_CAP_MS = 15_000;

export interface MemoryQueueOptions {
  readonly observer: QueueObserver;
  readonly log: Logger;
  /** queued bytes (recordSize) at most, records being applied included (DEFAULT_MAX_BYTES) */
  readonly maxBytes?: number;
  readonly batchRecords?: number;
  readonly backoffCapMs?: number;
}

interface Entry {
  readonly rec: StoredRecord;
  readonly size: number;
  /** enqueue time, for the backlog's age */
  readonly at: number;
}

export class MemoryQueue implements ChatQueue {
  /** entries from `head` on are queued; the front ones may be being applied */
  private entries: Entry[] = [];
  private head = 0;
  private bytes = 0;
  private closed = false;
  private writer: MemoryWriter | undefined;
  /** wakes the writer when records arrive */
  private wake: (() => void) | undefined;
  private readonly maxBytes: number;

  constructor(private readonly opts: MemoryQueueOptions) {
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  }

  enqueue(rec: StoredRecord): Promise<void> {
    if (this.closed) return Promise.reject(new QueueUnavailableError('the chat queue is closed'));
    const size = recordSize(rec);
    // The cluster queue could not carry it either: refused alike in both modes.
    if (size > MAX_MESSAGE_BYTES) return Promise.reject(new RangeError(`a record of ${size} bytes is over the queue's ${MAX_MESSAGE_BYTES}`));
    if (this.bytes + size > this.maxBytes) return Promise.reject(new QueueFullError(`the chat queue holds ${this.bytes} bytes of ${this.maxBytes}`));
    this.entries.push({ rec, size, at: Date.now() });
    this.bytes += size;
    this.opts.observer.enqueued(1, size);
    this.wake?.();
    return Promise.resolve();
  }

  consume(apply: ApplyFn): Writer {
    if (this.closed) throw new QueueUnavailableError('the chat queue is closed');
    // Records are applied in order by one loop: a second writer would only contend for them.
    if (this.writer) throw new Error('the memory queue has a single writer');
    const writer = new MemoryWriter(this, apply, this.opts);
    this.writer = writer;
    return {
      stop: async () => {
        await writer.stop();
        if (this.writer === writer) this.writer = undefined;
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.writer?.stop();
    this.writer = undefined;
  }

  // The writer's side.

  get length(): number {
    return this.entries.length - this.head;
  }

  /** The oldest queued record's age in ms (0 when empty). */
  oldestAgeMs(now: number): number {
    const e = this.entries[this.head];
    return e ? Math.max(0, now - e.at) : 0;
  }

  /** Up to `max` records from the front, left queued until done(). */
  peek(max: number): StoredRecord[] {
    const end = Math.min(this.entries.length, this.head + max);
    const out: StoredRecord[] = [];
    for (let i = this.head; i < end; i++) out.push(this.entries[i]!.rec);
    return out;
  }

  /** Removes the first `n` records (applied). */
  done(n: number): void {
    for (let i = this.head; i < this.head + n; i++) this.bytes -= this.entries[i]!.size;
    this.head += n;
    // Compacted now and then, not per batch: shifting a long array per batch is quadratic.
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /** Resolves when records are queued, or at once if some are. */
  waitForRecords(): Promise<void> {
    if (this.length > 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** Wakes a writer waiting for records (to see that it must stop). */
  interrupt(): void {
    this.wake?.();
  }
}

class MemoryWriter {
  private stopping = false;
  private readonly loop: Promise<void>;
  /** cuts a backoff pause short when stopping */
  private readonly pauses = new Pause();
  private readonly poll: NodeJS.Timeout;

  constructor(
    private readonly queue: MemoryQueue,
    private readonly apply: ApplyFn,
    private readonly opts: MemoryQueueOptions,
  ) {
    this.poll = setInterval(() => opts.observer.backlog(queue.length, queue.oldestAgeMs(Date.now()) / 1000), BACKLOG_POLL_MS);
    this.poll.unref();
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const { observer, log } = this.opts;
    const max = this.opts.batchRecords ?? DEFAULT_MEMORY_BATCH_RECORDS;
    const cap = this.opts.backoffCapMs ?? DEFAULT_BACKOFF_CAP_MS;
    let failures = 0;
    while (!this.stopping) {
      await this.queue.waitForRecords();
      if (this.stopping) break;
      const batch = this.queue.peek(max);
      try {
        await this.apply(batch);
      } catch (err) {
        failures++;
        observer.applyFailed();
        if (failures === 1 || failures % 10 === 0) log.warn({ err, records: batch.length, failures }, 'applying queued chat records failed; retrying');
        await this.pause(backoffMs(failures, cap));
        // The same records, again: what JetStream counts as a redelivery.
        if (!this.stopping) observer.redelivered(batch.length);
        continue;
      }
      failures = 0;
      this.queue.done(batch.length);
      observer.applied(batch.length, lagsOf(batch, Date.now()));
    }
  }

  private pause(ms: number): Promise<void> {
    return this.pauses.wait(ms);
  }

  /** Lets the batch being applied finish (nothing is taken from the queue after that). */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.poll);
    this.pauses.cutShort();
    this.queue.interrupt();
    await this.loop;
  }
}
