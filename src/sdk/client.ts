// DanmakuClient: the browser-safe client of the wire protocol (docs/protocol.md) that keeps the
// client side of its delivery contract, like test/helpers/reliable-client.ts does for the fault
// tests. It outlives its connections: reconnects with full-jitter backoff (to the next URL),
// resumes its room with `since` and `epoch`, drops copies of room items by seq and of messages
// by id, acknowledges pushes, syncs the inbox from its cursor, and retries SEND and MSG with the
// same client id until acknowledged.

import { Op, ROOM_ID } from '../protocol/ops.js';
import { Backoff, backoffCap } from './backoff.js';
import { Conversations, Inbox, type ChatHost } from './chat.js';
import { closeAction } from './close-codes.js';
import type { Frame } from './codec.js';
import { Emitter } from './emitter.js';
import { Entry } from './entry.js';
import { ClientClosedError, RequestError, requestError } from './errors.js';
import { idGenerator } from './ids.js';
import { Link, LinkClosed, type SocketConstructor } from './link.js';
import { Outbox, type Reply } from './outbox.js';
import { RoomStates, type RoomState } from './rooms.js';
import type { Ack, ClientEvents, ClientOptions, ConnectionState, ItemMeta, JoinInfo, RoomItem, StateDetail, TokenSource, Welcome } from './types.js';

const KIND_EVENTS = ['', 'danmaku', 'like', 'gift', 'notice'] as const;
const MODES: Record<string, number> = { scroll: 0, top: 1, bottom: 2 };
/** ERROR codes after which a JOIN (or LEAVE) is sent again. */
const JOIN_RETRY_CODES: readonly number[] = [21, 30, 31, 32];
const SUPERSEDED = 15;
const FLOOD = 21;
/**
 * A JOIN answered with epoch '' is sent again after about this long, doubling up to ASK_MAX_MS
 * (docs/protocol.md, "Resuming a room": "about every second (with backoff)").
 */
const ASK_BASE_MS = 1000;
const ASK_MAX_MS = 8000;
/**
 * A token function's token is refreshed (REFRESH) after 70-90% of the time left before its exp;
 * one refused or lost is tried again after half of what is left, while at least this much is.
 */
const REFRESH_MIN_LEFT_MS = 2000;
/** The longest GOAWAY delay honoured. */
const GOAWAY_MAX_MS = 30_000;

type Timer = ReturnType<typeof setTimeout>;

interface Waiter<T> {
  readonly room: string;
  readonly resolve: (v: T) => void;
  readonly reject: (e: Error) => void;
}

export class DanmakuClient extends Emitter<ClientEvents> {
  readonly conversations: Conversations;

  private readonly WS: SocketConstructor;
  private readonly urls: readonly string[];
  /** the `entry` option: where each connect asks which gateway to use (entry.ts) */
  private readonly entry: Entry | null;
  private readonly token: TokenSource | undefined;
  private readonly requestTimeoutMs: number;
  private readonly sendDeadlineMs: number;
  private readonly backoff: Backoff;
  private readonly nextId = idGenerator();
  private readonly outbox: Outbox;
  private readonly inbox: Inbox;

  private _state: ConnectionState = 'closed';
  private _welcome: Welcome | null = null;
  /** the uid of the last WELCOME (chat keys outlive the connection) */
  private uid: string | null = null;
  private link: Link | null = null;
  private urlIndex = 0;
  /** bumped by connect() and close(): a token fetched for an older one is dropped */
  private generation = 0;
  /** per connection: the URL carries a token (a signed-in user, with an inbox) */
  private signedIn = false;
  /** timers of the connection, with what to do if it ends first */
  private readonly timers = new Map<Timer, (() => void) | undefined>();
  /** close() was called or the client went 'failed' (until the next connect()) */
  private ended = false;
  private heartbeat: ReturnType<typeof setInterval> | null = null;

  private _room: string | null = null;
  private joinedRoom: string | null = null;
  private roomState: RoomState | null = null;
  private readonly rooms = new RoomStates();
  /** the timer of the next JOIN after an epoch '' */
  private askTimer: Timer | undefined;
  private joinGen = 0;
  private joinWaiters: Waiter<JoinInfo>[] = [];
  private _online = 0;

