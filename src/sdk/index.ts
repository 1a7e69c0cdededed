// The client SDK's public surface (docs/sdk.md): createClient / DanmakuClient, the chat
// classes, the error classes, the Mode and Kind constants and the types. Browser-safe: no
// Node APIs; in Node pass `ws`'s WebSocket as opts.WebSocket.

export { DanmakuClient, createClient } from './client.js';
export { Conversations, Conversation } from './chat.js';
export { RequestError, ClientClosedError, TimeoutError, OutcomeUnknownError } from './errors.js';
export type {
  Ack,
  ChatMessage,
  ClientEvents,
  ClientOptions,
  ConnectionState,
  ConversationKey,
  ConversationSummary,
  ItemMeta,
  JoinInfo,
  RoomItem,
  StateDetail,
  TokenSource,
  UnreadInfo,
  Welcome,
} from './types.js';

/** Danmaku position modes (SEND `m`). */
export const Mode = { Scroll: 0, Top: 1, Bottom: 2 } as const;

/** Room item kinds (`k`). */
export const Kind = { Danmaku: 1, Like: 2, Gift: 3, Notice: 4 } as const;
