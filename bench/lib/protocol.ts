// The few protocol facts the load generator needs, kept apart from src/ so that the harness
// drives any deployment through the public protocol only (docs/protocol.md).

export const Op = { Ping: 1, Pong: 2, Welcome: 3, Error: 9, Join: 10, Joined: 11, Switch: 12, Send: 20, Ack: 21, Msg: 22, Batch: 30, Online: 31, Message: 32 } as const;
export const Kind = { Danmaku: 1, Like: 2, Gift: 3, Notice: 4 } as const;

/** Close codes a run may see (docs/protocol.md, "Close codes"), named in the summary. */
export const CLOSE_NAMES: Readonly<Record<number, string>> = {
  1000: 'normal',
  1003: 'text_frame',
  1005: 'no_status',
  1006: 'abnormal',
  1009: 'frame_too_large',
  1012: 'shutdown',
  4001: 'idle_timeout',
  4002: 'slow_consumer',
  4003: 'flood_close',
};

/** A typical danmaku: about 15 characters, as on video sites. */
export const TYPICAL_TEXT = '主播好厉害！！666 awesome';
