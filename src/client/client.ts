// A minimal Node client of the wire protocol (docs/protocol.md), used by the CLI and the
// tests: request/reply by rid, pushes as events, heartbeat at the interval WELCOME announces,
// and RECEIVED for the MESSAGE pushes that carry an id (docs/protocol.md, "Acknowledging pushes").

import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { decode, encodeFrame } from '../protocol/codec.js';
import { Op } from '../protocol/ops.js';

export interface ServerFrame {
  readonly op: number;
  readonly rid: number;
  readonly body: Record<string, unknown>;
}

export class RequestFailed extends Error {
  override name = 'RequestFailed';
  constructor(readonly frame: ServerFrame) {
    super(String(frame.body.message ?? 'request failed'));
  }
}

export interface ClientOptions {
  readonly token?: string;
  /** send PINGs at the interval the server announces (default true) */
  readonly heartbeat?: boolean;
  /**
   * acknowledge MESSAGE pushes that carry an id with RECEIVED (default true); without it the
   * server sends each one 1 + PUSH_RESENDS times
   */
  readonly autoAck?: boolean;
  /**
   * how long ids are collected before one RECEIVED carries them (default 200 ms; 0: the next
   * event-loop turn). RECEIVED takes a token of the frame budget like any frame: one per
   * received MESSAGE would run out of it in a busy chat
   */
  readonly ackDelayMs?: number;
}

/** Ids in one RECEIVED frame, at most (the server refuses more). */
const RECEIVED_MAX_IDS = 100;

/**
 * Events: 'frame' (every server frame), 'batch', 'online', 'message' (group, user and notice
 * messages), 'error-frame', 'close' (code, reason).
 */
export class DanmakuClient extends EventEmitter {
  readonly ws: WebSocket;
  welcome: Record<string, unknown> | null = null;
  private nextRid = 1;
  private readonly pending = new Map<number, { resolve: (f: ServerFrame) => void; reject: (e: Error) => void }>();
  private heartbeat: NodeJS.Timeout | null = null;
  private readonly autoAck: boolean;
  private readonly ackDelayMs: number;
  /** MESSAGE ids received and not acknowledged yet */
  private toAck: string[] = [];
  private ackTimer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  closed: { code: number; reason: string } | null = null;

  private constructor(url: string, opts: ClientOptions) {
    super();
    this.autoAck = opts.autoAck ?? true;
    this.ackDelayMs = opts.ackDelayMs ?? 200;
    const u = new URL(url);
    if (opts.token) u.searchParams.set('token', opts.token);
    this.ws = new WebSocket(u);
    this.ws.binaryType = 'nodebuffer';
    this.ws.on('message', (data: Buffer) => this.onFrame(data));
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      if (this.heartbeat) clearInterval(this.heartbeat);
      this.cancelAcks();
      for (const p of this.pending.values()) p.reject(new Error(`connection closed (${code})`));
      this.pending.clear();
      this.emit('close', code, reason.toString());
    });
    this.ws.on('error', (err) => this.emit('socket-error', err));
    this.once('welcome', (body: Record<string, unknown>) => {
      if (opts.heartbeat === false) return;
      const every = Number(body.heartbeat) || 30_000;
      this.heartbeat = setInterval(() => this.sendFrame(Op.Ping, 0, null), every);
      this.heartbeat.unref();
    });
  }

  /** Connects and resolves on WELCOME; rejects if the server closes first. */
  static connect(url: string, opts: ClientOptions = {}): Promise<DanmakuClient> {
    const c = new DanmakuClient(url, opts);
    return new Promise((resolve, reject) => {
      c.once('welcome', () => resolve(c));
      c.once('close', (code: number, reason: string) => reject(Object.assign(new Error(`closed ${code} ${reason}`), { code, reason })));
      c.once('socket-error', reject);
    });
  }

  private onFrame(data: Buffer): void {
    const v = decode(data) as [number, number, Record<string, unknown> | null];
    const frame: ServerFrame = { op: v[0], rid: v[1], body: v[2] ?? {} };
    this.emit('frame', frame);
    if (frame.op === Op.Welcome) {
      this.welcome = frame.body;
      this.emit('welcome', frame.body);
    } else if (frame.op === Op.Batch) {
      this.emit('batch', frame.body);
      if (typeof frame.body.n === 'number') this.emit('online', { r: frame.body.r, n: frame.body.n });
    }
    else if (frame.op === Op.Online) this.emit('online', frame.body);
    else if (frame.op === Op.Message) {
      if (this.autoAck && typeof frame.body.id === 'string') this.ack(frame.body.id);
      this.emit('message', frame.body);
    }
    else if (frame.op === Op.Error && frame.rid === 0) this.emit('error-frame', frame.body);
    const p = frame.rid === 0 ? undefined : this.pending.get(frame.rid);
    if (!p) return;
    this.pending.delete(frame.rid);
    if (frame.op === Op.Error) p.reject(new RequestFailed(frame));
    else p.resolve(frame);
  }

  /** Queues `id` for the next RECEIVED (sent after ackDelayMs, with every id queued by then). */
  ack(id: string): void {
    this.toAck.push(id);
    if (this.ackTimer !== null) return;
    const flush = () => {
      this.ackTimer = null;
      const ids = this.toAck;
      this.toAck = [];
      for (let i = 0; i < ids.length; i += RECEIVED_MAX_IDS) this.sendFrame(Op.Received, 0, { ids: ids.slice(i, i + RECEIVED_MAX_IDS) });
    };
    this.ackTimer = this.ackDelayMs > 0 ? setTimeout(flush, this.ackDelayMs) : setImmediate(flush);
  }

  private cancelAcks(): void {
    if (this.ackTimer !== null) {
      // Each clear function only for its own kind: clearImmediate on a Timeout upsets Node's count of immediates.
      if (this.ackDelayMs > 0) clearTimeout(this.ackTimer as NodeJS.Timeout);
      else clearImmediate(this.ackTimer as NodeJS.Immediate);
    }
    this.ackTimer = null;
    this.toAck = [];
  }

  sendFrame(op: number, rid: number, body: unknown): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(encodeFrame(op, rid, body));
  }

  /** Sends a request frame and resolves with its reply (rejects with RequestFailed on ERROR). */
  request(op: number, body: unknown): Promise<ServerFrame> {
    const rid = this.nextRid++;
    return new Promise((resolve, reject) => {
      this.pending.set(rid, { resolve, reject });
      this.sendFrame(op, rid, body);
    });
  }

  join(room: string): Promise<ServerFrame> {
    return this.request(Op.Join, { room });
  }

  switchTo(room: string): Promise<ServerFrame> {
    return this.request(Op.Switch, { room });
  }

  leave(): Promise<ServerFrame> {
    return this.request(Op.Leave, {});
  }

  send(body: Record<string, unknown>): Promise<ServerFrame> {
    return this.request(Op.Send, body);
  }

  /** Sends a message to a group (`{g, x}`) or a user (`{to, x}`); resolves with the ACK. */
  message(body: Record<string, unknown>): Promise<ServerFrame> {
    return this.request(Op.Msg, body);
  }

  close(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.cancelAcks();
    this.ws.close(1000);
  }
}