  constructor(opts: ClientOptions) {
    super();
    const WS = (opts.WebSocket ?? (globalThis as { WebSocket?: unknown }).WebSocket) as SocketConstructor | undefined;
    if (typeof WS !== 'function') throw new TypeError("no WebSocket: pass opts.WebSocket (in Node 20, `import { WebSocket } from 'ws'`)");
    this.WS = WS;
    this.urls = opts.url === undefined ? [] : typeof opts.url === 'string' ? [opts.url] : [...opts.url];
    this.entry = opts.entry ? new Entry(opts.entry) : null;
    if (this.urls.length === 0 && !this.entry) throw new TypeError('opts.url: at least one gateway URL (or opts.entry)');
    this.token = opts.token;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.sendDeadlineMs = opts.sendDeadlineMs ?? 60_000;
    this.backoff = new Backoff({ baseMs: opts.backoff?.baseMs ?? 500, maxMs: opts.backoff?.maxMs ?? 30_000 });
    this.outbox = new Outbox({
      link: () => (this._welcome ? this.link : null),
      joined: () => this.joinedRoom,
      room: () => this._room,
      rejoin: () => this.rejoin(),
      requestTimeoutMs: this.requestTimeoutMs,
    });
    const host: ChatHost = {
      read: (op, body) => this.request(op, body).then((r) => r.frame.body),
      msg: (body) => this.acked(Op.Msg, body, null),
      uid: () => this.uid,
      message: (m, via) => this.emit('message', m, { via }),
      cursor: (c) => this.emit('cursor', c),
      error: (e) => this.emit('error', e),
    };
    this.inbox = new Inbox(host, typeof opts.inboxCursor === 'number' ? opts.inboxCursor : null, opts.ackDelayMs ?? 200);
    this.conversations = new Conversations(host, this.inbox);
    if (opts.autoConnect !== false) this.connect();
  }

  get state(): ConnectionState {
    return this._state;
  }

  /** WELCOME of the current connection (null while not connected). */
  get welcome(): Welcome | null {
    return this._welcome;
  }

  /** The room asked for (join), joined or not. */
  get room(): string | null {
    return this._room;
  }

  /** The viewer count of the room (JOINED, ONLINE, BATCH n). */
  get online(): number {
    return this._online;
  }

  /** The inbox cursor (null until the server gave one, when started from 'latest'). */
  get cursor(): number | null {
    return this.inbox.cursor;
  }

  /** Connects (no-op while connecting or connected); also after close() or 'failed'. */
  connect(): void {
    if (this._state === 'connecting' || this._state === 'open' || this._state === 'reconnecting') return;
    this.ended = false;
    this.outbox.start();
    this.setState('connecting', {});
    void this.open();
  }

  /** Closes for good: no reconnect; pending sends, reads and joins reject with ClientClosedError. */
  close(): void {
    this.generation++;
    this.ended = true;
    const link = this.link;
    this.stop();
    link?.abort(1000, true);
    if (this._state !== 'closed') this.setState('closed', {});
    this.failPending(new ClientClosedError('client closed'));
  }

  /** Joins `room` (leaving the current one); after every reconnect it is resumed. */
  join(room: string): Promise<JoinInfo> {
    if (!ROOM_ID.test(room)) return Promise.reject(new RequestError(10, 'invalid_room', `room id must match ${ROOM_ID}`));
    if (this.ended) return Promise.reject(new ClientClosedError(`client ${this._state}`));
    const p = new Promise<JoinInfo>((resolve, reject) => this.joinWaiters.push({ room, resolve, reject }));
    if (room !== this._room) {
      this.settleJoins(null, new RequestError(SUPERSEDED, 'superseded', `join(${room}) replaced this join`), room);
      this._room = room;
      this.roomState = this.rooms.take(room); // a room joined before is resumed
      this.joinedRoom = null;
      this._online = 0;
      this.outbox.pump(); // SENDs meant for the old room fail
    }
    this.joinGen++;
    if (this.link && this._welcome) void this.joinLoop(this.link, room, this.joinGen);
    return p;
  }

