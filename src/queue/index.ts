// The chat storage queue: between the logic, which accepts a chat message and must not wait
// for its storage, and the writers, which apply stored records to the chat store (history,
// inboxes, contacts). enqueue() resolves once a record is durable; a writer acks records only
// after they are applied, so a record once enqueued is applied at least once (and the store's
// apply is idempotent: exactly once in effect). memory.ts is the standalone queue (in process),
// jetstream.ts the cluster one (a NATS JetStream stream with a shared durable pull consumer);
// both pass test/contract/queue-suite.ts.
// Here also the encoding of a queue message (a MessagePack array of records), and its
// defensive decoding: anything with access to the broker can publish on the queue's subject.

import { encode, tryDecode } from '../protocol/codec.js';
import { splitArray, type StrictRules } from '../protocol/strict.js';

import { UID } from '../protocol/ops.js';
import type { StoredRecord } from '../store/chat/index.js';

/** What the logic enqueues, the queue carries and a writer applies: defined with the store. */
export type { StoredRecord };

/** Metrics hooks (implemented in src/metrics.ts). */
export interface QueueObserver {
  /** records made durable, and the bytes of their queue message(s) */
  enqueued(records: number, bytes: number): void;
  /** records applied by a writer; lag = now - record.t per record, in seconds */
  applied(records: number, lagSeconds: number[]): void;
  /** polled every ~2 s while a writer runs: entries not yet applied (queue messages for
   *  JetStream, records for memory) and the age of the oldest, in seconds */
  backlog(messages: number, oldestAgeSeconds: number): void;
  /** queue messages (JetStream) or records (memory) handed to a writer again after a failure */
  redelivered(n: number): void;
  /** one apply() call rejected (the records are retried after a backoff) */
  applyFailed(): void;
  /** queue messages or records in them that are not valid records: dropped, never applied.
   *  Optional: not in the design's observer (see the report); counted when present. */
  malformed?(n: number): void;
}

export const nullQueueObserver: QueueObserver = {
  enqueued: () => undefined,
  applied: () => undefined,
  backlog: () => undefined,
  redelivered: () => undefined,
  applyFailed: () => undefined,
  malformed: () => undefined,
};

/** The queue is at its limits (bytes or messages): the client is refused (ERROR 32). */
export class QueueFullError extends Error {
  override name = 'QueueFullError';
}

/**
 * The queue cannot be reached, or did not confirm in time: the client is refused (ERROR 30).
 * `maybeStored`: the record was sent and its confirmation is what failed (a timeout, the
 * connection lost while waiting): it may be in the queue all the same.
 */
export class QueueUnavailableError extends Error {
  override name = 'QueueUnavailableError';
  constructor(
    message: string,
    readonly maybeStored = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * An apply's rejection that says nothing about any one record (the store's replicas did not
 * confirm the batch): the whole batch is retried after a backoff, never split message by
 * message to find a culprit.
 */
export class BatchRetryError extends Error {
  override name = 'BatchRetryError';
}

/** A writer's apply: resolves once every record is written (idempotently); rejects to retry them. */
export type ApplyFn = (records: StoredRecord[]) => Promise<void>;

export interface Writer {
  /** Stops taking records; resolves once the records it holds are applied and acked (or
   *  handed back for another writer). */
  stop(): Promise<void>;
}

export interface ChatQueue {
  /**
   * Resolves once the record is durable (JetStream: the PubAck of a file-stored stream).
   * Records of one turn of the event loop go as ONE queue message, <= MAX_RECORDS_PER_MESSAGE
   * records and <= MAX_MESSAGE_BYTES; a timed-out publish is retried with the same message id
   * (de-duplicated by the stream). Rejects with QueueFullError or QueueUnavailableError.
   */
  enqueue(rec: StoredRecord): Promise<void>;
  /** Starts a writer: takes batches, calls apply(records) once per batch, acks after it
   *  resolves; on a rejection the batch is retried after a backoff, nothing is dropped. */
  consume(apply: ApplyFn): Writer;
  /** Stops the writers (as stop()) and refuses further enqueues. */
  close(): Promise<void>;
}

/** Records per queue message at most. */
export const MAX_RECORDS_PER_MESSAGE = 256;
/** A queue message's bytes at most (a single larger record is refused: it is not a chat message). */
export const MAX_MESSAGE_BYTES = 512 * 1024;
/** The queue's default bound in bytes (CHAT_QUEUE_MAX_BYTES). */
export const DEFAULT_MAX_BYTES = 1024 * 1024 * 1024;
/** How often a running writer's queue reports its backlog. */
export const BACKLOG_POLL_MS = 2_000;

/** A writer's pause between retries, which its stop() cuts short. */
export class Pause {
  private cancel: (() => void) | undefined;

