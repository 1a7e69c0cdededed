// Settings of the tests that fill a slow member's send buffer: long danmaku in big frames
// (the kernel takes about 4 MB first), and no display cap, rate limit or frame budget that
// would stop a sender before the buffer is over its limit.

export const FLOOD_ROOM: Readonly<Record<string, string>> = {
  MAX_TEXT_LENGTH: '2000',
  MAX_FRAME_BYTES: '32768',
  ROOM_DISPLAY_CAP: '1000000',
  USER_MESSAGE_RATE: '100000',
  USER_MESSAGE_BURST: '100000',
  CONN_FRAME_RATE: '100000',
  CONN_FRAME_BURST: '100000',
};
