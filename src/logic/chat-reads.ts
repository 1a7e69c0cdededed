// The chat reads of the logic service: SYNC (the offline inbox, also pushed on connect), HISTORY
// (a conversation backwards), CONTACTS (recent conversations with unread counts) and READ (the
// user read a conversation up to a seq). Each answers with the reply frame's op and its body,
// encoded here: stored messages are spliced in as the bytes they were stored as, never
// re-encoded. docs/protocol.md, "Offline inbox and history".

import { gzipSync } from 'node:zlib';
import type { Metrics } from '../metrics.js';
import { decode, encode, encodeArrayOfEncoded, encodeBodyWithItems, encodeFrame } from '../protocol/codec.js';
import { Errors, ProtocolError } from '../protocol/errors.js';
import { Op } from '../protocol/ops.js';
import { OutOfRetentionError, type ChatStore, type Contact } from '../store/chat/index.js';
import type { Groups } from '../store/groups/index.js';
import { scopes } from '../store/sequence/index.js';
import type { ChatFanout } from './chat.js';
import { READ_REPLY_MAX_BYTES, type UpstreamRequest } from './upstream.js';
import { validateContacts, validateHistory, validateRead, validateSync, type ConversationRef } from './validate.js';


export interface ChatReadsOptions {
  /** groups with more members are "big": their messages are not in members' inboxes */
  readonly bigGroupSize: number;
  /** how long a user's big groups are reused (GROUP_CACHE_MS) */
  readonly groupCacheMs?: number;
}

/** Users whose big groups are kept at most. */
const BIG_GROUPS_CACHE_MAX = 100_000;

/** The reply of a read: the reply frame's op and its encoded body. */
export interface ReadReply {
  readonly o: number;
  readonly b: Uint8Array;
}

export class ChatReads {
  constructor(
    private readonly store: ChatStore,
    private readonly groups: Groups,
    private readonly chat: ChatFanout,
    private readonly opts: ChatReadsOptions,
    private readonly metrics: Metrics,
  ) {}

  /** Whether `op` is one of the reads this class answers. */
  static handles(op: number): boolean {
    return op === Op.Sync || op === Op.History || op === Op.Contacts || op === Op.Read;
  }

  async handle(req: UpstreamRequest): Promise<ReadReply> {
    const started = performance.now();
    try {
      switch (req.o) {
        case Op.Sync:
          return await this.sync(req);
        case Op.History:
          return await this.history(req);
        case Op.Contacts:
          return await this.contacts(req);
        default:
          return await this.read(req);
      }
    } catch (err) {
      if (err instanceof OutOfRetentionError) throw new ProtocolError(Errors.OutOfRetention, err.message);
      // A cursor beyond any version this server could have given (the store's RangeError).
      if (err instanceof RangeError) throw new ProtocolError(Errors.BadField, err.message);
      throw err;
    } finally {
      this.metrics.chatRead(opName(req.o), (performance.now() - started) / 1000);
    }
  }

  /**
   * SYNC: inbox entries after the cursor, oldest first; without a cursor the most recent
   * `limit`. The messages travel as one gzip-compressed MessagePack array (`d`), which a
   * browser reads with DecompressionStream('gzip').
   */
  private async sync(req: UpstreamRequest): Promise<ReadReply> {
    const { cursor, limit } = validateSync(req.b);
    const page = await this.store.inbox(req.u, cursor === undefined ? { latest: true } : { after: cursor }, limit, Date.now());
    // A page is cut short (with `more`) to keep the reply under READ_REPLY_MAX_BYTES.
    const n = fitting(page.items.map((i) => i.m));
    const items = page.items.slice(0, n);
    const more = page.more || n < page.items.length;
    const last = items.at(-1);
    const next = last ? last.v : page.cursor;
    const packed = encodeArrayOfEncoded(items.map((i) => i.m));
    // Synchronous: a page is at most 127 KiB (about a millisecond at most), and zlib's
    // asynchronous path costs more in stream machinery than it saves for pages this small.
    const d = gzipSync(packed);
    this.metrics.inboxSynced(items.length, packed.length, d.length);
    return { o: Op.Inbox, b: encode({ z: 'gzip', n: items.length, cursor: next, more, d }) };
  }

  private async history(req: UpstreamRequest): Promise<ReadReply> {
    const { conv, before, limit } = validateHistory(req.b);
    const scope = await this.conversation(req.u, conv);
    const page = await this.store.history(scope, before, limit, Date.now());
    const n = fitting(page.items);
    const fields: Record<string, unknown> = { ...conv, more: page.more || n < page.items.length };
    if (page.trimmed && n === page.items.length) fields.trimmed = true;
    return { o: Op.Messages, b: encodeBodyWithItems(fields, 'd', page.items.slice(0, n)) };
  }

