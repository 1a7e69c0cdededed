// Chat storage in this process's memory (standalone mode). The same rules as redis.ts (one
// copy of each message in its conversation's history, inbox entries referencing it, derived
// unread), with the same bounds: retention by age and the per-user caps. Memory adds its own
// caps, since one process holds everything: messages per conversation (older ones are trimmed
// as if past retention), and conversations and users kept, least recently written forgotten
// first (so is anything idle past retention). Every method runs synchronously once its
// arguments are known, so each is atomic against the others, as a Redis script is.

import {
  ASSIGNED_ID_TTL_MS,
  checkCursor,
  DEFAULT_CHAT_LIMITS,
  OutOfRetentionError,
  withSeq,
  type ApplyResult,
  type ChatStore,
  type ChatStoreLimits,
  type Contact,
  type HistoryPage,
  type InboxPage,
  type StoredRecord,
} from './index.js';

export interface MemoryChatOptions {
  readonly limits?: Partial<ChatStoreLimits>;
  /** messages kept per conversation (memory only) */
  readonly historyMax?: number;
  /** conversations kept; beyond it the least recently written is forgotten */
  readonly maxConvs?: number;
  /** users kept; beyond it the least recently written is forgotten */
  readonly maxUsers?: number;
  /** the next seq of a conversation (the memory sequencer): for unsequenced records */
  readonly next?: (conv: string) => Promise<number>;
  /** the last seq the sequencer gave in a conversation: the bound of a READ */
  readonly current?: (conv: string) => Promise<number>;
}

export const MEMORY_HISTORY_MAX = 5_000;
export const MEMORY_MAX_CONVS = 100_000;
export const MEMORY_MAX_USERS = 100_000;

interface Msg {
  readonly s: number;
  readonly t: number;
  readonly m: Uint8Array;
}

interface Conv {
  /** by seq */
  readonly items: Msg[];
  /** highest seq trimmed (age or cap), 0 when none */
  trimmed: number;
  writtenAt: number;
}

interface Entry {
  readonly v: number;
  readonly s: number;
  readonly c: string;
}

interface User {
  /** by version */
  inbox: Entry[];
  /** last version given */
  v: number;
  /** highest version evicted */
  e: number;
  /** conv -> time of its last message */
  readonly contacts: Map<string, number>;
  /** conv -> read seq */
  readonly read: Map<string, number>;
  writtenAt: number;
}

export class MemoryChatStore implements ChatStore {
  private readonly limits: ChatStoreLimits;
  private readonly historyMax: number;
  private readonly maxConvs: number;
  private readonly maxUsers: number;
  /** Map order = least recently written first */
  private readonly convs = new Map<string, Conv>();
  private readonly users = new Map<string, User>();
  /** unsequenced record id -> its seq (a promise while the sequencer answers), insertion order = age */
  private readonly ids = new Map<string, { seq: Promise<number>; at: number }>();
  /** the fallback sequence when no sequencer is given */
  private readonly seqs = new Map<string, number>();

  constructor(private readonly opts: MemoryChatOptions = {}) {
    this.limits = { ...DEFAULT_CHAT_LIMITS, ...opts.limits };
    this.historyMax = opts.historyMax ?? MEMORY_HISTORY_MAX;
    this.maxConvs = opts.maxConvs ?? MEMORY_MAX_CONVS;
    this.maxUsers = opts.maxUsers ?? MEMORY_MAX_USERS;
  }

  /** conversations and users held (for tests of the bound) */
  get size(): { convs: number; users: number } {
    return { convs: this.convs.size, users: this.users.size };
  }

