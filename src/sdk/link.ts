// One WebSocket to a gateway: frames in and out, request/reply by rid with a timeout, and the
// reply handed to its request synchronously, before any later frame is looked at (the BATCH
// right behind a JOINED must find the room joined; `ws` can emit several messages in one turn).
// Only the standard WebSocket surface is used (onopen/onmessage/onclose/onerror), which
// browsers and Node's `ws` both have.

import { decodeFrame, encodeFrame, type Frame } from './codec.js';
import { requestError, type RequestError } from './errors.js';

/** The part of a WebSocket the link uses. */
export interface SocketLike {
  binaryType: string;
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: drop the TCP connection without a close handshake */
  terminate?: () => void;
}

export type SocketConstructor = new (url: string) => SocketLike;

const OPEN = 1;
const OP_ERROR = 9;

/** The link closed before the request was answered. */
export class LinkClosed extends Error {
  override name = 'LinkClosed';
}

/** No reply within the request's timeout. */
export class LinkTimeout extends Error {
  override name = 'LinkTimeout';
}

export type ReplyCallback = (err: RequestError | LinkClosed | LinkTimeout | null, reply: Frame | null) => void;

export interface LinkHandlers {
  /** every frame that answers no pending request (pushes with rid 0, late replies) */
  frame(link: Link, f: Frame): void;
  /** the socket closed (not called after abort()) */
  close(link: Link, code: number, reason: string): void;
  /** bytes that do not decode to a frame */
  garbage(link: Link, err: unknown): void;
}

export class Link {
  readonly url: string;
  /** time (ms) of the last frame received */
  lastRx = Date.now();
  private readonly ws: SocketLike;
  private nextRid = 1;
  private readonly pending = new Map<number, { cb: ReplyCallback; timer: ReturnType<typeof setTimeout> }>();
  private dead = false;

  constructor(Ctor: SocketConstructor, url: string, private readonly handlers: LinkHandlers) {
    this.url = url;
    this.ws = new Ctor(url);
    this.ws.binaryType = 'arraybuffer';
    this.ws.onmessage = (ev) => this.onMessage(ev.data);
    this.ws.onclose = (ev) => this.finish(ev.code, ev.reason ?? '', true);
    this.ws.onerror = () => undefined; // onclose follows (1006)
  }

  get open(): boolean {
    return !this.dead && this.ws.readyState === OPEN;
  }

  /**
   * Sends a request; `cb` gets its reply (or the ERROR, a timeout, or the link's end) exactly
   * once, never before request() returns: a caller that sends again from `cb` cannot recurse.
   * Returns whether the request was written (false: the link is closing or closed).
   */
  request(op: number, body: unknown, timeoutMs: number, cb: ReplyCallback): boolean {
    if (!this.open) {
      queueMicrotask(() => cb(new LinkClosed('not connected'), null));
      return false;
    }
    const rid = this.nextRid++;
    const timer = setTimeout(() => {
      this.pending.delete(rid);
      cb(new LinkTimeout(`no reply to op ${op} within ${timeoutMs} ms`), null);
    }, timeoutMs);
    this.pending.set(rid, { cb, timer });
    this.ws.send(encodeFrame(op, rid, body));
    return true;
  }

  /** A frame whose reply (if any) nobody waits for (PING of the heartbeat, RECEIVED): rid 0. */
  post(op: number, body: unknown): void {
    if (this.open) this.ws.send(encodeFrame(op, 0, body));
  }

  /**
   * Ends the link at once: pending requests fail, no close callback. `graceful`: a close
   * handshake (close()); else the TCP connection is dropped where the socket can (`ws`).
   */
  abort(code = 1000, graceful = false): void {
    if (this.dead) return;
    this.finish(code, '', false);
    const noop = () => undefined;
    // Handlers stay set (to nothing): `ws` throws on an 'error' event nobody listens to.
    this.ws.onmessage = noop;
    this.ws.onclose = noop;
    this.ws.onerror = noop;
    this.ws.onopen = noop;
    try {
      if (this.ws.terminate && !graceful) this.ws.terminate();
      else this.ws.close(code);
    } catch {
      // already closing: nothing more to end
    }
  }

  private onMessage(data: unknown): void {
    if (this.dead) return;
    this.lastRx = Date.now();
    let f: Frame | null;
    try {
      f = data instanceof ArrayBuffer || data instanceof Uint8Array ? decodeFrame(data) : null;
      if (!f) throw new Error('not a [op, rid, body] frame');
    } catch (err) {
      return this.handlers.garbage(this, err);
    }
    const p = f.rid === 0 ? undefined : this.pending.get(f.rid);
    if (!p) return this.handlers.frame(this, f);
    this.pending.delete(f.rid);
    clearTimeout(p.timer);
    if (f.op === OP_ERROR) p.cb(requestError(f.body), null);
    else p.cb(null, f);
  }

  private finish(code: number, reason: string, notify: boolean): void {
    if (this.dead) return;
    this.dead = true;
    // The client learns of the end first (abort(): it has let go of the link already), so that
    // the failed requests below find it gone.
    if (notify) this.handlers.close(this, code, reason);
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.cb(new LinkClosed(`connection closed (${code})`), null);
    }
  }
}
