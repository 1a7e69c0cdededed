// Client side of the chat storage (docs/protocol.md, "Offline inbox and history") for the e2e
// tests: a connection that records every frame from the first byte on (so that the INBOX push
// right after WELCOME is never missed), request/reply by rid, the INBOX `d` decoded (gzip, then
// MessagePack), SYNC paged until `more` is false, HISTORY paged backwards, bounded polling, and
// the admin API of a standalone server or of a cluster behind one interface.

import { gunzipSync } from 'node:zlib';
import WebSocket from 'ws';
import { RequestFailed, type ServerFrame } from '../../src/client/client.js';
import { decode, encodeFrame } from '../../src/protocol/codec.js';
import { Op } from '../../src/protocol/ops.js';
import { ADMIN_SECRET, startCluster, type Cluster } from './cluster.js';
import { sleep, startServer, type RunningServer } from './server.js';

export { RequestFailed, type ServerFrame };

/** A MESSAGE body as stored and synced: `{g?|to?, s, u, n, t, x, id}`. */
export interface ChatMessage {
  readonly g?: string;
  readonly to?: string;
  readonly s: number;
  readonly u: string;
  readonly n: string;
  readonly t: number;
  readonly x: string;
  readonly id: string;
}

/** Anything that sends a request and resolves with its reply (rejects with RequestFailed on ERROR): ChatConn, DanmakuClient. */
export interface Requester {
  request(op: number, body: unknown): Promise<ServerFrame>;
}

const REQUEST_TIMEOUT_MS = 10_000;

/**
 * A WebSocket to a gateway that keeps every server frame it receives, in order, from the
 * upgrade on: DanmakuClient.connect resolves on WELCOME, by which time an INBOX push in the
 * same TCP read would already have been emitted to nobody.
 */
export class ChatConn implements Requester {
  readonly frames: ServerFrame[] = [];
  closed: { code: number; reason: string } | null = null;
  private nextRid = 1;
  private readonly pending = new Map<number, { resolve: (f: ServerFrame) => void; reject: (e: Error) => void }>();
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer) => {
      const v = decode(data) as [number, number, Record<string, unknown> | null];
      const frame: ServerFrame = { op: v[0], rid: v[1], body: v[2] ?? {} };
      this.frames.push(frame);
      const p = frame.rid === 0 ? undefined : this.pending.get(frame.rid);
      if (p) {
        this.pending.delete(frame.rid);
        if (frame.op === Op.Error) p.reject(new RequestFailed(frame));
        else p.resolve(frame);
      }
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const p of this.pending.values()) p.reject(new Error(`connection closed (${code})`));
      this.pending.clear();
      this.wake();
    });
    ws.on('error', () => undefined); // 'close' follows
  }

  /** Opens `url` with `token` (none: a guest) and `since` (as given: a test may pass garbage); resolves on WELCOME. */
  static open(url: string, token?: string, since?: string | number): Promise<ChatConn> {
    const u = new URL(url);
    if (token) u.searchParams.set('token', token);
    if (since !== undefined) u.searchParams.set('since', String(since));
    const conn = new ChatConn(new WebSocket(u));
    return conn.frame((f) => f.op === Op.Welcome, 10_000).then(
      () => conn,
      (err: unknown) => {
        conn.close();
        throw err;
      },
    );
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The first frame (from index `from` on) that `match` accepts, waiting up to `timeoutMs` for it. */
  async frame(match: (f: ServerFrame) => boolean, timeoutMs = REQUEST_TIMEOUT_MS, from = 0): Promise<ServerFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.frames.slice(from).find(match);
      if (hit) return hit;
      if (this.closed) throw new Error(`connection closed (${this.closed.code}) before the frame arrived`);
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for a frame`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  /** The pushes (rid 0) of one op received so far. */
  pushes(op: number): Record<string, unknown>[] {
    return this.frames.filter((f) => f.rid === 0 && f.op === op).map((f) => f.body);
  }

  /** Sends one raw frame (any bytes), for bad-input tests. */
  sendRaw(bytes: Uint8Array): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(bytes);
  }

  /** Sends a request and resolves with its reply; RequestFailed on ERROR; rejects after `timeoutMs` of silence. */
  request(op: number, body: unknown, timeoutMs = REQUEST_TIMEOUT_MS): Promise<ServerFrame> {
    const rid = this.nextRid++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(rid);
        reject(new Error(`no reply to op ${op} (rid ${rid}) within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = <T>(f: (v: T) => void) => (v: T) => {
        clearTimeout(timer);
        f(v);
      };
      this.pending.set(rid, { resolve: done(resolve), reject: done(reject) });
      if (this.ws.readyState !== WebSocket.OPEN) return this.pending.get(rid)!.reject(new Error('connection not open'));
      this.ws.send(encodeFrame(op, rid, body));
    });
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
  }
}

/** The ERROR body a request got, or null when it got a reply (other failures are thrown). */
export async function errorOf(p: Promise<unknown>): Promise<Record<string, unknown> | null> {
  try {
    await p;
    return null;
  } catch (err) {
    if (err instanceof RequestFailed) return err.frame.body;
    throw err;
  }
}