  async apply(records: readonly StoredRecord[], now: number): Promise<ApplyResult> {
    // Unsequenced records first: the only await, before anything is written.
    const seqs = await Promise.all(records.map((r) => (r.s > 0 ? r.s : this.assign(r, now))));
    const out: ApplyResult = { applied: 0, skipped: 0, evicted: 0, inboxWrites: 0, unreadChanged: [] };
    const rose: [string, string, number][] = [];
    for (const [i, rec] of records.entries()) {
      const s = seqs[i]!;
      const conv = this.convFor(rec.c, now);
      if (!insertMsg(conv, { s, t: rec.t, m: rec.s > 0 ? rec.m : withSeq(rec.m, s) })) {
        out.skipped++;
        continue;
      }
      out.applied++;
      out.inboxWrites += new Set(rec.r).size;
      this.trimConv(conv, now);
      for (const uid of rec.r) {
        const user = this.userFor(uid, now);
        user.v = Math.max(user.v + 1, now);
        user.inbox.push({ v: user.v, s, c: rec.c });
        user.contacts.set(rec.c, Math.max(user.contacts.get(rec.c) ?? 0, rec.t));
        out.evicted += this.trimUser(user, now);
        if (uid !== rec.u) rose.push([uid, rec.c, s]);
      }
      const sender = rec.u === '' ? undefined : this.userFor(rec.u, now);
      if (sender && (sender.read.get(rec.c) ?? 0) < s) sender.read.set(rec.c, s);
    }
    // a recipient who wrote in the conversation afterwards (or read ahead) has read the message
    const changed = new Set<string>();
    for (const [uid, c, s] of rose) if ((this.users.get(uid)?.read.get(c) ?? 0) < s) changed.add(uid);
    out.unreadChanged = [...changed];
    this.forget(now);
    return out;
  }

  async inbox(uid: string, q: { after: number } | { latest: true }, limit: number, now: number): Promise<InboxPage> {
    const after = 'after' in q ? q.after : 0;
    checkCursor(after, now);
    const user = this.users.get(uid);
    const cut = now - this.limits.inboxRetentionMs;
    if (!user) {
      if (after > 0 && after < cut) throw new OutOfRetentionError(`inbox of ${uid} lapsed`);
      return { items: [], cursor: after, more: false };
    }
    this.trimInboxAge(user, cut);
    if ('after' in q && after > 0 && after < user.e) throw new OutOfRetentionError(`inbox entries of ${uid} after ${after} were evicted`);
    let entries: Entry[];
    let more = false;
    if ('latest' in q) entries = user.inbox.slice(Math.max(0, user.inbox.length - limit));
    else {
      const from = upperBound(user.inbox, after, (e) => e.v);
      entries = user.inbox.slice(from, from + limit);
      more = from + limit < user.inbox.length;
    }
    const items: InboxPage['items'] = [];
    for (const e of entries) {
      const msg = this.message(e.c, e.s, now);
      if (msg) items.push({ v: e.v, m: msg.m });
    }
    return { items, cursor: entries.length > 0 ? entries[entries.length - 1]!.v : after, more };
  }

  async history(conv: string, before: number | undefined, limit: number, now: number): Promise<HistoryPage> {
    const c = this.convs.get(conv);
    if (!c) return { items: [], more: false, trimmed: false };
    this.trimConv(c, now);
    if (before !== undefined && c.trimmed > 0 && before <= c.trimmed + 1) throw new OutOfRetentionError(`history of ${conv} before ${before} is past retention`);
    const end = before === undefined ? c.items.length : lowerBound(c.items, before, (m) => m.s);
    const start = Math.max(0, end - limit);
    const items = c.items.slice(start, end).reverse().map((m) => m.m);
    const more = start > 0;
    return { items, more, trimmed: !more && c.trimmed > 0 };
  }

  async contacts(uid: string, limit: number, extra: readonly string[], now: number): Promise<{ contacts: Contact[]; total: number }> {
    const user = this.users.get(uid);
    const all: Contact[] = [];
    let total = 0;
    for (const c of this.convsOf(user, extra, now)) {
      const conv = this.convs.get(c);
      if (conv) this.trimConv(conv, now);
      const last = conv?.items[conv.items.length - 1];
      const t = user?.contacts.get(c) ?? last?.t ?? 0;
      const read = user?.read.get(c) ?? 0;
      const unread = user ? this.unread(user, c) : this.unreadAbove(c, 0);
      total += unread;
      all.push({ c, t, last: last?.m ?? null, unread, read });
    }
    all.sort((a, b) => b.t - a.t || (a.c < b.c ? -1 : 1));
    return { contacts: all.slice(0, limit), total };
  }

