// The SDK's error classes: a request the server refused (RequestError, with the catalogue's
// code and reason), a client closed while something waited on it, and a deadline that passed.

/** The server answered a request with ERROR (docs/protocol.md, "Error codes"). */
export class RequestError extends Error {
  override name = 'RequestError';
  /** the catalogue code, e.g. 12 guest_cannot_send */
  readonly code: number;
  /** the code's stable name */
  readonly reason: string;
  /** ERROR 32: how long to wait before trying again; ERROR 16 and 22: what remains of a timed ban or mute (ms) */
  readonly retryMs?: number;

  constructor(code: number, reason: string, message: string, retryMs?: number) {
    super(message || reason);
    this.code = code;
    this.reason = reason;
    if (retryMs !== undefined) this.retryMs = retryMs;
  }
}

/** close() was called (or the server refused to let the client back in) before the request was answered. */
export class ClientClosedError extends Error {
  override name = 'ClientClosedError';
}

/** A request was not answered within sendDeadlineMs of the call (a SEND or MSG: it may or may not have been stored). */
export class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/**
 * A SEND that had gone out lost its room before its outcome was known (the application
 * switched or left the room while the ACK was lost or pending): it may or may not have been
 * stored. Retry with the same `id` in that room to learn which (an ACK `dup` if it was).
 */
export class OutcomeUnknownError extends Error {
  override name = 'OutcomeUnknownError';
  constructor(
    message: string,
    /** the SEND's client id */
    readonly id: string,
    /** the room it was meant for */
    readonly room: string,
  ) {
    super(message);
  }
}

/** The ERROR frame body as an error. */
export function requestError(body: Record<string, unknown>): RequestError {
  const retryMs = typeof body.retryMs === 'number' ? body.retryMs : undefined;
  return new RequestError(Number(body.code) || 0, String(body.reason ?? ''), String(body.message ?? ''), retryMs);
}
