// Chat storage: what makes group and direct messages outlive the live fan-out. A message is
// stored ONCE in its conversation's history; each recipient's inbox holds a reference to it
// (`<seq> <conv>`) under a per-user version (the SYNC cursor); contacts are the user's
// conversations by last message time; unread counts are derived from history and the user's
// read seq, never counted up and down (so they cannot drift). The logic enqueues records, a
// writer applies them (apply() is idempotent, so a redelivered batch changes nothing); the
// read side serves SYNC, HISTORY, CONTACTS and READ. memory.ts (standalone) and redis.ts
// (cluster) pass test/contract/chat-suite.ts.

import { decode, encode } from '../../protocol/codec.js';

/** One stored message, as the logic enqueues it and the writer applies it. */
export interface StoredRecord {
  /** conversation: a sequence scope, `group:<gid>` or `dm:<a>|<b>` (sequence/index.ts) */
  readonly c: string;
  /** seq in the conversation; 0 = unsequenced (Redis was down at intake): the store assigns one */
  readonly s: number;
  /** server message id: makes an unsequenced record's replay find the seq it was given */
  readonly id: string;
  /** accept time, ms */
  readonly t: number;
  /** sender uid */
  readonly u: string;
  /** the encoded message; its `s` says 0 when unsequenced (the store then re-encodes it) */
  readonly m: Uint8Array;
  /** inbox recipients, sender included; [] for a big group (history only) */
  readonly r: readonly string[];
  /**
   * the client's de-duplication claim (`<uid>|<client id>`), when the MSG had an id and a seq:
   * the writer settles it with the seq once the record is stored, so that a retry finds the
   * message even when the logic process that took it died before answering
   */
  readonly k?: string;
}

export interface ChatStoreLimits {
  /** history (and contacts, read seqs) kept this long after a message's time */
  readonly historyRetentionMs: number;
  /** inbox entries kept this long; <= historyRetentionMs (config enforces) */
  readonly inboxRetentionMs: number;
  /** inbox entries per user, oldest evicted first */
  readonly inboxMax: number;
  /** contacts per user, least recent evicted first */
  readonly contactsMax: number;
}

const DAY_MS = 86_400_000;
export const DEFAULT_HISTORY_RETENTION_MS = 180 * DAY_MS;
export const DEFAULT_INBOX_RETENTION_MS = 7 * DAY_MS;
export const DEFAULT_INBOX_MAX = 1000;
export const DEFAULT_CONTACTS_MAX = 1000;
/** How long an unsequenced record's id keeps the seq it was given (its replays find it). */
export const ASSIGNED_ID_TTL_MS = DAY_MS;
/** An inbox cursor further ahead of the clock than this is not one the server gave. */
export const CURSOR_SLACK_MS = DAY_MS;

export const DEFAULT_CHAT_LIMITS: ChatStoreLimits = Object.freeze({
  historyRetentionMs: DEFAULT_HISTORY_RETENTION_MS,
  inboxRetentionMs: DEFAULT_INBOX_RETENTION_MS,
  inboxMax: DEFAULT_INBOX_MAX,
  contactsMax: DEFAULT_CONTACTS_MAX,
});

export interface ApplyResult {
  /** records written now */
  applied: number;
  /** records written before (idempotent replays) */
  skipped: number;
  /** inbox entries evicted by the count cap or age (all users) */
  evicted: number;
  /** inbox entries written (one per distinct recipient of each applied record) */
  inboxWrites: number;
  /** uids (recipients other than the sender) whose unread rose */
  unreadChanged: string[];
}

export interface InboxPage {
  /** oldest first; an entry whose message is no longer in history is left out */
  items: { v: number; m: Uint8Array }[];
  /** version of the last entry read (the request's cursor when none; 0 stays 0) */
  cursor: number;
  /** entries after `cursor` exist */
  more: boolean;
}