  async read(uid: string, conv: string, seq: number, extra: readonly string[], now: number): Promise<{ read: number; unread: number; total: number }> {
    const current = this.opts.current ? await this.opts.current(conv) : 0;
    const c = this.convs.get(conv);
    const lastSeq = Math.max(current, c?.items[c.items.length - 1]?.s ?? 0);
    const user = this.userFor(uid, now, false);
    const read = Math.max(user.read.get(conv) ?? 0, Math.min(seq, lastSeq));
    if (read > 0) user.read.set(conv, read);
    this.forget(now);
    return { read, unread: this.unread(user, conv), total: this.total(user, extra, now) };
  }

  async membership(conv: string, joined: readonly string[], left: readonly string[], now: number): Promise<void> {
    const c = this.convs.get(conv);
    const current = this.opts.current ? await this.opts.current(conv) : 0;
    const last = Math.max(current, c?.items[c.items.length - 1]?.s ?? 0);
    if (last > 0) {
      for (const uid of joined) {
        const user = this.userFor(uid, now, false);
        if (!user.read.has(conv)) user.read.set(conv, last);
      }
    }
    // A former member: out of the contacts, and read up to the last number (a message sent to
    // them just before, still in the queue, must not bring the whole history back as unread).
    for (const uid of left) {
      const user = this.users.get(uid);
      if (!user) continue;
      user.contacts.delete(conv);
      if (last > (user.read.get(conv) ?? 0)) user.read.set(conv, last);
    }
    this.forget(now);
  }

