// A client that keeps the client side of the delivery contract (docs/protocol.md; issue 11,
// "Client side of the contract"), for the fault tests. It outlives its connections: after a
// drop it reconnects with backoff and jitter (after a GOAWAY: its reconnectMs), to the next
// gateway it knows; it resumes its room
// with max(highest seq shown, last JOINED.seq) and the room's epoch (JOIN `since` + `epoch`),
// and takes a JOINED with rid 0 (the room's numbering restarted) as a new epoch; it
// de-duplicates room items by seq within an epoch and MESSAGE frames by id; it acknowledges
// pushes with RECEIVED (batched); it syncs its inbox from its cursor on every (re)connect and
// whenever an UNREAD push arrives; and it retries every SEND and MSG with the same client id
// until one is acknowledged (an ACK with `dup: true` counts). Everything it shows is recorded
// with how it came (live, replay, sync), so that a test can count what was lost or shown twice.

import WebSocket from 'ws';
import { RequestFailed, type ServerFrame } from '../../src/client/client.js';
import { decode, encodeFrame } from '../../src/protocol/codec.js';
import { Errors, shouldReconnect } from '../../src/protocol/errors.js';
import { Op } from '../../src/protocol/ops.js';
import { inboxPage, type ChatMessage } from './chat.js';

/** Ids in one RECEIVED frame, at most. */
const RECEIVED_MAX_IDS = 100;

/** ERROR codes after which the same request is sent again (with the same client id). */
const RETRY_CODES = new Set<number>([Errors.RateLimited, Errors.Flood, Errors.Unavailable, Errors.Internal, Errors.Overloaded].map((e) => e.code));
const ERR_NOT_IN_ROOM = Errors.NotInRoom.code;
const ERR_SUPERSEDED = Errors.Superseded.code;
const ERR_OUT_OF_RETENTION = Errors.OutOfRetention.code;

export interface ReliableOptions {
  /** shown in errors and reports */
  readonly name: string;
  /** ws:// URLs of the gateways; each (re)connect goes to the next one in turn */
  readonly gateways: readonly string[];
  /** index into `gateways` of the first connect */
  readonly first?: number;
  /** a token: a signed-in user (SEND, MSG, inbox); none: a guest that watches */
  readonly token?: string;
  /** send RECEIVED for MESSAGE ids (default true) */
  readonly autoAck?: boolean;
  /** how long ids are collected before one RECEIVED carries them (default 200 ms: RECEIVED takes a token of the frame budget) */
  readonly ackDelayMs?: number;
  /** SYNC whenever an UNREAD push arrives (default true): a cheap superset of "a total it cannot account for" */
  readonly syncOnUnread?: boolean;
  /** a request without a reply after this long is sent again (default 10 s) */
  readonly requestTimeoutMs?: number;
  /** reconnect backoff: the first pause and the cap (default 100 ms, 2 s), each with full jitter above half */
  readonly backoffMs?: readonly [number, number];
  /**
   * The contract (docs/protocol.md, "Resuming a room"): after a resume answered with epoch ''
   * (the gateway could not read the room's window), JOIN the room again every this many ms with
   * the `since` of that resume, until a JOINED carries an epoch. Default 1000; 0 turns it off
   * (a test shows what such a client loses).
   */
  readonly resumeAgainMs?: number;
}

/** A room item as the client shows it. */
export interface ShownItem {
  readonly room: string;
  /** the room's epoch when it was shown ('' before the server said one) */
  readonly epoch: string;
  readonly s: number;
  readonly k: number;
  readonly u: string;
  readonly t: number;
  readonly x?: string;
  readonly g?: string;
  readonly a?: number;
  /** local receive time (ms) */
  readonly at: number;
  readonly via: 'batch' | 'replay';
}

export interface ShownMessage {
  readonly m: ChatMessage;
  readonly at: number;
  readonly via: 'live' | 'sync';
}

export interface JoinRecord {
  readonly at: number;
  readonly url: string;
  readonly room: string;
  /** the `since` sent (undefined: a plain join) */
  readonly since?: number;
  readonly recovered?: boolean;
  readonly kept?: boolean;
  readonly epoch?: string;
  /** the room's epoch differed from the one the client held */
  readonly epochChanged: boolean;
  /** a JOINED with rid 0: the room's numbering restarted while the client was in it */
  readonly unsolicited: boolean;
  readonly replay: number;
  /** replayed items the client did not hold yet */
  readonly fresh: number;
}