  /** Resolves after `ms`, or at once when cut short (now or during it). */
  wait(ms: number, cutShort = false): Promise<void> {
    if (cutShort) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.cancel = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  cutShort(): void {
    this.cancel?.();
  }
}

/** Backoff after the n-th consecutive failure (n >= 1): 250 ms doubling, capped. */
export function backoffMs(n: number, capMs: number): number {
  return Math.min(capMs, 250 * 2 ** Math.min(Math.max(n - 1, 0), 16));
}

/** One record as MessagePack: a map with the StoredRecord keys, `m` as bin. */
export function encodeRecord(rec: StoredRecord): Buffer {
  // Exactly these keys: a record object carrying anything else (a caller's extra fields) must
  // not put it on the queue.
  const out: Record<string, unknown> = { c: rec.c, s: rec.s, id: rec.id, t: rec.t, u: rec.u, m: rec.m, r: rec.r };
  if (rec.k !== undefined) out.k = rec.k;
  return encode(out);
}

/** The size a record takes in a queue message, without encoding it (the memory queue's bound). */
export function recordSize(rec: StoredRecord): number {
  let n = 48 + rec.c.length + rec.id.length + rec.u.length + rec.m.length + (rec.k?.length ?? 0);
  for (const uid of rec.r) n += uid.length + 2;
  return n;
}

/** One element of a queue message: a record is a map holding one array (`r`). */
const RECORD_RULES: StrictRules = { maxDepth: 2, allowBin: true };

export interface DecodedMessage {
  readonly records: StoredRecord[];
  /** elements that were not valid records (dropped) */
  readonly bad: number;
  /** false when the message as a whole is not a MessagePack array */
  readonly array: boolean;
}

/**
 * Decodes a queue message. Never throws: a message that is not an array of plain MessagePack
 * is `array: false`; within an array, each element that is not a valid record is counted in
 * `bad` and left out, and the valid ones are kept. `m` is copied: the payload may be a view
 * into the connection's read buffer.
 */
export function decodeMessage(bytes: Uint8Array): DecodedMessage {
  // Split first (plain MessagePack only: an extension type or nesting past 8 anywhere leaves
  // nothing to read), then each element checked and decoded on its own: a well-formed element
  // that is not a record (a deep one, a wrong field) costs only itself, not the records beside it.
  const elements = splitArray(bytes);
  if (!elements) return { records: [], bad: 0, array: false };
  const records: StoredRecord[] = [];
  let bad = 0;
  for (const el of elements) {
    const rec = toRecord(tryDecode(el, RECORD_RULES));
    if (rec) records.push(rec);
    else bad++;
  }
  return { records, bad, array: true };
}

const MAX_RECIPIENTS = 100_000;


/** Conversation scopes a record may name: a group, a pair of uids in order, or a user's notices. */
const CONV = /^(?:group:[A-Za-z0-9_-]{1,64}|dm:([A-Za-z0-9_.@:-]{1,64})\|([A-Za-z0-9_.@:-]{1,64})|notice:([A-Za-z0-9_.@:-]{1,64}))$/;
const MESSAGE_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** A client message id (docs/protocol.md, SEND `id`). */
const CLIENT_ID = /^[\x21-\x7e]{1,64}$/;

/**
 * A decoded element as a record, or null: the checks every writer relies on. Anything with
 * access to NATS can publish on the queue's subject, and a record's message is served to
 * clients byte for byte: it must be a MESSAGE body that agrees with the record (conversation,
 * seq, sender, time, id), its time must fit the history's 13-digit prefix, and every uid must
 * be one. A record failing any check is dropped (and counted), never stored.
 */
export function toRecord(el: unknown): StoredRecord | null {
  if (typeof el !== 'object' || el === null || Array.isArray(el)) return null;
  const { c, s, id, t, u, m, r, k } = el as Record<string, unknown>;
  if (typeof c !== 'string' || typeof id !== 'string' || typeof u !== 'string') return null;
  const pair = CONV.exec(c);
  // A notice (the backend API's) is the server's: sender '', and only in a notice scope.
  const notice = pair?.[3] !== undefined;
  if (!pair || !MESSAGE_ID.test(id) || (notice ? u !== '' : !UID.test(u))) return null;
  // The claim is the sender's own (`<uid>|<client id>`), or for a notice the backend API's key
  // in that very scope (`|<scope>|<key>`): a record cannot settle another's.
  if (k !== undefined && (typeof k !== 'string' || !k.startsWith(notice ? `|${c}|` : `${u}|`) || !CLIENT_ID.test(k.slice(notice ? c.length + 2 : u.length + 1)))) return null;
  if (pair[1] !== undefined && !(pair[1] <= pair[2]!)) return null;
  if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 0) return null;
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 1e12 || t >= 1e13) return null;
  if (!(m instanceof Uint8Array) || m.length === 0 || m.length > MAX_MESSAGE_BYTES) return null;
  if (!Array.isArray(r) || r.length > MAX_RECIPIENTS || !r.every((x) => typeof x === 'string' && UID.test(x))) return null;
  const body = tryDecode(m) as Record<string, unknown> | undefined;
  if (typeof body !== 'object' || body === null || Array.isArray(body) || body instanceof Uint8Array) return null;
  if (body.s !== s || body.id !== id || body.u !== u || body.t !== t || typeof body.x !== 'string' || typeof body.n !== 'string') return null;
  if (c.startsWith('group:') ? body.g !== c.slice(6) : notice ? body.to !== pair[3] : typeof body.to !== 'string' || !(pair[1] === body.to || pair[2] === body.to)) return null;
  // Buffer.from copies (a Buffer's slice() would not).
  const rec: StoredRecord = { c, s: s + 0, id, t, u, m: Buffer.from(m), r: r as string[] };
  return k === undefined ? rec : { ...rec, k: k as string };
}

/** Lag of each record applied at `now`, in seconds (never negative: clocks of other hosts). */
export function lagsOf(records: readonly StoredRecord[], now: number): number[] {
  return records.map((r) => Math.max(0, now - r.t) / 1000);
}