/** An INBOX body (reply to SYNC, or the push): `d` gunzipped and MessagePack-decoded, checked against `n`. */
export function decodeInbox(body: Record<string, unknown>): ChatMessage[] {
  if (body.z !== 'gzip') throw new Error(`INBOX z is ${String(body.z)}, not gzip`);
  if (!(body.d instanceof Uint8Array)) throw new Error('INBOX d is not bin');
  const messages = decode(gunzipSync(body.d)) as ChatMessage[];
  if (!Array.isArray(messages)) throw new Error('INBOX d is not an array');
  if (messages.length !== body.n) throw new Error(`INBOX n ${String(body.n)} but d holds ${messages.length}`);
  return messages;
}

export interface InboxPage {
  readonly messages: ChatMessage[];
  readonly n: number;
  readonly cursor: number;
  readonly more: boolean;
}

export function inboxPage(body: Record<string, unknown>): InboxPage {
  return { messages: decodeInbox(body), n: body.n as number, cursor: body.cursor as number, more: body.more as boolean };
}

export interface SyncResult {
  readonly messages: ChatMessage[];
  /** the last page's cursor: where the next sync starts */
  readonly cursor: number;
  /** sizes of the pages, in order */
  readonly pages: number[];
  /** each page's cursor, in order */
  readonly cursors: number[];
}

/** SYNC from `cursor` (undefined: the most recent entries), page after page, until `more` is false. */
export async function syncAll(conn: Requester, cursor: number | undefined, limit?: number, maxPages = 1000): Promise<SyncResult> {
  const messages: ChatMessage[] = [];
  const pages: number[] = [];
  const cursors: number[] = [];
  for (let i = 0; i < maxPages; i++) {
    const body: Record<string, number> = {};
    if (cursor !== undefined) body.cursor = cursor;
    if (limit !== undefined) body.limit = limit;
    const reply = await conn.request(Op.Sync, body);
    if (reply.op !== Op.Inbox) throw new Error(`SYNC answered op ${reply.op}`);
    const page = inboxPage(reply.body);
    messages.push(...page.messages);
    pages.push(page.n);
    if (cursor !== undefined && page.cursor < cursor) throw new Error(`SYNC cursor went back: ${page.cursor} < ${cursor}`);
    cursor = page.cursor;
    cursors.push(cursor);
    if (!page.more) return { messages, cursor, pages, cursors };
  }
  throw new Error(`SYNC still had more after ${maxPages} pages`);
}

/** A conversation as the client names it: a group or the other user. */
export type ConvRef = { g: string } | { to: string };

export interface HistoryResult {
  /** newest first, as the pages came */
  readonly messages: ChatMessage[];
  readonly pages: number[];
  /** the last page's trimmed flag */
  readonly trimmed: boolean;
}

/** HISTORY of one conversation from the newest message back to the oldest, `limit` per page. */
export async function historyAll(conn: Requester, conv: ConvRef, limit?: number, maxPages = 1000): Promise<HistoryResult> {
  const messages: ChatMessage[] = [];
  const pages: number[] = [];
  let before: number | undefined;
  for (let i = 0; i < maxPages; i++) {
    const body: Record<string, unknown> = { ...conv };
    if (before !== undefined) body.before = before;
    if (limit !== undefined) body.limit = limit;
    const reply = await conn.request(Op.History, body);
    if (reply.op !== Op.Messages) throw new Error(`HISTORY answered op ${reply.op}`);
    const d = reply.body.d as ChatMessage[];
    messages.push(...d);
    pages.push(d.length);
    if (!reply.body.more) return { messages, pages, trimmed: reply.body.trimmed === true };
    if (d.length === 0) throw new Error('HISTORY said more with an empty page');
    before = Math.min(...d.map((m) => m.s));
  }
  throw new Error(`HISTORY still had more after ${maxPages} pages`);
}

export interface LoginResult {
  readonly conn: ChatConn;
  /** the INBOX push that followed WELCOME */
  readonly push: InboxPage;
  /** the push's messages, then every SYNC page's until `more` was false */
  readonly messages: ChatMessage[];
  readonly cursor: number;
  /** sizes of the SYNC pages after the push */
  readonly pages: number[];
  /** the push's cursor, then each SYNC page's */
  readonly cursors: number[];
}

/** The INBOX push (rid 0) right after WELCOME, or its ERROR (rid 0) thrown as RequestFailed. */
export async function inboxPush(conn: ChatConn, timeoutMs = REQUEST_TIMEOUT_MS): Promise<InboxPage> {
  const f = await conn.frame((x) => x.rid === 0 && (x.op === Op.Inbox || x.op === Op.Error), timeoutMs);
  if (f.op === Op.Error) throw new RequestFailed(f);
  return inboxPage(f.body);
}