export interface DropRecord {
  readonly at: number;
  readonly url: string;
  readonly code: number;
  /** the reconnectMs of a GOAWAY received on that connection before its close; null: none */
  readonly goAway: number | null;
}

export interface Acked {
  readonly s: number;
  readonly t: number;
  readonly id: string;
  readonly dup: boolean;
  /** requests sent for it (1: acknowledged at the first try) */
  readonly attempts: number;
  /** from the first try to the ACK */
  readonly ms: number;
  /** ERROR codes received on the way (and -1 per connection lost or timeout) */
  readonly errors: readonly number[];
  /** the message of the last ERROR received on the way */
  readonly lastError?: string;
}

export class ClientClosed extends Error {
  override name = 'ClientClosed';
}

class LinkClosed extends Error {
  override name = 'LinkClosed';
}

class RequestTimeout extends Error {
  override name = 'RequestTimeout';
}

/** One WebSocket: request/reply by rid, every frame handed to the client as it arrives. */
class Link {
  readonly ws: WebSocket;
  private nextRid = 1;
  private readonly pending = new Map<number, { resolve: (f: ServerFrame) => void; reject: (e: Error) => void; timer: NodeJS.Timeout; onReply?: (f: ServerFrame) => void }>();

  constructor(
    /** the gateway's address (without the token) */
    readonly gateway: string,
    url: URL,
    onFrame: (link: Link, f: ServerFrame) => void,
    onClose: (link: Link, code: number) => void,
  ) {
    this.ws = new WebSocket(url);
    this.ws.binaryType = 'nodebuffer';
    this.ws.on('message', (data: Buffer) => {
      const v = decode(data) as [number, number, Record<string, unknown> | null];
      const frame: ServerFrame = { op: v[0], rid: v[1], body: v[2] ?? {} };
      const p = frame.rid === 0 ? undefined : this.pending.get(frame.rid);
      if (p) {
        this.pending.delete(frame.rid);
        clearTimeout(p.timer);
        if (frame.op === Op.Error) p.reject(new RequestFailed(frame));
        else {
          p.onReply?.(frame);
          p.resolve(frame);
        }
      }
      onFrame(this, frame);
    });
    this.ws.on('close', (code) => {
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new LinkClosed(`connection closed (${code})`));
      }
      this.pending.clear();
      onClose(this, code);
    });
    this.ws.on('error', () => undefined); // 'close' follows, with 1006
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /**
   * Sends a request; resolves with its reply. `onReply` sees a successful reply at once, before
   * any later frame: `ws` can emit several messages in one turn, and the BATCH right behind a
   * JOINED must find the client joined (a promise's continuation would come after it).
   */
  request(op: number, body: unknown, timeoutMs: number, onReply?: (f: ServerFrame) => void): Promise<ServerFrame> {
    const rid = this.nextRid++;
    return new Promise((resolve, reject) => {
      if (!this.open) return reject(new LinkClosed('connection not open'));
      const timer = setTimeout(() => {
        this.pending.delete(rid);
        reject(new RequestTimeout(`no reply to op ${op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(rid, { resolve, reject, timer, onReply });
      this.ws.send(encodeFrame(op, rid, body));
    });
  }

  /** A frame whose rid does not matter (RECEIVED, PING): rid 0. */
  post(op: number, body: unknown): void {
    if (this.open) this.ws.send(encodeFrame(op, 0, body));
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
  }

  /** Drops the TCP connection without a close handshake. */
  terminate(): void {
    this.ws.terminate();
  }
}

interface RoomState {
  epoch: string | null;
  /** max(highest seq shown, last JOINED.seq) in this epoch: the `since` of the next resume */
  lastSeq: number;
  seen: Set<number>;
  /** resumeAgainMs: the `since` of a resume the server could not answer (epoch ''), until one is answered */
  holeSince: number | null;
}

interface Outgoing {
  readonly op: number;
  readonly body: Record<string, unknown>;
  readonly id: string;
  readonly firstAt: number;
  readonly resolve: (a: Acked) => void;
  readonly reject: (e: Error) => void;
  attempts: number;
  inFlight: boolean;
  retryAt: number;
  readonly errors: number[];
  lastError?: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class ReliableClient {
  readonly name: string;
  /** every room item shown, in the order shown */
  readonly shown: ShownItem[] = [];
  /** every chat message or notice shown, by message id */
  readonly messages = new Map<string, ShownMessage>();
  readonly joins: JoinRecord[] = [];
  readonly drops: DropRecord[] = [];
  /** copies not shown: room items by seq, MESSAGE frames (live resends, SYNC overlaps) by id */
  readonly suppressed = { items: 0, messages: 0 };
  /** ordinary danmaku shed by the display cap (BATCH `s`) */
  shed = 0;
  /** ERROR frames that answered no request of ours, and errors of frames without a reply */
  readonly strayErrors: Record<string, unknown>[] = [];
  /** the inbox cursor: the highest version read */
  cursor = 0;
  /** SYNC runs that failed (retried on the next connect) */
  syncFailures = 0;
  /** the server refused to reconnect us (a 45xx close code) */
  fatal: number | null = null;

  private readonly opts: Required<Omit<ReliableOptions, 'token' | 'first'>> & { token?: string };
  private link: Link | null = null;
  private urlIndex: number;
  private welcomed = false;
  private closing = false;
  private reconnectAttempts = 0;
  /** GOAWAY's reconnectMs on the current connection (null: none came) */
  private goAwayMs: number | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private roomId: string | null = null;
  private joined: string | null = null;
  private joining = false;
  private readonly rooms = new Map<string, RoomState>();
  private readonly outgoing = new Set<Outgoing>();
  private pumpTimer: NodeJS.Timeout | null = null;
  private nextId = 1;
  private readonly toAck = new Set<string>();
  private ackScheduled = false;
  private syncing: Promise<void> | null = null;
  private syncAgain = false;

  constructor(opts: ReliableOptions) {
    this.name = opts.name;
    this.opts = { autoAck: true, ackDelayMs: 200, syncOnUnread: true, requestTimeoutMs: 10_000, backoffMs: [100, 2000], resumeAgainMs: 1000, ...opts };
    this.urlIndex = (opts.first ?? 0) % opts.gateways.length;
    this.connect();
  }

  /** Whether it has a token: it keeps an inbox and may SEND and MSG. */
  get signedIn(): boolean {
    return this.opts.token !== undefined;
  }

  /** The gateway it is connected to (or connecting to). */
  get url(): string | null {
    return this.link?.gateway ?? null;
  }

  /** Its room (the last join()), joined or not. */
  get room(): string | null {
    return this.roomId;
  }

  /** In its room now (JOINED received on the current connection). */
  get inRoom(): boolean {
    return this.roomId !== null && this.joined === this.roomId;
  }

  /** The room's epoch and last seq as the client holds them. */
  roomState(room: string): { epoch: string | null; lastSeq: number } {
    const st = this.rooms.get(room);
    return { epoch: st?.epoch ?? null, lastSeq: st?.lastSeq ?? 0 };
  }

  /** Resolves once connected (WELCOME) and, if it has a room, joined; rejects after `timeoutMs`. */
  async ready(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(this.welcomed && (this.roomId === null || this.inRoom))) {
      if (this.closing) throw new ClientClosed(`${this.name} closed`);
      if (this.fatal !== null) throw new Error(`${this.name}: the server closed it with ${this.fatal}: no reconnect`);
      if (Date.now() > deadline) throw new Error(`${this.name}: not ready within ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  /** Makes `room` its room: joined now if connected, and after every reconnect, with `since` once it holds the room's epoch. */
  join(room: string): void {
    this.roomId = room;
    this.joined = null;
    if (this.welcomed) void this.sendJoin();
  }

  /** SEND into its room; resolves with the ACK, retrying with the same `id` until one comes. */
  send(body: Record<string, unknown>): Promise<Acked> {
    return this.enqueue(Op.Send, body);
  }

  /** MSG to a group (`{g, x}`) or a user (`{to, x}`); resolves with the ACK, retrying with the same `id`. */
  message(body: Record<string, unknown>): Promise<Acked> {
    return this.enqueue(Op.Msg, body);
  }

  /** Stops reading its socket (a slow consumer: the server's outbound buffer for it fills). */
  stall(): void {
    this.link?.ws.pause();
  }

  /** Reads on. */
  unstall(): void {
    this.link?.ws.resume();
  }

  /** Loses its connection (no close handshake, as when the network drops): it reconnects like after any drop. */
  drop(): void {
    this.link?.terminate();
  }

  /** Syncs the inbox from its cursor until `more` is false, retrying failures until `timeoutMs`. */
  async syncNow(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.ready(Math.max(1, deadline - Date.now()));
        await this.sync();
        return;
      } catch (err) {
        if (Date.now() > deadline || err instanceof ClientClosed) throw err;
        await sleep(200);
      }
    }
  }

  /** Closes for good: no reconnect; unacknowledged sends are rejected. */
  close(): void {
    this.closing = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    for (const o of this.outgoing) o.reject(new ClientClosed(`${this.name} closed before ${o.id} was acknowledged`));
    this.outgoing.clear();
    this.link?.close();
  }


  // --- connection ---

  private connect(): void {
    const gateway = this.opts.gateways[this.urlIndex]!;
    const url = new URL(gateway);
    if (this.opts.token) {
      url.searchParams.set('token', this.opts.token);
      url.searchParams.set('since', String(this.cursor)); // the INBOX push: the first page after the cursor
    }
    this.welcomed = false;
    this.joined = null;
    this.link = new Link(gateway, url, (link, f) => this.onFrame(link, f), (link, code) => this.onClose(link, code));
    const link = this.link;
    // A gateway that accepts the TCP connection but never says WELCOME (hung): try another.
    setTimeout(() => {
      if (this.link === link && !this.welcomed) link.terminate();
    }, this.opts.requestTimeoutMs).unref();
  }

  private onClose(link: Link, code: number): void {
    if (link !== this.link) return;
    this.drops.push({ at: Date.now(), url: link.gateway, code, goAway: this.goAwayMs });
    const goAway = this.goAwayMs;
    this.goAwayMs = null;
    this.welcomed = false;
    this.joined = null;
    this.joining = false;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    for (const o of this.outgoing) o.inFlight = false; // their requests failed with LinkClosed
    if (this.closing) return;
    if (!shouldReconnect(code)) {
      this.fatal = code;
      return;
    }
    // Next gateway, after the GOAWAY's delay (a drain moves us: at most 30 s), else exponential
    // backoff with jitter (half fixed, half random).
    this.urlIndex = (this.urlIndex + 1) % this.opts.gateways.length;
    const [min, max] = this.opts.backoffMs;
    const cap = Math.min(max, min * 2 ** this.reconnectAttempts++);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.closing) this.connect();
    }, goAway !== null ? Math.min(goAway, 30_000) : cap / 2 + Math.random() * (cap / 2));
  }

  private onFrame(link: Link, f: ServerFrame): void {
    if (link !== this.link) return;
    if (f.op === Op.Welcome) return this.onWelcome(link, f.body);
    if (f.rid !== 0) return; // replies go to their requests
    switch (f.op) {
      case Op.GoAway:
        this.goAwayMs = Math.max(0, Number(f.body.reconnectMs) || 0);
        return;
      case Op.Batch:
        return this.onBatch(f.body);
      case Op.Joined:
        // Unsolicited: the room's numbering restarted while we are in it.
        if (this.joined !== null && f.body.room === this.joined) this.onJoined(link, this.joined, undefined, f.body, true);
        return;
      case Op.Message:
        return this.onMessage(link, f.body);
      case Op.Inbox:
        return this.onInboxPage(f.body);
      case Op.Unread:
        if (this.opts.syncOnUnread) this.syncSoon();
        return;
      case Op.Error:
        return this.onPushError(f.body);
      default:
        return; // ONLINE and others: nothing to keep
    }
  }

  private onWelcome(link: Link, body: Record<string, unknown>): void {
    this.welcomed = true;
    this.reconnectAttempts = 0;
    const every = Number(body.heartbeat) || 30_000;
    this.heartbeat = setInterval(() => link.post(Op.Ping, null), every);
    this.heartbeat.unref();
    if (this.roomId !== null) void this.sendJoin();
    this.pump();
  }

  /** An ERROR with rid 0: the INBOX push failed (SYNC instead), or an error of a frame without a reply (RECEIVED). */
  private onPushError(body: Record<string, unknown>): void {
    if (body.code === ERR_OUT_OF_RETENTION) this.cursor = 0; // not expected in the tests: recorded below
    this.strayErrors.push(body);
    if (this.signedIn) this.syncSoon();
  }

  // --- rooms ---

  private state(room: string): RoomState {
    let st = this.rooms.get(room);
    if (!st) this.rooms.set(room, (st = { epoch: null, lastSeq: 0, seen: new Set(), holeSince: null }));
    return st;
  }

  /** JOINs its room on the current connection, again after an ERROR or a timeout, until JOINED. */
  private async sendJoin(): Promise<void> {
    const link = this.link;
    const room = this.roomId;
    if (!link || room === null || this.joining) return;
    this.joining = true;
    try {
      while (link === this.link && room === this.roomId && this.joined !== room) {
        const st = this.state(room);
        // `since` needs the room's epoch: until the server has told one, a plain join.
        const body: Record<string, unknown> = { room };
        if (st.epoch !== null) Object.assign(body, { since: st.holeSince ?? st.lastSeq, epoch: st.epoch });
        try {
          await link.request(Op.Join, body, this.opts.requestTimeoutMs, (reply) => {
            if (link === this.link && room === this.roomId) this.onJoined(link, room, body.since as number | undefined, reply.body);
          });
          return;
        } catch (err) {
          if (err instanceof LinkClosed) return; // the next connection joins
          if (err instanceof RequestFailed) {
            if (err.frame.body.code === ERR_SUPERSEDED) return; // a later JOIN is the one answered
            this.strayErrors.push(err.frame.body);
          }
          await sleep(200 + Math.random() * 300); // ERROR 30 (no subscription yet), a timeout: join again
        }
      }
    } finally {
      if (link === this.link) {
        this.joining = false;
        if (room !== this.roomId && this.roomId !== null) void this.sendJoin(); // join() to another room meanwhile
      }
    }
  }

  private onJoined(link: Link, room: string, since: number | undefined, body: Record<string, unknown>, unsolicited = false): void {
    const st = this.state(room);
    // An empty epoch means the gateway could not read the room's window: nothing is known
    // about the numbering, so the client keeps what it holds (and resumes with it next time:
    // an epoch '' would be refused).
    const epoch = typeof body.epoch === 'string' && body.epoch !== '' ? body.epoch : null;
    const epochChanged = epoch !== null && st.epoch !== null && epoch !== st.epoch;
    // Items of the new numbering that came just before an unsolicited JOINED come again in its
    // replay: the same item has the same s, t and sender.
    const recent = unsolicited ? new Set(this.shown.slice(-500).map((it) => `${it.s}|${it.t}|${it.u}`)) : new Set<string>();
    if (epochChanged) {
      // A new numbering (the room's store lost its window): the seqs held say nothing about it.
      st.seen = new Set();
      st.lastSeq = 0;
    }
    if (epoch !== null) st.epoch = epoch;
    const replay = Array.isArray(body.replay) ? (body.replay as Record<string, unknown>[]) : [];
    let fresh = 0;
    for (const it of replay) {
      if (recent.has(`${it.s}|${it.t}|${it.u}`)) {
        st.seen.add(it.s as number);
        this.suppressed.items++;
      } else if (this.take(room, it, 'replay')) fresh++;
    }
    // JOINED.seq says how far the room is complete for us (a quiet room's items may all have
    // left the window): resume from it if it is ahead of what was shown.
    if (epoch !== null && typeof body.seq === 'number' && body.seq > st.lastSeq) st.lastSeq = body.seq;
    this.joins.push({
      at: Date.now(),
      url: link.gateway,
      room,
      since,
      recovered: typeof body.recovered === 'boolean' ? body.recovered : undefined,
      kept: typeof body.kept === 'boolean' ? body.kept : undefined,
      epoch: typeof body.epoch === 'string' ? body.epoch : undefined,
      epochChanged,
      unsolicited,
      replay: replay.length,
      fresh,
    });
    this.joined = room;
    if (this.opts.resumeAgainMs > 0 && since !== undefined) {
      if (epoch === null) {
        st.holeSince ??= since;
        const timer = setTimeout(() => this.resumeAgain(link, room), this.opts.resumeAgainMs);
        timer.unref();
      } else st.holeSince = null;
    }
    this.pump();
  }

  /** resumeAgainMs: the same room's JOIN again, with the `since` the server could not answer. */
  private resumeAgain(link: Link, room: string): void {
    const st = this.state(room);
    if (link !== this.link || this.joined !== room || st.holeSince === null || st.epoch === null) return;
    const since = st.holeSince;
    link
      .request(Op.Join, { room, since, epoch: st.epoch }, this.opts.requestTimeoutMs, (reply) => {
        if (link === this.link && room === this.roomId) this.onJoined(link, room, since, reply.body);
      })
      .catch(() => {
        // Refused or unanswered: try again later (a reconnect resumes with the same since anyway).
        const timer = setTimeout(() => this.resumeAgain(link, room), this.opts.resumeAgainMs);
        timer.unref();
      });
  }

  private onBatch(body: Record<string, unknown>): void {
    const room = body.r as string;
    if (room !== this.joined) return; // an old room's frame sent before the server read our JOIN
    this.shed += typeof body.s === 'number' ? body.s : 0;
    for (const it of body.d as Record<string, unknown>[]) this.take(room, it, 'batch');
  }

  /** Shows an item unless its seq was shown in this epoch; returns whether it was shown. */
  private take(room: string, it: Record<string, unknown>, via: 'batch' | 'replay'): boolean {
    const st = this.state(room);
    const s = it.s as number;
    if (s > 0) {
      if (st.seen.has(s)) {
        this.suppressed.items++;
        return false;
      }
      st.seen.add(s);
      if (s > st.lastSeq) st.lastSeq = s;
    }
    this.shown.push({
      room,
      epoch: st.epoch ?? '',
      s,
      k: it.k as number,
      u: it.u as string,
      t: it.t as number,
      x: it.x as string | undefined,
      g: it.g as string | undefined,
      a: it.a as number | undefined,
      at: Date.now(),
      via,
    });
    return true;
  }

  // --- chat ---

  private onMessage(link: Link, m: Record<string, unknown>): void {
    const id = m.id;
    if (typeof id !== 'string') return; // a notice from before ids: nothing to de-duplicate or ack
    if (this.opts.autoAck) this.ack(link, id); // every copy: the ack of an earlier one may be lost
    this.takeMessage(m as unknown as ChatMessage, 'live');
  }

  private takeMessage(m: ChatMessage, via: 'live' | 'sync'): void {
    if (this.messages.has(m.id)) {
      this.suppressed.messages++;
      return;
    }
    this.messages.set(m.id, { m, at: Date.now(), via });
  }

  /** Collects ids for `ackDelayMs` and sends them in one RECEIVED (at most 100 ids a frame). */
  private ack(link: Link, id: string): void {
    this.toAck.add(id);
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    setTimeout(() => {
      this.ackScheduled = false;
      const ids = [...this.toAck];
      this.toAck.clear();
      // An ack that cannot be sent is no loss: the server gives the push up to the inbox.
      if (link !== this.link) return;
      for (let i = 0; i < ids.length; i += RECEIVED_MAX_IDS) link.post(Op.Received, { ids: ids.slice(i, i + RECEIVED_MAX_IDS) });
    }, this.opts.ackDelayMs);
  }

  private onInboxPage(body: Record<string, unknown>): void {
    const page = inboxPage(body);
    for (const m of page.messages) this.takeMessage(m, 'sync');
    // Every read starts at or below the cursor held when it began: the larger end is read through.
    this.cursor = Math.max(this.cursor, page.cursor);
    if (page.more) this.syncSoon();
  }

  /** A SYNC whose failure (the connection lost meanwhile) is counted: the next connect syncs again. */
  private syncSoon(): void {
    this.sync().catch(() => this.syncFailures++);
  }

  /** One SYNC run (pages until `more` is false); a run asked for while one is going runs once more after it. */
  private sync(): Promise<void> {
    if (!this.signedIn) return Promise.resolve();
    if (this.syncing) {
      this.syncAgain = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      try {
        do {
          this.syncAgain = false;
          await this.syncPages();
        } while (this.syncAgain);
      } finally {
        this.syncing = null;
      }
    })();
    return this.syncing;
  }

  private async syncPages(): Promise<void> {
    for (;;) {
      const link = this.link;
      if (!link || !this.welcomed) throw new LinkClosed('not connected');
      let reply: ServerFrame;
      try {
        reply = await link.request(Op.Sync, { cursor: this.cursor }, this.opts.requestTimeoutMs);
      } catch (err) {
        if (err instanceof RequestFailed && err.frame.body.code === ERR_OUT_OF_RETENTION) {
          this.strayErrors.push(err.frame.body);
          reply = await link.request(Op.Sync, {}, this.opts.requestTimeoutMs);
        } else throw err;
      }
      const page = inboxPage(reply.body);
      for (const m of page.messages) this.takeMessage(m, 'sync');
      this.cursor = Math.max(this.cursor, page.cursor);
      if (!page.more) return;
    }
  }

  // --- SEND and MSG ---

  private enqueue(op: number, body: Record<string, unknown>): Promise<Acked> {
    if (this.closing) return Promise.reject(new ClientClosed(`${this.name} closed`));
    const id = typeof body.id === 'string' ? body.id : `${this.name}-${this.nextId++}`;
    return new Promise((resolve, reject) => {
      this.outgoing.add({ op, body: { ...body, id }, id, firstAt: Date.now(), resolve, reject, attempts: 0, inFlight: false, retryAt: 0, errors: [] });
      this.pump();
    });
  }

  /** Sends every outgoing request that may go now; comes back for the ones waiting for a retry time. */
  private pump(): void {
    if (this.pumpTimer) {
      clearTimeout(this.pumpTimer);
      this.pumpTimer = null;
    }
    const link = this.link;
    if (!link || !this.welcomed || this.closing) return;
    const now = Date.now();
    let next = Infinity;
    for (const o of this.outgoing) {
      if (o.inFlight) continue;
      if (o.op === Op.Send && !this.inRoom) continue; // after the JOINED
      if (o.retryAt > now) {
        next = Math.min(next, o.retryAt);
        continue;
      }
      void this.attempt(link, o);
    }
    if (next < Infinity) this.pumpTimer = setTimeout(() => this.pump(), next - now);
  }

  private async attempt(link: Link, o: Outgoing): Promise<void> {
    o.inFlight = true;
    o.attempts++;
    const body = o.op === Op.Send && this.roomId !== null ? { ...o.body, room: this.roomId } : o.body;
    try {
      const reply = await link.request(o.op, body, this.opts.requestTimeoutMs);
      this.outgoing.delete(o);
      const b = reply.body;
      o.resolve({ s: b.s as number, t: b.t as number, id: o.id, dup: b.dup === true, attempts: o.attempts, ms: Date.now() - o.firstAt, errors: o.errors, lastError: o.lastError });
    } catch (err) {
      if (!this.outgoing.has(o)) return; // closed meanwhile
      o.inFlight = false;
      if (err instanceof RequestFailed) {
        const code = err.frame.body.code as number;
        o.errors.push(code);
        o.lastError = String(err.frame.body.message);
        if (code === ERR_NOT_IN_ROOM && o.op === Op.Send) {
          this.joined = null;
          void this.sendJoin();
        } else if (!RETRY_CODES.has(code)) {
          this.outgoing.delete(o);
          o.reject(err);
          return;
        }
        const hinted = typeof err.frame.body.retryMs === 'number' ? err.frame.body.retryMs : 0;
        const backoff = Math.min(1000, 100 * 2 ** Math.min(o.errors.length, 4));
        o.retryAt = Date.now() + Math.max(hinted, backoff / 2 + (Math.random() * backoff) / 2);
      } else {
        o.errors.push(-1); // the connection dropped (sent again on the next) or no reply in time
      }
      this.pump();
    }
  }
}
