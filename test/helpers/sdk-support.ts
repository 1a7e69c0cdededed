// Helpers for the SDK's end-to-end tests (test/e2e/sdk*.test.ts): an SDK client in Node (with
// `ws`'s WebSocket and short backoffs), a recorder of everything it emits, and a TCP proxy in
// front of a gateway that the test can cut, refuse or mute, to lose connections the way a
// network does (the client cannot tell it from a real drop); and for unit tests a scripted fake
// WebSocket on which the test plays the server.

import { decode, encode } from '@msgpack/msgpack';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { WebSocket } from 'ws';
import { createClient, type ChatMessage, type ClientOptions, type ConnectionState, type DanmakuClient, type ItemMeta, type JoinInfo, type RoomItem, type StateDetail } from '../../src/sdk/index.js';
import { waitFor } from './server.js';

/** An SDK client for Node: `ws`'s WebSocket, backoff 50-500 ms. */
export function sdkClient(url: string | readonly string[], opts: Partial<ClientOptions> = {}): DanmakuClient {
  return createClient({ url, WebSocket, backoff: { baseMs: 50, maxMs: 500 }, ...opts });
}

export interface Recording {
  readonly items: { item: RoomItem; meta: ItemMeta }[];
  readonly joins: JoinInfo[];
  readonly messages: { m: ChatMessage; via: 'live' | 'sync' }[];
  readonly states: { state: ConnectionState; detail: StateDetail }[];
  readonly errors: Error[];
  readonly cursors: number[];
}

/** Everything a client emits from now on. */
export function record(c: DanmakuClient): Recording {
  const r: Recording = { items: [], joins: [], messages: [], states: [], errors: [], cursors: [] };
  c.on('item', (item, meta) => r.items.push({ item, meta }));
  c.on('joined', (info) => r.joins.push(info));
  c.on('message', (m, meta) => r.messages.push({ m, via: meta.via }));
  c.on('state', (state, detail) => r.states.push({ state, detail }));
  c.on('error', (e) => r.errors.push(e));
  c.on('cursor', (n) => r.cursors.push(n));
  return r;
}

/** Resolves once the client's state is `state`; rejects after `timeoutMs`. */
export function stateIs(c: DanmakuClient, state: ConnectionState, timeoutMs = 10_000): Promise<void> {
  return waitFor(() => c.state === state, timeoutMs, `state ${state} (is ${c.state})`);
}

/** Texts of the danmaku recorded, in order. */
export function texts(r: Recording): string[] {
  return r.items.filter((i) => i.item.k === 1).map((i) => i.item.x ?? '');
}

export interface Proxy {
  /** ws:// URL of the proxy */
  readonly url: string;
  /** connections through it now */
  readonly open: number;
  /** connections accepted so far */
  readonly accepted: number;
  /** drops every connection (no close frame: the client sees 1006) */
  cut(): void;
  /** refuse (drop at once) new connections until up() */
  down(): void;
  up(): void;
  /** stop passing the server's bytes to the client (they are dropped), until unmute() */
  mute(): void;
  unmute(): void;
  close(): Promise<void>;
}

/** A TCP proxy on a free loopback port in front of 127.0.0.1:`port`. */
export async function startProxy(port: number): Promise<Proxy> {
  const pairs = new Set<[Socket, Socket]>();
  let refusing = false;
  let muted = false;
  let accepted = 0;
  const server: Server = createServer((client) => {
    if (refusing) return void client.destroy();
    accepted++;
    const upstream = tcpConnect(port, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => {
      if (!muted) client.write(d);
    });
    for (const s of pair) {
      s.on('close', end);
      s.on('error', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const proxyPort = typeof addr === 'object' && addr ? addr.port : 0;
  const cut = () => {
    for (const [a, b] of [...pairs]) {
      a.destroy();
      b.destroy();
    }
    pairs.clear();
  };
  return {
    url: `ws://127.0.0.1:${proxyPort}`,
    get open() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    cut,
    down: () => void (refusing = true),
    up: () => void (refusing = false),
    mute: () => void (muted = true),
    unmute: () => void (muted = false),
    async close() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A scripted WebSocket for unit tests: records what the client sends; the test plays the server. */
export class FakeSocket {
  static all: FakeSocket[] = [];
  binaryType = 'blob';
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  readonly sent: [number, number, Record<string, unknown> | undefined][] = [];
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(data: Uint8Array): void {
    this.sent.push(decode(data) as [number, number, Record<string, unknown> | undefined]);
  }
  close(code = 1005): void {
    this.serverClose(code);
  }
  // --- the server's side ---
  accept(welcome: Record<string, unknown> = {}): void {
    this.readyState = 1;
    this.onopen?.({});
    this.push(3, 0, { uid: 'alice', name: 'Alice', guest: false, gateway: 'gw-x', heartbeat: 30_000, idleTimeout: 75_000, maxFrame: 4096, ...welcome });
  }
  push(op: number, rid: number, body: Record<string, unknown>): void {
    const bytes = encode([op, rid, body]);
    this.onmessage?.({ data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
  }
  serverClose(code: number, reason = ''): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  lastRequest(op: number): [number, number, Record<string, unknown> | undefined] | undefined {
    return this.sent.filter((f) => f[0] === op).at(-1);
  }
}

/** A client on FakeSockets (FakeSocket.all emptied first), URLs a.test and b.test, backoff 10-20 ms. */
export function fakeClient(opts: Partial<ClientOptions> = {}): DanmakuClient {
  FakeSocket.all = [];
  return createClient({ url: ['ws://a.test/', 'ws://b.test/'], WebSocket: FakeSocket, backoff: { baseMs: 10, maxMs: 20 }, ...opts });
}
