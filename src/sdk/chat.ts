// Chat (docs/protocol.md, "MSG", "MESSAGE", "Offline inbox and history"): the inbox cursor and
// SYNC runs, MESSAGE de-duplication by id and its batched RECEIVED, and the Conversations /
// Conversation API over CONTACTS, HISTORY, READ and MSG.

import { inboxMessages } from './codec.js';
import { RequestError } from './errors.js';
import type { Link } from './link.js';
import { RecentSet } from './recent.js';
import type { Ack, ChatMessage, ConversationKey, ConversationSummary } from './types.js';

const OP_MSG = 22;
const OP_RECEIVED = 33;
const OP_SYNC = 40;
const OP_HISTORY = 42;
const OP_CONTACTS = 44;
const OP_READ = 46;
const OUT_OF_RETENTION = 40;
/** MESSAGE ids remembered for de-duplication (a resend, the live push and a SYNC page can carry one message). */
const SEEN_MAX = 5000;
/** Ids in one RECEIVED frame, at most. */
const RECEIVED_MAX_IDS = 100;
/** Conversations whose highest seen s is remembered (markRead's default). */
const HIGHEST_MAX = 1000;

/** What the chat needs of the client. */
export interface ChatHost {
  /** a read (SYNC, HISTORY, CONTACTS, READ), retried like every request; resolves with the reply body */
  read(op: number, body: Record<string, unknown> | null): Promise<Record<string, unknown>>;
  /** a MSG, retried with its id until acknowledged */
  msg(body: Record<string, unknown>): Promise<Ack>;
  /** the signed-in user's uid (the current or last connection's) */
  uid(): string | null;
  message(m: ChatMessage, via: 'live' | 'sync'): void;
  cursor(c: number): void;
  error(e: Error): void;
}

/** 'g:<group>' or 'to:<uid>'. */
export function conversationId(key: ConversationKey): string {
  return 'g' in key ? `g:${key.g}` : `to:${key.to}`;
}

/** A key from 'g:<group>' / 'to:<uid>' or a key object. */
export function parseConversation(key: ConversationKey | string): ConversationKey {
  if (typeof key !== 'string') return 'g' in key ? { g: key.g } : { to: key.to };
  if (key.startsWith('g:')) return { g: key.slice(2) };
  if (key.startsWith('to:')) return { to: key.slice(3) };
  throw new TypeError(`conversation id must be 'g:<group>' or 'to:<uid>', not ${JSON.stringify(key)}`);
}

/** The conversation a message belongs to, seen by `me`: a group, or the other user ('' for server notices). */
export function conversationOf(m: { g?: string; to?: string; u: string }, me: string | null): ConversationKey {
  if (typeof m.g === 'string') return { g: m.g };
  return { to: m.to === me ? m.u : (m.to ?? '') };
}

/** The inbox cursor, MESSAGE de-duplication and acknowledgement, and SYNC runs. */
export class Inbox {
  cursor: number | null;
  /** last known unread total (CONTACTS, UNREAD) */
  total = 0;
  private readonly seen = new RecentSet<string>(SEEN_MAX);
  private readonly highest = new Map<string, number>();
  private toAck = new Set<string>();
  private ackLink: Link | null = null;
  private ackTimer: ReturnType<typeof setTimeout> | null = null;
  private syncing: Promise<void> | null = null;
  private syncAgain = false;

  constructor(
    private readonly host: ChatHost,
    cursor: number | null,
    private readonly ackDelayMs: number,
  ) {
    this.cursor = cursor;
  }

  /** A live MESSAGE on `link`: acknowledged (every copy: an earlier RECEIVED may be lost), shown once. */
  onMessage(link: Link, body: Record<string, unknown>): void {
    const id = body.id;
    if (typeof id === 'string') this.ack(link, id);
    this.show(body as unknown as ChatMessage, 'live');
  }

  /** An INBOX page (the push after WELCOME or a SYNC reply); resolves with its `more`. */
  async onPage(body: Record<string, unknown>): Promise<boolean> {
    const messages = await inboxMessages(body.d);
    for (const m of messages) this.show(m as unknown as ChatMessage, 'sync');
    const cursor = Number(body.cursor);
    // Every read starts at or below the cursor held when it began: the larger end is read through.
    if (Number.isFinite(cursor) && (this.cursor === null || cursor > this.cursor)) {
      this.cursor = cursor;
      this.host.cursor(cursor);
    }
    return body.more === true;
  }

  /** SYNC from the cursor until `more` is false; a run asked for during one runs once more after it. */
  sync(): Promise<void> {
    if (this.syncing) {
      this.syncAgain = true;
      return this.syncing;
    }
    const run = async () => {
      try {
        do {
          this.syncAgain = false;
          await this.syncPages();
        } while (this.syncAgain);
      } finally {
        this.syncing = null;
      }
    };
    return (this.syncing = run());
  }

  /** The highest s seen of a conversation (markRead's default). */
  highestSeen(id: string): number | undefined {
    return this.highest.get(id);
  }

  /** Notes a message seen (live, synced, in a history page or a contact's last). */
  note(m: ChatMessage): void {
    if (typeof m.s !== 'number' || m.s <= 0) return;
    const id = conversationId(conversationOf(m, this.host.uid()));
    const prev = this.highest.get(id) ?? 0;
    if (m.s <= prev) return;
    this.highest.delete(id); // re-inserted: most recent last, the oldest forgotten first
    this.highest.set(id, m.s);
    if (this.highest.size > HIGHEST_MAX) this.highest.delete(this.highest.keys().next().value as string);
  }