  /**
   * Leaves the room. Resolves once LEFT came, and also when not connected or when the
   * connection ends first (the next connection joins none); a LEAVE refused (ERROR 21, 30, 31,
   * 32) or not answered is sent again.
   */
  leave(): Promise<void> {
    const room = this._room;
    this._room = null;
    this.roomState = null;
    this.joinedRoom = null;
    this._online = 0;
    const gen = ++this.joinGen;
    this.settleJoins(null, new RequestError(SUPERSEDED, 'superseded', 'leave() replaced this join'));
    this.outbox.pump();
    return new Promise((resolve) => {
      let done = false;
      const end = (left: string | null) => {
        if (done) return;
        done = true;
        this.emit('left', left);
        resolve();
      };
      const attempt = (failures: number) => {
        const link = this._welcome ? this.link : null;
        if (!link || gen !== this.joinGen) return end(room); // a join() since: it replaces the leave
        link.request(Op.Leave, null, this.requestTimeoutMs, (err, reply) => {
          if (reply) return end(typeof reply.body.room === 'string' ? reply.body.room : room);
          if (err instanceof LinkClosed || (err instanceof RequestError && !JOIN_RETRY_CODES.includes(err.code))) return end(room);
          // refused (the frame was ignored) or lost: the connection may still be in the room
          const wait = Math.max(err instanceof RequestError ? (err.retryMs ?? 0) : 0, jittered(backoffCap(failures, 250, 5000)));
          this.later(wait, () => attempt(failures + 1), () => end(room));
        });
      };
      attempt(0);
    });
  }

  /** A danmaku: mode 'scroll'|'top'|'bottom' or 0|1|2; color 0xRRGGBB or '#rrggbb'. */
  send(text: string, opts: { color?: number | string; mode?: 'scroll' | 'top' | 'bottom' | 0 | 1 | 2; id?: string } = {}): Promise<Ack> {
    let c: number | undefined;
    if (typeof opts.color === 'string') {
      const hex = /^#?([0-9a-f]{6})$/i.exec(opts.color);
      if (!hex) return Promise.reject(new TypeError(`color must be '#rrggbb', not ${JSON.stringify(opts.color)}`));
      c = parseInt(hex[1]!, 16);
    } else c = opts.color;
    const m = typeof opts.mode === 'string' ? MODES[opts.mode] : opts.mode;
    if (m === undefined && opts.mode !== undefined) return Promise.reject(new TypeError(`mode must be 'scroll', 'top', 'bottom', 0, 1 or 2, not ${JSON.stringify(opts.mode)}`));
    return this.sendItem({ k: 1, x: text, c, m, id: opts.id });
  }

  like(count = 1, opts: { id?: string } = {}): Promise<Ack> {
    return this.sendItem({ k: 2, a: count, id: opts.id });
  }

  gift(gift: string, count = 1, opts: { id?: string } = {}): Promise<Ack> {
    return this.sendItem({ k: 3, g: gift, a: count, id: opts.id });
  }

  notice(text: string, opts: { id?: string } = {}): Promise<Ack> {
    return this.sendItem({ k: 4, x: text, id: opts.id });
  }

  /** Low level: any SEND body (k and kind fields); the client adds id and room. */
  sendItem(body: Record<string, unknown>): Promise<Ack> {
    const room = this._room;
    if (room === null) return Promise.reject(new RequestError(11, 'not_in_room', 'join a room before sending to it'));
    return this.acked(Op.Send, body, room);
  }

  /** PING; resolves with the server time t. */
  async ping(): Promise<number> {
    return Number((await this.request(Op.Ping, null)).frame.body.t);
  }

  // --- requests ---

  /** A request through the outbox: retried until answered or sendDeadlineMs has passed. */
  private request(op: number, body: Record<string, unknown> | null, room: string | null = null): Promise<Reply> {
    if (this.ended) return Promise.reject(new ClientClosedError(`client ${this._state}`));
    return this.outbox.request(op, body, this.sendDeadlineMs, room);
  }

  /** SEND or MSG with a client id (kept across retries). */
  private async acked(op: number, body: Record<string, unknown>, room: string | null): Promise<Ack> {
    const id = typeof body.id === 'string' ? body.id : this.nextId();
    const r = await this.request(op, { ...body, id }, room);
    const b = r.frame.body;
    return { s: Number(b.s) || 0, t: Number(b.t) || 0, id, dup: b.dup === true, attempts: r.attempts };
  }

  // --- connection ---