export interface HistoryPage {
  /** newest first */
  items: Uint8Array[];
  /** older retained messages exist */
  more: boolean;
  /** older messages existed but are past retention (only when !more) */
  trimmed: boolean;
}

export interface Contact {
  c: string;
  /** time of the conversation's last message */
  t: number;
  /** the last retained message, or null when none is */
  last: Uint8Array | null;
  unread: number;
  /** the user's read seq in the conversation (0 when none) */
  read: number;
}

/** The client's cursor points before what was evicted or trimmed: it must start over. */
export class OutOfRetentionError extends Error {
  override name = 'OutOfRetentionError';
}

export interface ChatStore {
  /**
   * Idempotent: a record whose (c, s) is in history already (or, s=0, whose id was applied) is
   * skipped. Each record: history append (content stored once), then for each uid in r an inbox
   * entry (version strictly increasing per user, in record order) and a contact (score t); for
   * the sender the read seq raised to s. Age and count trims of inboxes (counted in `evicted`),
   * contacts and history. s=0 records get the next seq of their conversation (the sequence the
   * intake uses), written into m, and keep it for ASSIGNED_ID_TTL_MS.
   */
  apply(records: readonly StoredRecord[], now: number): Promise<ApplyResult>;
  /**
   * after: entries with v > after, oldest first, up to limit. latest: the most recent `limit`
   * entries (oldest first; more=false). OutOfRetentionError when after > 0 and entries after it
   * were evicted, or the user's inbox state lapsed and after < now - inboxRetention. RangeError
   * when after > now + CURSOR_SLACK_MS (not a cursor this server gave).
   */
  inbox(uid: string, q: { after: number } | { latest: true }, limit: number, now: number): Promise<InboxPage>;
  /**
   * Messages with seq < before (undefined: the newest), newest first, up to limit.
   * OutOfRetentionError when everything below `before` was trimmed (before <= highest trimmed
   * seq + 1): never a silent empty page.
   */
  history(conv: string, before: number | undefined, limit: number, now: number): Promise<HistoryPage>;
  /**
   * The user's contacts, most recent first, up to limit, with `extra` convs (big groups the
   * user is in, not written per member) merged in by their last message time. unread = retained
   * history messages with seq > read seq; total = sum over ALL contacts + extra. One atomic read.
   */
  contacts(uid: string, limit: number, extra: readonly string[], now: number): Promise<{ contacts: Contact[]; total: number }>;
  /**
   * READ: read seq = max(current, min(seq, conv's last seq)), the last seq being the one the
   * intake gave (a message may be read live before it is stored). Returns the conv's unread and
   * the total after it (`extra` as for contacts). Atomic.
   */
  read(uid: string, conv: string, seq: number, extra: readonly string[], now: number): Promise<{ read: number; unread: number; total: number }>;
  /**
   * A group's membership changed (the admin API). `joined`: users without a read position in
   * the conversation get one at its last stored seq, so that a new member's unread counts the
   * messages from now on, not the group's whole history. `left`: the conversation leaves their
   * contacts and read positions, so that a former member's unread stops counting it.
   */
  membership(conv: string, joined: readonly string[], left: readonly string[], now: number): Promise<void>;
  /** Unread totals of many users at once (unread pushes after writes); `extra` per uid. */
  totals(uids: readonly string[], extra: (uid: string) => readonly string[], now: number): Promise<Map<string, number>>;
}

/** The history member's time prefix: 13 digits of ms (retention by age without decoding). */
export const TIME_DIGITS = 13;

export function checkCursor(after: number, now: number): void {
  if (!Number.isSafeInteger(after) || after < 0 || after > now + CURSOR_SLACK_MS) throw new RangeError(`bad inbox cursor ${after}`);
}

/** An unsequenced record's message with its assigned seq written in: the one re-encoding. */
export function withSeq(m: Uint8Array, seq: number): Uint8Array {
  const body = decode(m) as Record<string, unknown>;
  body['s'] = seq;
  return encode(body);
}