  private async contacts(req: UpstreamRequest): Promise<ReadReply> {
    const { limit } = validateContacts(req.b);
    const { contacts, total } = await this.store.contacts(req.u, limit, await this.bigGroupsOf(req.u), Date.now());
    const entries = contacts.map((c) => encodeContact(req.u, c));
    return { o: Op.Recent, b: encodeBodyWithItems({ total }, 'd', entries) };
  }

  /** READ: clears the conversation's unread up to `s`, then tells every connection of the user. */
  private async read(req: UpstreamRequest): Promise<ReadReply> {
    const { conv, s } = validateRead(req.b);
    const scope = await this.conversation(req.u, conv);
    const { read, unread, total } = await this.store.read(req.u, scope, s, await this.bigGroupsOf(req.u), Date.now());
    const body = { ...conv, read, unread, total };
    // Best effort: the reply carries the same figures, and CONTACTS has them.
    // A fresh registry answer: the push is not stored, and the other device may have just connected.
    this.chat.deliverFrame([req.u], encodeFrame(Op.Unread, 0, body), { fresh: true }).catch(() => this.metrics.unreadPushFailed());
    return { o: Op.Unread, b: encode(body) };
  }

  /** The conversation's scope; a group only for its members (ERROR 14 otherwise). */
  private async conversation(uid: string, conv: ConversationRef): Promise<string> {
    if ('to' in conv) return conv.to === '' ? scopes.notices(uid) : scopes.direct(uid, conv.to);
    if (!(await this.groups.isMember(conv.g, uid))) throw new ProtocolError(Errors.NotMember, `group ${conv.g}`);
    return scopes.group(conv.g);
  }

  /**
   * The big groups `uid` is in, as conversation scopes: their unread counts are derived, not
   * written. Reused for GROUP_CACHE_MS: the unread pushes ask it for every online recipient
   * every round.
   */
  async bigGroupsOf(uid: string): Promise<string[]> {
    const ttl = this.opts.groupCacheMs ?? 0;
    const now = performance.now();
    const hit = this.bigGroups.get(uid);
    if (hit && now - hit.at < ttl) return hit.convs;
    const ids = await this.groups.groupsOf(uid);
    const sizes = ids.length === 0 ? [] : await this.groups.sizes(ids);
    const convs = ids.filter((_, i) => sizes[i]! > this.opts.bigGroupSize).map(scopes.group);
    if (ttl > 0) {
      this.bigGroups.delete(uid);
      this.bigGroups.set(uid, { at: performance.now(), convs });
      if (this.bigGroups.size > BIG_GROUPS_CACHE_MAX) this.bigGroups.delete(this.bigGroups.keys().next().value!);
    }
    return convs;
  }

  private readonly bigGroups = new Map<string, { readonly at: number; readonly convs: string[] }>();
}

/** How many of `items` (at least one) fit in a read's reply, READ_REPLY_MAX_BYTES less room for its other fields. */
function fitting(items: readonly Uint8Array[]): number {
  let bytes = 0;
  for (let i = 0; i < items.length; i++) {
    bytes += items[i]!.length;
    if (bytes > READ_REPLY_MAX_BYTES - 1024 && i > 0) return i;
  }
  return items.length;
}

/** Code points of a contact's last message text shown in CONTACTS: a preview. */
export const PREVIEW_CHARS = 50;

/** A CONTACTS entry: `{g}` or `{to}`, time, unread, read seq, and the last message with its text cut to a preview. */
function encodeContact(uid: string, c: Contact): Uint8Array {
  const fields: Record<string, unknown> = { ...refOf(uid, c.c), t: c.t, unread: c.unread, read: c.read };
  if (c.last) fields.last = preview(decode(c.last) as Record<string, unknown>);
  return encode(fields);
}

function preview(m: Record<string, unknown>): Record<string, unknown> {
  if (typeof m.x !== 'string') return m;
  const chars = [...m.x];
  return chars.length > PREVIEW_CHARS ? { ...m, x: chars.slice(0, PREVIEW_CHARS).join('') } : m;
}

/** The client's name of a conversation scope, from `uid`'s side (`to: ''`: the user's notices). */
export function refOf(uid: string, scope: string): ConversationRef {
  if (scope.startsWith('group:')) return { g: scope.slice(6) };
  if (scope.startsWith('notice:')) return { to: '' };
  const [a, b] = scope.slice(3).split('|') as [string, string];
  return { to: a === uid ? b : a };
}

function opName(op: number): 'sync' | 'history' | 'contacts' | 'read' {
  return op === Op.Sync ? 'sync' : op === Op.History ? 'history' : op === Op.Contacts ? 'contacts' : 'read';
}