/** Connects with `&since=<since>`, takes the INBOX push, then SYNCs on from its cursor while `more`. */
export async function login(url: string, token: string, since: number | undefined, limit?: number): Promise<LoginResult> {
  const conn = await ChatConn.open(url, token, since);
  try {
    const push = await inboxPush(conn);
    if (!push.more) return { conn, push, messages: push.messages, cursor: push.cursor, pages: [], cursors: [push.cursor] };
    const rest = await syncAll(conn, push.cursor, limit);
    return { conn, push, messages: [...push.messages, ...rest.messages], cursor: rest.cursor, pages: rest.pages, cursors: [push.cursor, ...rest.cursors] };
  } catch (err) {
    conn.close();
    throw err;
  }
}

/** The key of a message's conversation from `me`'s side: `g:<group>` or `to:<other uid>`. */
export function convKey(m: ChatMessage, me: string): string {
  if (m.g !== undefined) return `g:${m.g}`;
  return `to:${m.u === me ? m.to! : m.u}`;
}

/** Messages grouped by conversation (from `me`'s side), each in arrival order. */
export function byConversation(messages: readonly ChatMessage[], me: string): Map<string, ChatMessage[]> {
  const out = new Map<string, ChatMessage[]>();
  for (const m of messages) {
    const k = convKey(m, me);
    const list = out.get(k) ?? [];
    list.push(m);
    out.set(k, list);
  }
  return out;
}

/** Values that occur more than once. */
export function duplicates<T>(values: readonly T[]): T[] {
  const seen = new Set<T>();
  const twice = new Set<T>();
  for (const v of values) (seen.has(v) ? twice : seen).add(v);
  return [...twice];
}

/**
 * Polls `probe` every `everyMs` until `done` accepts its value; rejects after `timeoutMs` with
 * the last value seen (storage is asynchronous: wait for it, never sleep a fixed time). A probe
 * that throws counts as not done yet (a process may be restarting).
 */
export async function pollUntil<T>(probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number, what: string, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (done(v)) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${describe(last)}`);
    await sleep(everyMs);
  }
}

function describe(v: unknown): string {
  if (v instanceof Error) return v.message;
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 300 ? `${s.slice(0, 300)}...` : s;
}

/** The admin API (docs/cluster.md, "Admin API"): of a standalone server, or a cluster's first live logic process. */
export type AdminCall = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: Record<string, unknown> }>;

/** An admin API client on a metrics port (a standalone server's or a logic process's). */
export function adminAt(port: () => number, secret: string): AdminCall {
  return async (method, path, body) => {
    const res = await fetch(`http://127.0.0.1:${port()}${path}`, {
      method,
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
}

/** Every inbox entry of `uid` after `cursor`, through the admin API (pages of 200). */
export async function adminInbox(api: AdminCall, uid: string, cursor = 0, maxPages = 1000): Promise<{ messages: ChatMessage[]; cursor: number }> {
  const messages: ChatMessage[] = [];
  for (let i = 0; i < maxPages; i++) {
    const r = await api('GET', `/api/users/${encodeURIComponent(uid)}/inbox?cursor=${cursor}&limit=200`);
    if (r.status !== 200) throw new Error(`inbox of ${uid}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    const entries = r.body.entries as { v: number; message: ChatMessage }[];
    messages.push(...entries.map((e) => e.message));
    cursor = r.body.cursor as number;
    if (!r.body.more) return { messages, cursor };
  }
  throw new Error(`inbox of ${uid} still had more after ${maxPages} pages`);
}

/** A conversation's whole history through the admin API (`path`: /api/groups/<g>/history or /api/users/<a>/direct/<b>/history), newest first. */
export async function adminHistory(api: AdminCall, path: string, maxPages = 1000): Promise<ChatMessage[]> {
  const messages: ChatMessage[] = [];
  let before: number | null = null;
  for (let i = 0; i < maxPages; i++) {
    const r = await api('GET', `${path}?limit=100${before === null ? '' : `&before=${before}`}`);
    if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    messages.push(...(r.body.messages as ChatMessage[]));
    before = r.body.next as number | null;
    if (!r.body.more || before === null) return messages;
  }
  throw new Error(`${path} still had more after ${maxPages} pages`);
}

/** A standalone server or a cluster, seen the same way by a test: gateways to connect to, and the admin API. */
export interface ChatDeployment {
  readonly mode: 'standalone' | 'cluster';
  /** [gateway 0, gateway 1]: the same server twice in standalone mode */
  readonly gateways: RunningServer[];
  readonly api: AdminCall;
  /** the cluster, in cluster mode */
  readonly cluster: Cluster | null;
  stop(): Promise<void>;
}

/** Starts a standalone server, or a cluster of 2 gateways and 2 logic processes, with `env`. */
export async function startChat(mode: 'standalone' | 'cluster', env: Record<string, string>): Promise<ChatDeployment> {
  if (mode === 'standalone') {
    const srv = await startServer({ ADMIN_SECRET, ...env });
    return { mode, gateways: [srv, srv], api: adminAt(() => srv.adminPort, ADMIN_SECRET), cluster: null, stop: async () => void (await srv.stop()) };
  }
  const c = await startCluster({ gateways: 2, logics: 2, env });
  return { mode, gateways: c.gateways, api: c.api, cluster: c, stop: () => c.stop() };
}
