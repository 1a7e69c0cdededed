// Requests that must get an answer: SEND and MSG (retried with the same client id until an ACK,
// `dup` or not, docs/protocol.md "Delivery guarantees") and the reads (SYNC, HISTORY, CONTACTS,
// READ, PING: idempotent, so retried the same way). A request waits for a connection (a SEND
// also for its room to be joined), goes again on the next connection after a lost one, at once
// after a timeout, and after ERROR 20, 21, 30, 31 or 32 (32: not before its retryMs); any other
// ERROR rejects it, and so does its deadline.
//
// SENDs of one room, and MSGs of one conversation, go one at a time in call order: the next
// goes once the one ahead is answered for good. A send refused by the rate limit waits for its
// retry with the later ones behind it, so a burst is stored in the order it was made.

import { backoffCap } from './backoff.js';
import { OutcomeUnknownError, RequestError, TimeoutError } from './errors.js';
import { LinkClosed, type Link } from './link.js';
import type { Frame } from './codec.js';

/** ERROR codes after which the same request is sent again (with the same id). */
const RETRY_CODES: readonly number[] = [20, 21, 30, 31, 32];
/** ERROR codes after which a SEND may have been stored (30: "may or may not be stored"; 31). */
const UNSURE_CODES: readonly number[] = [30, 31];
const NOT_IN_ROOM = 11;
const OP_SEND = 20;
const OP_MSG = 22;

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
  /** SEND: 'r:<room>', MSG: 'g:<group>' or 'to:<uid>': sends of one target go in order; reads: null */
  readonly target: string | null;
  readonly deadlineMs: number;
  readonly resolve: (r: Reply) => void;
  readonly reject: (e: Error) => void;
  /** armed once the client has been started (connect()) */
  deadline: ReturnType<typeof setTimeout> | null;
  attempts: number;
  failures: number;
  inFlight: boolean;
  /** an attempt ended without a sure "not stored" (no reply, lost link, ERROR 30/31) */
  unsure: boolean;
  retryAt: number;
}

function targetOf(op: number, body: Record<string, unknown> | null, room: string | null): string | null {
  if (op === OP_SEND) return `r:${room}`;
  if (op === OP_MSG && body) return typeof body.g === 'string' ? `g:${body.g}` : `to:${String(body.to)}`;
  return null;
}

export class Outbox {
  /** in call order (a Set keeps insertion order) */
  private readonly jobs = new Set<Job>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** connect() was called: deadlines run */
  private started = false;

  constructor(private readonly host: OutboxHost) {}

  /**
   * Queues a request; resolves with its reply, rejects with RequestError, TimeoutError
   * (deadlineMs after the call, or after connect() for one made before it),
   * OutcomeUnknownError or ClientClosedError.
   */
  request(op: number, body: Record<string, unknown> | null, deadlineMs: number, room: string | null = null): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const job: Job = {
        op,
        body,
        room,
        target: targetOf(op, body, room),
        deadlineMs,
        resolve,
        reject,
        deadline: null,
        attempts: 0,
        failures: 0,
        inFlight: false,
        unsure: false,
        retryAt: 0,
      };
      this.jobs.add(job);
      if (this.started) this.arm(job);
      this.pump();
    });
  }

  /** The client connects: deadlines start (requests made before the first connect() waited for it). */
  start(): void {
    this.started = true;
    for (const job of this.jobs) if (!job.deadline) this.arm(job);
  }

  /** Sends every request that may go now; comes back for those waiting for their retry time. */
  pump(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.dropStale();
    const link = this.host.link();
    if (!link) return;
    const now = Date.now();
    let next = Infinity;
    const behind = new Set<string>();
    for (const job of this.jobs) {
      if (job.target !== null) {
        if (behind.has(job.target)) continue; // one ahead of it is not answered yet
        behind.add(job.target);
      }
      if (job.inFlight) continue;
      if (job.op === OP_SEND && this.host.joined() !== job.room) continue; // sent once the JOINED is in
      if (job.retryAt > now) next = Math.min(next, job.retryAt);
      else this.attempt(link, job);
    }
    if (next < Infinity) this.timer = setTimeout(() => this.pump(), next - now);
  }

  /** Rejects every request (close(), or the server would not let the client back in). */
  failAll(err: Error): void {
    for (const job of [...this.jobs]) this.fail(job, err, false);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  get size(): number {
    return this.jobs.size;
  }

  /** Fails the SENDs whose room was left or switched before they were answered: not sent to another room. */
  private dropStale(): void {
    const room = this.host.room();
    for (const job of [...this.jobs]) if (job.op === OP_SEND && !job.inFlight && job.room !== room) this.fail(job, this.notInRoom(job, null), false);
  }

  private arm(job: Job): void {
    const id = job.body?.id;
    job.deadline = setTimeout(() => this.fail(job, new TimeoutError(`no answer within ${job.deadlineMs} ms${id ? ` for ${String(id)}` : ''}`)), job.deadlineMs);
  }

  private attempt(link: Link, job: Job): void {
    job.inFlight = true;
    job.attempts++;
    const body = job.room !== null ? { ...job.body, room: job.room } : job.body;
    const sent = link.request(job.op, body, this.host.requestTimeoutMs, (err, reply) => {
      if (!this.jobs.has(job)) return; // given up meanwhile (deadline, close)
      job.inFlight = false;
      if (reply) {
        this.jobs.delete(job);
        if (job.deadline) clearTimeout(job.deadline);
        job.resolve({ frame: reply, attempts: job.attempts });
        return this.pump(); // the next of its target
      }
      // The link is gone: the next connection's WELCOME sends it again (not this one: no loop).
      if (err instanceof LinkClosed) {
        if (sent) job.unsure = true;
        return this.dropStale(); // a SEND whose room is gone meanwhile fails now
      }
      if (err instanceof RequestError) {
        if (job.op === OP_SEND && err.code === NOT_IN_ROOM) {
          if (job.room !== this.host.room()) return this.fail(job, this.notInRoom(job, err));
          this.host.rejoin();
        } else if (!RETRY_CODES.includes(err.code)) return this.fail(job, err);
        if (UNSURE_CODES.includes(err.code)) job.unsure = true;
        const cap = backoffCap(job.failures++, 100, 2000);
        job.retryAt = Date.now() + Math.max(err.retryMs ?? 0, cap / 2 + (Math.random() * cap) / 2);
      } else {
        job.unsure = true; // no reply: at once, on this link or the next
        job.failures++;
      }
      this.pump();
    });
    if (!sent) job.attempts--; // the socket was closing: nothing went out
  }

  /** A SEND that lost its room: 11 when no attempt can have been stored, else outcome unknown. */
  private notInRoom(job: Job, err: RequestError | null): Error {
    if (job.unsure) {
      const id = String(job.body?.id);
      return new OutcomeUnknownError(`left room ${job.room} before ${id} was acknowledged: it may or may not be stored`, id, job.room ?? '');
    }
    return err ?? new RequestError(NOT_IN_ROOM, 'not_in_room', `left room ${job.room} before this was sent`);
  }

  private fail(job: Job, err: Error, next = true): void {
    if (!this.jobs.delete(job)) return;
    if (job.deadline) clearTimeout(job.deadline);
    job.reject(err);
    if (next) this.pump(); // the next of its target
  }
}