  async totals(uids: readonly string[], extra: (uid: string) => readonly string[], now: number): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const uid of uids) {
      const user = this.users.get(uid);
      const ex = extra(uid);
      out.set(uid, user ? this.total(user, ex, now) : ex.reduce((n, c) => n + this.unreadAbove(c, 0), 0));
    }
    return out;
  }

  private total(user: User, extra: readonly string[], now: number): number {
    let total = 0;
    for (const c of this.convsOf(user, extra, now)) total += this.unread(user, c);
    return total;
  }

  /** The user's retained contacts, then the extra convs not among them. */
  private convsOf(user: User | undefined, extra: readonly string[], now: number): string[] {
    const cut = now - this.limits.historyRetentionMs;
    const out: string[] = [];
    if (user) for (const [c, t] of user.contacts) if (t >= cut) out.push(c);
    for (const c of new Set(extra)) if (!user?.contacts.has(c)) out.push(c);
    return out;
  }

  private unread(user: User, conv: string): number {
    return this.unreadAbove(conv, user.read.get(conv) ?? 0);
  }

  private unreadAbove(conv: string, read: number): number {
    const c = this.convs.get(conv);
    return c ? c.items.length - upperBound(c.items, read, (m) => m.s) : 0;
  }

  private message(conv: string, s: number, now: number): Msg | undefined {
    const c = this.convs.get(conv);
    if (!c) return undefined;
    const i = lowerBound(c.items, s, (m) => m.s);
    const msg = c.items[i];
    return msg && msg.s === s && msg.t >= now - this.limits.historyRetentionMs ? msg : undefined;
  }

  private assign(rec: StoredRecord, now: number): Promise<number> {
    const known = this.ids.get(rec.id);
    if (known) return known.seq;
    const seq = this.opts.next ? this.opts.next(rec.c) : Promise.resolve(this.nextLocal(rec.c));
    this.ids.set(rec.id, { seq, at: now });
    // a failed assignment must not stick: the replay asks again
    seq.catch(() => this.ids.delete(rec.id));
    return seq;
  }

  private nextLocal(conv: string): number {
    const c = this.convs.get(conv);
    const n = Math.max(this.seqs.get(conv) ?? 0, c?.items[c.items.length - 1]?.s ?? 0, c?.trimmed ?? 0) + 1;
    this.seqs.delete(conv);
    this.seqs.set(conv, n);
    if (this.seqs.size > this.maxConvs) this.seqs.delete(this.seqs.keys().next().value!);
    return n;
  }

  private convFor(id: string, now: number): Conv {
    let c = this.convs.get(id);
    if (c) this.convs.delete(id); // re-inserted: the most recently written last
    else c = { items: [], trimmed: 0, writtenAt: now };
    c.writtenAt = now;
    this.convs.set(id, c);
    return c;
  }

  private userFor(uid: string, now: number, written = true): User {
    let u = this.users.get(uid);
    if (u && !written) return u;
    if (u) this.users.delete(uid);
    else u = { inbox: [], v: 0, e: 0, contacts: new Map(), read: new Map(), writtenAt: now };
    u.writtenAt = now;
    this.users.set(uid, u);
    return u;
  }

  /** Trims messages past retention (oldest seq first) and over the cap; raises `trimmed`. */
  private trimConv(c: Conv, now: number): void {
    const cut = now - this.limits.historyRetentionMs;
    let n = Math.max(0, c.items.length - this.historyMax);
    while (n < c.items.length && c.items[n]!.t < cut) n++;
    if (n === 0) return;
    c.trimmed = Math.max(c.trimmed, c.items[n - 1]!.s);
    c.items.splice(0, n);
  }

  /** Inbox age and count trims, and the contacts cap; returns the entries evicted. */
  private trimUser(u: User, now: number): number {
    let evicted = this.trimInboxAge(u, now - this.limits.inboxRetentionMs);
    const over = u.inbox.length - this.limits.inboxMax;
    if (over > 0) {
      u.e = Math.max(u.e, u.inbox[over - 1]!.v);
      u.inbox.splice(0, over);
      evicted += over;
    }
    if (u.contacts.size > this.limits.contactsMax) {
      const byTime = [...u.contacts].sort((a, b) => a[1] - b[1]);
      for (const [c] of byTime.slice(0, u.contacts.size - this.limits.contactsMax)) {
        u.contacts.delete(c);
        u.read.delete(c);
      }
    }
    return evicted;
  }

  private trimInboxAge(u: User, cut: number): number {
    let n = 0;
    while (n < u.inbox.length && u.inbox[n]!.v < cut) n++;
    if (n === 0) return 0;
    u.e = Math.max(u.e, u.inbox[n - 1]!.v);
    u.inbox.splice(0, n);
    return n;
  }

  /** Forgets what is idle past retention or over the caps, least recently written first. */
  private forget(now: number): void {
    const idle = now - this.limits.historyRetentionMs;
    for (const [id, c] of this.convs) {
      if (this.convs.size <= this.maxConvs && c.writtenAt >= idle) break;
      this.convs.delete(id);
    }
    for (const [uid, u] of this.users) {
      if (this.users.size <= this.maxUsers && u.writtenAt >= idle) break;
      this.users.delete(uid);
    }
    for (const [id, a] of this.ids) {
      if (a.at >= now - ASSIGNED_ID_TTL_MS) break;
      this.ids.delete(id);
    }
  }
}

/** Inserts in seq order (usually at the end); false when the seq is there already. */
function insertMsg(c: Conv, msg: Msg): boolean {
  const i = lowerBound(c.items, msg.s, (m) => m.s);
  if (c.items[i]?.s === msg.s || msg.s <= c.trimmed) return false;
  c.items.splice(i, 0, msg);
  return true;
}

/** The first index whose key is >= x (the list sorted by key). */
function lowerBound<T>(list: readonly T[], x: number, key: (v: T) => number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (key(list[mid]!) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first index whose key is > x. */
function upperBound<T>(list: readonly T[], x: number, key: (v: T) => number): number {
  return lowerBound(list, x + 1, key);
}
