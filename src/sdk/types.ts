// The SDK's public types (the design of issue 12; the wire fields are docs/protocol.md's).

import type { RequestError } from './errors.js';

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed' | 'failed';
export type TokenSource = string | (() => string | null | undefined | Promise<string | null | undefined>);

export interface ClientOptions {
  /**
   * ws:// or wss:// URL of a gateway, or several: each reconnect goes to the next one. With
   * `entry`, the fallback when the entry cannot be read (optional then)
   */
  url?: string | readonly string[];
  /**
   * http(s):// URL of a gateway's GET /entry: each connect asks it which gateway to use (a
   * weighted random choice by load); the `url` list when it cannot say
   */
  entry?: string;
  /**
   * a token, or a function called before every connect (and again after close 4502/4501); a
   * function is also called before the token's exp (WELCOME exp) for a REFRESH of the open connection
   */
  token?: TokenSource;
  /** WebSocket constructor (Node 20: pass `ws`'s WebSocket); default globalThis.WebSocket */
  WebSocket?: unknown;
  /** reconnect backoff, full jitter: delay = random(0, min(maxMs, baseMs * 2^attempt)); defaults 500, 30000 */
  backoff?: { baseMs?: number; maxMs?: number };
  /** a request without a reply after this long counts as lost (default 10000) */
  requestTimeoutMs?: number;
  /** send()/message() retry with the same id until this long after the first try, then reject (default 60000) */
  sendDeadlineMs?: number;
  /** inbox cursor to start from: a number, or 'latest' (default 'latest'); signed-in users only */
  inboxCursor?: number | 'latest';
  /** RECEIVED batching delay (default 200) */
  ackDelayMs?: number;
  /** connect at once (default true); else call connect() */
  autoConnect?: boolean;
}

export interface Welcome {
  uid: string;
  name: string;
  guest: boolean;
  gateway: string;
  heartbeat: number;
  idleTimeout: number;
  maxFrame: number;
  /** the token's exp (seconds since the epoch; a REFRESH moves it on); absent: guests, tokens without exp */
  exp?: number;
}

/** A room item (docs/protocol.md, "Room items"), as decoded. */
export interface RoomItem {
  s: number;
  k: number;
  u: string;
  n?: string;
  t: number;
  x?: string;
  c?: number;
  m?: number;
  g?: string;
  a?: number;
}

/** replay: came in a JOINED */
export interface ItemMeta {
  room: string;
  replay: boolean;
}

export interface JoinInfo {
  room: string;
  online: number;
  seq: number;
  epoch: string;
  /** this JOIN resumed the room after a reconnect (sent since) */
  resumed: boolean;
  /** only when resumed: every missed item is in the replay / every gift and notice is */
  recovered?: boolean;
  kept?: boolean;
  /** the room's numbering restarted (a JOINED with rid 0, or an epoch change) */
  reset: boolean;
  /** replay items emitted (those the client did not hold yet) */
  replayed: number;
}

export interface Ack {
  s: number;
  t: number;
  id: string;
  dup: boolean;
  /** requests sent for it (1: acknowledged at the first try) */
  attempts: number;
}

export interface ChatMessage {
  id: string;
  g?: string;
  to?: string;
  s: number;
  u: string;
  n: string;
  t: number;
  x: string;
}

export type ConversationKey = { g: string } | { to: string };

export interface ConversationSummary {
  key: ConversationKey;
  /** 'g:<group>' | 'to:<uid>' */
  id: string;
  t: number;
  unread: number;
  read: number;
  last?: ChatMessage;
}

export interface UnreadInfo {
  total: number;
  conversation?: ConversationKey;
  read?: number;
  unread?: number;
}

export interface StateDetail {
  code?: number;
  reason?: string;
  delayMs?: number;
}

export interface ClientEvents {
  state: (state: ConnectionState, detail: StateDetail) => void;
  welcome: (w: Welcome) => void;
  /** a REFRESH was accepted: the WELCOME with the new name and exp */
  refreshed: (w: Welcome) => void;
  joined: (info: JoinInfo) => void;
  left: (room: string | null) => void;
  /** a moderator banned this user from the room it was in (LEFT rid 0, reason "banned"): in no room now; `until` ms since the epoch, null: until lifted */
  banned: (info: { room: string; until: number | null }) => void;
  /** k 1 */
  danmaku: (item: RoomItem, meta: ItemMeta) => void;
  /** k 2 (item.a = count in that BATCH) */
  like: (item: RoomItem, meta: ItemMeta) => void;
  /** k 3 */
  gift: (item: RoomItem, meta: ItemMeta) => void;
  /** k 4 */
  notice: (item: RoomItem, meta: ItemMeta) => void;
  /** every kind, known or not, after dedupe */
  item: (item: RoomItem, meta: ItemMeta) => void;
  online: (n: number, room: string) => void;
  /** BATCH s > 0 */
  shed: (count: number, room: string) => void;
  /** deduped by id */
  message: (m: ChatMessage, meta: { via: 'live' | 'sync' }) => void;
  unread: (u: UnreadInfo) => void;
  /** inbox cursor advanced (persist it) */
  cursor: (cursor: number) => void;
  /** stray ERROR frames (rid 0), fatal conditions */
  error: (e: RequestError | Error) => void;
}