  /** The connection is gone: ids not acknowledged yet need no ack (nothing is resent on the next). */
  linkGone(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    this.toAck = new Set();
    this.ackLink = null;
  }

  private show(m: ChatMessage, via: 'live' | 'sync'): void {
    if (typeof m.id === 'string' && !this.seen.add(m.id)) return;
    this.note(m);
    this.host.message(m, via);
  }

  private async syncPages(): Promise<void> {
    for (;;) {
      let body: Record<string, unknown>;
      try {
        body = await this.host.read(OP_SYNC, this.cursor === null ? null : { cursor: this.cursor });
      } catch (err) {
        if (!(err instanceof RequestError && err.code === OUT_OF_RETENTION)) throw err;
        // Entries after the cursor are gone: the most recent ones, and HISTORY for older.
        this.host.error(err);
        body = await this.host.read(OP_SYNC, null);
      }
      if (!(await this.onPage(body))) return;
    }
  }

  /** Collects ids for ackDelayMs and sends them in RECEIVED frames of at most 100. */
  private ack(link: Link, id: string): void {
    if (link !== this.ackLink) this.linkGone();
    this.ackLink = link;
    this.toAck.add(id); // a resend that came before the ack went: one id is enough
    this.ackTimer ??= setTimeout(() => {
      const ids = [...this.toAck];
      this.toAck = new Set();
      this.ackTimer = null;
      for (let i = 0; i < ids.length; i += RECEIVED_MAX_IDS) link.post(OP_RECEIVED, { ids: ids.slice(i, i + RECEIVED_MAX_IDS) });
    }, this.ackDelayMs);
  }
}

/** One conversation: a group, or the one with another user (`{to: ''}`: your server notices). */
export class Conversation {
  readonly key: ConversationKey;
  readonly id: string;

  constructor(
    key: ConversationKey | string,
    private readonly host: ChatHost,
    private readonly inbox: Inbox,
  ) {
    this.key = parseConversation(key);
    this.id = conversationId(this.key);
  }

  /** MSG, retried with the same id until acknowledged (see send() of the client). */
  send(text: string, opts: { id?: string } = {}): Promise<Ack> {
    return this.host.msg({ ...this.key, x: text, id: opts.id });
  }

  /** One HISTORY page: messages below `before` (default: the newest), newest first, as the server sends them. */
  async history(opts: { before?: number; limit?: number } = {}): Promise<{ messages: ChatMessage[]; more: boolean; trimmed: boolean }> {
    const body = await this.host.read(OP_HISTORY, { ...this.key, before: opts.before, limit: opts.limit });
    const messages = Array.isArray(body.d) ? (body.d as ChatMessage[]) : [];
    for (const m of messages) this.inbox.note(m);
    return { messages, more: body.more === true, trimmed: body.trimmed === true };
  }

  /**
   * READ up to `s` (default: the highest s this client has seen of the conversation; none seen:
   * everything, since the server stops the position at the conversation's last message).
   */
  async markRead(s?: number): Promise<{ read: number; unread: number; total: number }> {
    const upTo = s ?? this.inbox.highestSeen(this.id) ?? Number.MAX_SAFE_INTEGER;
    const body = await this.host.read(OP_READ, { ...this.key, s: upTo });
    this.inbox.total = Number(body.total) || 0;
    return { read: Number(body.read) || 0, unread: Number(body.unread) || 0, total: Number(body.total) || 0 };
  }
}

/** The user's conversations: recent contacts, unread total, inbox sync. */
export class Conversations {
  constructor(
    private readonly host: ChatHost,
    private readonly inbox: Inbox,
  ) {}

  /** last known unread total (CONTACTS, UNREAD, READ) */
  get total(): number {
    return this.inbox.total;
  }

  /** CONTACTS: most recent first; total = unread over all conversations. */
  async list(limit?: number): Promise<{ total: number; items: ConversationSummary[] }> {
    const body = await this.host.read(OP_CONTACTS, limit === undefined ? null : { limit });
    const items: ConversationSummary[] = [];
    for (const c of Array.isArray(body.d) ? (body.d as Record<string, unknown>[]) : []) {
      const key: ConversationKey = typeof c.g === 'string' ? { g: c.g } : { to: String(c.to ?? '') };
      const item: ConversationSummary = { key, id: conversationId(key), t: Number(c.t) || 0, unread: Number(c.unread) || 0, read: Number(c.read) || 0 };
      if (c.last && typeof c.last === 'object') {
        item.last = c.last as ChatMessage;
        this.inbox.note(item.last);
      }
      items.push(item);
    }
    this.inbox.total = Number(body.total) || 0;
    return { total: this.inbox.total, items };
  }

  /** A conversation by key or id ('g:<group>' or 'to:<uid>'). */
  get(key: ConversationKey | string): Conversation {
    return new Conversation(key, this.host, this.inbox);
  }

  /** SYNC from the cursor until `more` is false (new messages arrive as 'message' events with via 'sync'). */
  sync(): Promise<void> {
    return this.inbox.sync();
  }
}
