// The error catalogue: every error frame code and every close code the server uses.
// docs/protocol.md lists the same entries; test/unit/docs.test.ts fails when they drift apart.

export interface ErrorEntry {
  readonly code: number;
  readonly reason: string;
  readonly message: string;
}

/** Codes carried in ERROR frames (op 9). The connection stays open. */
export const Errors = {
  BadFrame: { code: 1, reason: 'bad_frame', message: 'frame is not a MessagePack array [op, rid, body]' },
  UnknownOp: { code: 2, reason: 'unknown_op', message: 'unknown op code' },
  BadField: { code: 3, reason: 'bad_field', message: 'missing or invalid field' },
  InvalidRoom: { code: 10, reason: 'invalid_room', message: 'room id must match ^[A-Za-z0-9_-]{1,64}$' },
  NotInRoom: { code: 11, reason: 'not_in_room', message: 'join a room before sending to it' },
  GuestCannotSend: { code: 12, reason: 'guest_cannot_send', message: 'guests may watch but not send; connect with a token' },
  Forbidden: { code: 13, reason: 'forbidden', message: 'your roles do not allow this' },
  NotMember: { code: 14, reason: 'not_member', message: 'no such group, or you are not a member of it' },
  Superseded: { code: 15, reason: 'superseded', message: 'a later JOIN, SWITCH or LEAVE on this connection replaced this request' },
  // moderation (docs/moderation.md): retryMs = the remaining ms of a timed mute or ban
  Banned: { code: 16, reason: 'banned', message: 'you are banned from this room' },
  ContentRejected: { code: 17, reason: 'content_rejected', message: 'the text contains words this server does not publish' },
  HeldForReview: { code: 18, reason: 'held_for_review', message: 'held for a moderator to review; published later if approved' },
  RateLimited: { code: 20, reason: 'rate_limited', message: 'you are sending too fast' },
  Flood: { code: 21, reason: 'flood', message: 'too many frames on this connection; frame ignored' },
  Muted: { code: 22, reason: 'muted', message: 'you are muted' },
  TokenRefused: { code: 23, reason: 'token_refused', message: 'REFRESH token invalid, expired or of another user; the connection keeps its old token' },
  Unavailable: { code: 30, reason: 'unavailable', message: 'the service did not answer in time; retry with the same id' },
  Internal: { code: 31, reason: 'internal', message: 'internal error; retry with the same id' },
  Overloaded: { code: 32, reason: 'overloaded', message: 'the server is shedding load and did not take this message; retry after retryMs with the same id' },
  OutOfRetention: { code: 40, reason: 'out_of_retention', message: 'some of the messages this cursor asks for are past retention' },
} as const satisfies Record<string, ErrorEntry>;
export type ErrorName = keyof typeof Errors;

/**
 * WebSocket close codes. 1000-1015 are the standard ones we use; 4000-4499 mean
 * "reconnect with backoff", 4500-4999 mean "do not reconnect until the cause is fixed".
 */
export const CloseCodes = {
  Normal: { code: 1000, reason: 'normal', message: 'closed by the client' },
  TextFrame: { code: 1003, reason: 'text_frame', message: 'text frames are not supported; send binary MessagePack' },
  TooLarge: { code: 1009, reason: 'frame_too_large', message: 'frame larger than the limit announced in WELCOME' },
  Restart: { code: 1012, reason: 'shutdown', message: 'server is shutting down; reconnect (to another gateway) with backoff' },
  Draining: { code: 1012, reason: 'draining', message: 'gateway draining; reconnect after the GOAWAY delay, preferably to another gateway' },
  IdleTimeout: { code: 4001, reason: 'idle_timeout', message: 'no frame received within the idle timeout; send PING' },
  SlowConsumer: { code: 4002, reason: 'slow_consumer', message: 'outbound buffer stayed over its limit' },
  Flood: { code: 4003, reason: 'flood_close', message: 'too many frames over the per-connection budget' },
  TokenInvalid: { code: 4501, reason: 'token_invalid', message: 'token missing a valid signature or claims' },
  TokenExpired: { code: 4502, reason: 'token_expired', message: 'token expired; get a new one' },
  GuestsDisabled: { code: 4503, reason: 'guests_disabled', message: 'this server requires a token' },
  TokenTooLarge: { code: 4504, reason: 'token_too_large', message: 'token longer than this server accepts' },
  UserConnections: { code: 4505, reason: 'too_many_connections', message: 'this user holds as many connections as this server allows; close one first' },
} as const satisfies Record<string, ErrorEntry>;
export type CloseName = keyof typeof CloseCodes;

/** Whether a client should reconnect after this close code. */
export function shouldReconnect(code: number): boolean {
  if (code >= 4500 && code <= 4999) return false;
  return code !== CloseCodes.TextFrame.code && code !== CloseCodes.TooLarge.code;
}

/** A failure with a catalogue entry; thrown by validation and logic, turned into an ERROR frame. */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
  readonly entry: ErrorEntry;
  /** the ERROR frame's retryMs (codes 16, 22: what remains of a timed ban or mute) */
  readonly retryMs: number | undefined;
  constructor(entry: ErrorEntry, detail?: string, options?: { cause?: unknown; retryMs?: number }) {
    super(detail ? `${entry.message}: ${detail}` : entry.message, options);
    this.entry = entry;
    this.retryMs = options?.retryMs;
  }
}

/** The retry hint of ERROR 32: about a second, spread so that refused clients do not return together. */
export function overloadRetryMs(): number {
  return 500 + Math.floor(Math.random() * 1000);
}

const BY_CODE = new Map<number, ErrorEntry>(Object.values(Errors).map((e) => [e.code, e]));

/** The catalogue entry of an error code received from another process. */
export function errorByCode(code: number): ErrorEntry {
  return BY_CODE.get(code) ?? Errors.Internal;
}