  private async open(): Promise<void> {
    const gen = ++this.generation;
    let token: string | null | undefined;
    try {
      token = typeof this.token === 'function' ? await this.token() : this.token;
    } catch (err) {
      if (gen !== this.generation) return;
      this.emit('error', err instanceof Error ? err : new Error(String(err)));
      return this.reconnectLater({ reason: 'token function failed' });
    }
    if (gen !== this.generation) return; // close() or connect() meanwhile
    const fallback = this.urls[this.urlIndex % this.urls.length] ?? null;
    let base: string | null;
    try {
      base = this.entry ? await this.entry.pick(fallback) : fallback;
    } catch (err) {
      // Never expected (pick() catches its fetch), but an exception here must not leave the client without a reconnect timer.
      if (gen !== this.generation) return;
      return this.reconnectLater({ reason: `entry: ${err instanceof Error ? err.message : String(err)}` });
    }
    if (gen !== this.generation) return;
    if (base === null) return this.reconnectLater({ reason: `entry: ${this.entry!.problem}` });
    let link: Link;
    try {
      const url = new URL(base);
      this.signedIn = !!token;
      if (token) {
        url.searchParams.set('token', token);
        url.searchParams.set('since', this.inbox.cursor === null ? 'latest' : String(this.inbox.cursor));
      }
      link = new Link(this.WS, url.toString(), {
        frame: (l, f) => this.onFrame(l, f),
        close: (l, code, reason) => this.onClose(l, code, reason),
        garbage: (l, err) => l === this.link && this.emit('error', new Error(`undecodable frame: ${String(err)}`)),
      });
    } catch (err) {
      this.emit('error', err instanceof Error ? err : new Error(String(err)));
      // A URL from the entry that this page cannot open (ws:// from an https page, a bad
      // PUBLIC_URL): that gateway is avoided and another is tried. One of the client's own
      // `url`s that cannot be opened is a configuration error: the client fails.
      if (this.entry && base !== fallback) {
        this.entry.left();
        return this.reconnectLater({ reason: `cannot open ${base}` });
      }
      return this.fail(undefined, `cannot open ${base}`);
    }
    this.link = link;
    // A gateway that accepts the connection but never says WELCOME (hung): drop it, try the next.
    this.later(this.requestTimeoutMs, () => {
      if (this.link === link && !this._welcome) this.drop(link, `no WELCOME within ${this.requestTimeoutMs} ms`);
    });
  }

  private onFrame(link: Link, f: Frame): void {
    if (link !== this.link) return;
    const b = f.body;
    switch (f.op) {
      case Op.Welcome:
        return this.onWelcome(link, b);
      case Op.Batch:
        return this.onBatch(b);
      case Op.Online:
        if (b.r === this.joinedRoom && typeof b.n === 'number') this.setOnline(b.n);
        return;
      case Op.Joined:
        // rid 0: the room's numbering restarted while we are in it
        if (f.rid === 0 && b.room === this.joinedRoom && this.joinedRoom !== null) this.onJoined(this.joinedRoom, undefined, b, true);
        return;
      case Op.Message:
        return this.inbox.onMessage(link, b);
      case Op.Inbox:
        if (f.rid === 0) this.inboxPushed(this.inbox.onPage(b));
        return;
      case Op.Unread:
        return this.onUnread(b);
      case Op.GoAway:
        return this.goAway(b);
      case Op.Left:
        // rid 0: the server removed this connection from its room (a moderator's ban)
        if (f.rid === 0 && typeof b.room === 'string' && b.room === this._room) return this.removed(b.room, b);
        return;
      case Op.Error:
        if (f.rid === 0) {
          // The INBOX push failed (out_of_retention: from the most recent), or a RECEIVED was refused.
          const err = requestError(b);
          this.emit('error', err);
          if (this.pushWaiting === link && err.code !== FLOOD) {
            if (err.code === 40) this.inbox.cursor = null;
            this.inboxPushed(Promise.resolve(true));
          }
        }
        return;
      default:
        return; // PONG of the heartbeat, late replies, ops added later
    }
  }

  /**
   * The server took this connection out of `room` (LEFT with rid 0; `reason: "banned"`): the
   * client is in no room and does not JOIN it again on a reconnect (it would get ERROR 16).
   */
  private removed(room: string, b: Record<string, unknown>): void {
    this._room = null;
    this.roomState = null;
    this.joinedRoom = null;
    this._online = 0;
    ++this.joinGen;
    const until = typeof b.until === 'number' ? b.until : null;
    const reason = typeof b.reason === 'string' ? b.reason : 'removed';
    this.settleJoins(null, new RequestError(16, 'banned', `removed from room ${room} (${reason})`));
    if (reason === 'banned') this.emit('banned', { room, until });
    this.emit('left', room);
  }

