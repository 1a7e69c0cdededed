// Requests that must get an answer: SEND and MSG (retried with the same client id until an ACK,
// `dup` or not, docs/protocol.md "Delivery guarantees") and the reads (SYNC, HISTORY, CONTACTS,
// READ, PING: idempotent, so retried the same way). A request waits for a connection (a SEND
// also for its room to be joined), goes again after a lost connection or a timeout, and after
// ERROR 20, 21, 30, 31 or 32 (32: not before its retryMs); any other ERROR rejects it, and so
// does its deadline.

import { backoffCap } from './backoff.js';
import { RequestError, TimeoutError } from './errors.js';
import { LinkClosed, type Link } from './link.js';
import type { Frame } from './codec.js';

/** ERROR codes after which the same request is sent again (with the same id). */
const RETRY_CODES: readonly number[] = [20, 21, 30, 31, 32];
const NOT_IN_ROOM = 11;
const OP_SEND = 20;

export interface Reply {
  readonly frame: Frame;
  /** requests sent for it */
  readonly attempts: number;
}

export interface OutboxHost {
  /** the connection requests may go on now (welcomed), or null */
  link(): Link | null;
  /** the room joined on that connection */
  joined(): string | null;
  /** the room asked for (join()) */
  room(): string | null;
  /** a SEND was refused with not_in_room although the client thought it joined: join again */
  rejoin(): void;
  readonly requestTimeoutMs: number;
}

interface Job {
  readonly op: number;
  readonly body: Record<string, unknown> | null;
  /** SEND: the room it was meant for */
  readonly room: string | null;
  readonly resolve: (r: Reply) => void;
  readonly reject: (e: Error) => void;
  readonly deadline: ReturnType<typeof setTimeout>;
  attempts: number;
  failures: number;
  inFlight: boolean;
  retryAt: number;
}

export class Outbox {
  private readonly jobs = new Set<Job>();
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly host: OutboxHost) {}

  /** Queues a request; resolves with its reply, rejects with RequestError, TimeoutError (after deadlineMs) or ClientClosedError. */
  request(op: number, body: Record<string, unknown> | null, deadlineMs: number, room: string | null = null): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const job: Job = {
        op,
        body,
        room,
        resolve,
        reject,
        deadline: setTimeout(() => this.fail(job, new TimeoutError(`no answer within ${deadlineMs} ms${body?.id ? ` for ${String(body.id)}` : ''}`)), deadlineMs),
        attempts: 0,
        failures: 0,
        inFlight: false,
        retryAt: 0,
      };
      this.jobs.add(job);
      this.pump();
    });
  }

  /** Sends every request that may go now; comes back for those waiting for their retry time. */
  pump(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const link = this.host.link();
    if (!link) return;
    const now = Date.now();
    let next = Infinity;
    for (const job of this.jobs) {
      if (job.inFlight) continue;
      if (job.op === OP_SEND) {
        if (job.room !== this.host.room()) {
          this.fail(job, new RequestError(NOT_IN_ROOM, 'not_in_room', `left room ${job.room} before this was sent`));
          continue;
        }
        if (this.host.joined() !== job.room) continue; // sent once the JOINED is in
      }
      if (job.retryAt > now) next = Math.min(next, job.retryAt);
      else this.attempt(link, job);
    }
    if (next < Infinity) this.timer = setTimeout(() => this.pump(), next - now);
  }

  /** Rejects every request (close(), or the server would not let the client back in). */
  failAll(err: Error): void {
    for (const job of [...this.jobs]) this.fail(job, err);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  get size(): number {
    return this.jobs.size;
  }

  private attempt(link: Link, job: Job): void {
    job.inFlight = true;
    job.attempts++;
    const body = job.room !== null ? { ...job.body, room: job.room } : job.body;
    link.request(job.op, body, this.host.requestTimeoutMs, (err, reply) => {
      if (!this.jobs.has(job)) return; // given up meanwhile (deadline, close)
      job.inFlight = false;
      if (reply) {
        this.jobs.delete(job);
        clearTimeout(job.deadline);
        return job.resolve({ frame: reply, attempts: job.attempts });
      }
      if (err instanceof RequestError) {
        if (job.op === OP_SEND && err.code === NOT_IN_ROOM && job.room === this.host.room()) this.host.rejoin();
        else if (!RETRY_CODES.includes(err.code)) return this.fail(job, err);
        const cap = backoffCap(job.failures++, 100, 2000);
        job.retryAt = Date.now() + Math.max(err.retryMs ?? 0, cap / 2 + (Math.random() * cap) / 2);
      } else if (!(err instanceof LinkClosed)) job.failures++; // a timeout: at once, on this link or the next
      this.pump();
    });
  }

  private fail(job: Job, err: Error): void {
    if (!this.jobs.delete(job)) return;
    clearTimeout(job.deadline);
    job.reject(err);
  }
}
