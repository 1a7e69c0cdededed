// Numbered op codes of the wire protocol, all in one place (docs/protocol.md, "Ops").
// A frame is one MessagePack array [op, rid, body].

export const Op = {
  // client -> server
  Ping: 1,
  Join: 10,
  Switch: 12,
  Leave: 13,
  Send: 20,
  Msg: 22,
  Sync: 40,
  History: 42,
  Contacts: 44,
  Read: 46,
  Received: 33,
  /** a moderator mutes, unmutes, bans or unbans a user (docs/moderation.md) */
  Moderate: 24,
  /** a new token for this connection (same sub): its name, roles and exp replace the old ones */
  Refresh: 6,
  // server -> client
  Pong: 2,
  Welcome: 3,
  /** a drain moves this connection: reconnect after `reconnectMs`, preferably elsewhere (close 1012 follows) */
  GoAway: 5,
  /** REFRESH accepted: the connection's new exp, name and roles */
  Refreshed: 7,
  Error: 9,
  Joined: 11,
  Left: 14,
  Ack: 21,
  Batch: 30,
  Online: 31,
  Message: 32,
  Inbox: 41,
  Messages: 43,
  Recent: 45,
  Unread: 47,
  Moderated: 25,
} as const;
export type Op = (typeof Op)[keyof typeof Op];

/** Danmaku position modes. */
export const Mode = { Scroll: 0, Top: 1, Bottom: 2 } as const;

/** Room ids: they become NATS subject tokens in cluster mode, so no dots, wildcards or spaces. */
export const ROOM_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Group ids: the same alphabet as rooms. */
export const GROUP_ID = ROOM_ID;

/** User ids, as the token's `sub` carries them. */
export const UID = /^[A-Za-z0-9_.@:-]{1,64}$/;