  private onWelcome(link: Link, b: Record<string, unknown>): void {
    const w: Welcome = {
      uid: String(b.uid ?? ''),
      name: String(b.name ?? ''),
      guest: b.guest === true,
      gateway: String(b.gateway ?? ''),
      heartbeat: Number(b.heartbeat) || 30_000,
      idleTimeout: Number(b.idleTimeout) || 75_000,
      maxFrame: Number(b.maxFrame) || 4096,
    };
    if (typeof b.exp === 'number') w.exp = b.exp;
    this._welcome = w;
    this.uid = w.uid;
    this.backoff.reset();
    this.goAwayMs = null;
    // A PING with a rid of its own: its PONG (or ERROR 21) answers it, not the rid-0 handling.
    this.heartbeat = setInterval(() => link.request(Op.Ping, null, this.requestTimeoutMs, () => undefined), w.heartbeat);
    this.watch(link, w.heartbeat + this.requestTimeoutMs);
    this.setState('open', {});
    this.emit('welcome', w);
    this.refreshLater(link, false);
    if (this.signedIn) {
      // The INBOX push (the URL's since) is the first page; a server that sends none (INBOX_PUSH_SIZE 0) gets a SYNC.
      this.pushWaiting = link;
      this.later(this.requestTimeoutMs, () => this.pushWaiting === link && this.inboxPushed(Promise.resolve(true)));
    }
    if (this._room !== null) void this.joinLoop(link, this._room, this.joinGen);
    this.outbox.pump();
  }

  /**
   * With a token function and a token that expires: a REFRESH before exp, so that the server
   * does not close the connection with 4502. A refused or lost one is tried again later while
   * time is left; else the 4502 comes and the client reconnects with a fresh token as for any.
   */
  private refreshLater(link: Link, retry: boolean): void {
    const exp = this._welcome?.exp;
    if (exp === undefined || typeof this.token !== 'function') return;
    const left = exp * 1000 - Date.now();
    if (retry && left < REFRESH_MIN_LEFT_MS) return;
    // (setTimeout takes at most 2^31-1 ms: a longer token is refreshed early, no harm)
    this.later(Math.min(retry ? left / 2 : jittered(left * 0.8, 0.875, 1.125), 2 ** 31 - 1), () => void this.refresh(link));
  }

  private async refresh(link: Link): Promise<void> {
    let token: string | null | undefined;
    try {
      token = await (this.token as () => string | null | undefined | Promise<string | null | undefined>)();
    } catch (err) {
      if (link === this.link) this.emit('error', err instanceof Error ? err : new Error(String(err)));
    }
    if (link !== this.link) return;
    if (!token) return this.refreshLater(link, true);
    link.request(Op.Refresh, { token }, this.requestTimeoutMs, (err, reply) => {
      const w = this._welcome;
      if (link !== this.link || !w || err instanceof LinkClosed) return;
      if (!reply) {
        if (err instanceof RequestError) this.emit('error', err); // 23 token_refused
        return this.refreshLater(link, true);
      }
      const b = reply.body;
      this._welcome = { ...w, name: String(b.name ?? w.name) };
      if (typeof b.exp === 'number') this._welcome.exp = b.exp;
      else delete this._welcome.exp;
      this.emit('refreshed', this._welcome);
      // The function gave the same token (or one that ends no later): again after half of what is left, not at 80%.
      this.refreshLater(link, w.exp !== undefined && (this._welcome.exp ?? Infinity) <= w.exp);
    });
  }

  /** the link whose INBOX push has not come yet */
  private pushWaiting: Link | null = null;

  /** The INBOX push came (or failed, or never came): SYNC on when it said `more`. */
  private inboxPushed(more: Promise<boolean>): void {
    this.pushWaiting = null;
    more.then((m) => (m ? this.syncInBackground() : undefined), (err: unknown) => this.emit('error', err instanceof Error ? err : new Error(String(err))));
  }

  private syncInBackground(): void {
    this.inbox.sync().catch((err: unknown) => {
      if (!(err instanceof ClientClosedError)) this.emit('error', err instanceof Error ? err : new Error(String(err)));
    });
  }

  private onUnread(b: Record<string, unknown>): void {
    const total = Number(b.total) || 0;
    this.inbox.total = total;
    const conversation = typeof b.g === 'string' ? { g: b.g } : typeof b.to === 'string' ? { to: b.to } : undefined;
    if (conversation) this.emit('unread', { total, conversation, read: Number(b.read) || 0, unread: Number(b.unread) || 0 });
    else {
      this.emit('unread', { total });
      // new messages were stored: fetch the ones this connection did not get live
      if (this.signedIn) this.syncInBackground();
    }
  }

  /** Drops the connection without waiting for a close handshake, and reconnects. */
  private drop(link: Link, reason: string): void {
    // The client lets go of the link first: the requests abort() fails find no link to go on.
    this.onClose(link, undefined, reason);
    link.abort();
  }

  /** Heartbeat watchdog: nothing from the server for `limitMs` (PONGs included) means it is gone. */
  private watch(link: Link, limitMs: number): void {
    const check = () => {
      if (link !== this.link) return;
      const quiet = Date.now() - link.lastRx;
      if (quiet >= limitMs) this.drop(link, `nothing from the server for ${quiet} ms`);
      else this.later(limitMs - quiet, check);
    };
    this.later(limitMs, check);
  }

  private onClose(link: Link, code: number | undefined, reason: string): void {
    if (link !== this.link) return;
    this.stop();
    if (this._state === 'closed') return;
    if (closeAction(code, typeof this.token === 'function') === 'fail') return this.fail(code, reason);
    this.urlIndex++;
    this.entry?.left();
    this.reconnectLater({ code, reason });
  }

  /** the delay of the GOAWAY before the close (a drain moves us: docs/protocol.md, "GOAWAY"); null: none came */
  private goAwayMs: number | null = null;

  /** GOAWAY: the close 1012 follows; reconnect after its delay (at most 30 s) instead of the backoff's, to the next URL. */
  private goAway(b: Record<string, unknown>): void {
    const ms = Number(b.reconnectMs);
    this.goAwayMs = Number.isFinite(ms) ? Math.min(Math.max(0, ms), GOAWAY_MAX_MS) : 0;
  }

  private reconnectLater(detail: StateDetail): void {
    const delayMs = this.goAwayMs ?? this.backoff.next();
    this.goAwayMs = null;
    this.setState('reconnecting', { ...detail, delayMs });
    const gen = this.generation;
    this.later(delayMs, () => gen === this.generation && void this.open());
  }

  /** The server will not let this client back in as it is: 'failed', everything pending rejected. */
  private fail(code: number | undefined, reason: string): void {
    this.generation++;
    this.ended = true;
    this.stop();
    this.setState('failed', { code, reason });
    const err = new ClientClosedError(`connection refused${code !== undefined ? ` with ${code}` : ''}${reason ? `: ${reason}` : ''}; not reconnecting`);
    this.emit('error', err);
    this.failPending(err);
  }

  /** Forgets the connection and every timer of it. */
  private stop(): void {
    this.link = null;
    this._welcome = null;
    this.joinedRoom = null;
    this.pushWaiting = null;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    const cancelled = [...this.timers];
    this.timers.clear();
    for (const [t, cancel] of cancelled) {
      clearTimeout(t);
      cancel?.();
    }
    this.inbox.linkGone();
  }

  private failPending(err: Error): void {
    this.outbox.failAll(err);
    this.settleJoins(null, err);
  }

  private setState(state: ConnectionState, detail: StateDetail): void {
    this._state = state;
    this.emit('state', state, detail);
  }

  /** A timer cleared with the connection (or by close()), which then calls `cancel`. */
  private later(ms: number, fn: () => void, cancel?: () => void): Timer {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.set(t, cancel);
    return t;
  }

  // --- rooms ---

  /** JOINs the room on `link`, again after ERROR 21/30/31/32 or a timeout (with backoff), until JOINED. */
  private async joinLoop(link: Link, room: string, gen: number): Promise<void> {
    for (let failures = 0; ; failures++) {
      const st = this.roomState;
      if (link !== this.link || gen !== this.joinGen || room !== this._room || !st) return;
      const body = st.joinBody();
      const err = await new Promise<Error | null>((resolve) =>
        link.request(Op.Join, body, this.requestTimeoutMs, (e, reply) => {
          if (reply && link === this.link && room === this._room) this.onJoined(room, body.since, reply.body, false);
          resolve(e);
        }),
      );
      if (!err || err instanceof LinkClosed) return; // joined, or the next connection joins
      let wait = jittered(backoffCap(failures, 250, 5000));
      if (err instanceof RequestError) {
        if (err.code === SUPERSEDED) return; // a later JOIN or LEAVE is the one answered
        if (!JOIN_RETRY_CODES.includes(err.code)) {
          this.emit('error', err);
          return this.settleJoins(room, err);
        }
        if (this.joinedRoom === room) this.joinedRoom = null; // ERROR 30: in no room now
        wait = Math.max(wait, err.retryMs ?? 0);
      }
      await new Promise<void>((r) => this.later(wait, r));
    }
  }

  /** ERROR 11 to a SEND the client thought joined: join again (once: not again while joining). */
  private rejoin(): void {
    if (this._room === null || this.joinedRoom !== this._room || !this.link || !this._welcome) return;
    this.joinedRoom = null;
    this.joinGen++;
    void this.joinLoop(this.link, this._room, this.joinGen);
  }

  private onJoined(room: string, since: number | undefined, body: Record<string, unknown>, unsolicited: boolean): void {
    const st = this.roomState;
    if (!st || st.room !== room) return;
    const { info, fresh } = st.joined(body, since, unsolicited);
    this.joinedRoom = room;
    this._online = info.online;
    this.emit('joined', info);
    this.emit('online', info.online, room);
    const meta: ItemMeta = { room, replay: true };
    for (const it of fresh) this.emitItem(it, meta);
    this.settleJoins(room, info);
    if (st.unanswered) this.askAgainLater(room, st);
    this.outbox.pump();
  }

  /**
   * A JOINED with epoch '': JOIN again (a resume with the same since, or a plain JOIN when no
   * epoch was ever known) after 1 s, doubling to 8 s (+-25%), until a JOINED carries an epoch.
   */
  private askAgainLater(room: string, st: RoomState): void {
    const link = this.link;
    clearTimeout(this.askTimer);
    this.timers.delete(this.askTimer!);
    this.askTimer = this.later(jittered(backoffCap(st.asked++, ASK_BASE_MS, ASK_MAX_MS), 0.75, 1.25), () => {
      if (link && link === this.link && this.joinedRoom === room && this.roomState === st && st.unanswered) void this.joinLoop(link, room, ++this.joinGen);
    });
  }

  private onBatch(b: Record<string, unknown>): void {
    const room = this.joinedRoom;
    const st = this.roomState;
    if (room === null || b.r !== room || !st) return; // an old room's frame, sent before the server read our JOIN
    if (typeof b.s === 'number' && b.s > 0) this.emit('shed', b.s, room);
    if (typeof b.n === 'number') this.setOnline(b.n);
    const meta: ItemMeta = { room, replay: false };
    for (const it of Array.isArray(b.d) ? (b.d as RoomItem[]) : []) if (st.take(it)) this.emitItem(it, meta);
  }

  private emitItem(it: RoomItem, meta: ItemMeta): void {
    const kind = KIND_EVENTS[it.k];
    if (kind) this.emit(kind, it, meta);
    this.emit('item', it, meta);
  }

  private setOnline(n: number): void {
    this._online = n;
    if (this.joinedRoom !== null) this.emit('online', n, this.joinedRoom);
  }

  /** Resolves (a JoinInfo) or rejects (an Error) the join() calls of `room` (null: all but `except`). */
  private settleJoins(room: string | null, outcome: JoinInfo | Error, except?: string): void {
    const keep: Waiter<JoinInfo>[] = [];
    const settle: Waiter<JoinInfo>[] = [];
    for (const w of this.joinWaiters) ((room === null ? w.room !== except : w.room === room) ? settle : keep).push(w);
    this.joinWaiters = keep;
    for (const w of settle) {
      if (outcome instanceof Error) w.reject(outcome);
      else w.resolve(outcome);
    }
  }
}

/** A delay drawn at random from [lo * cap, hi * cap). */
function jittered(cap: number, lo = 0.5, hi = 1): number {
  return cap * (lo + Math.random() * (hi - lo));
}

/** Same as `new DanmakuClient(opts)`. */
export function createClient(opts: ClientOptions): DanmakuClient {
  return new DanmakuClient(opts);
}

