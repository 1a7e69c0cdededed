// What the client does after its connection closed, by close code (docs/protocol.md, "Close
// codes"): reconnect with backoff; after a refused token, reconnect only when the token is a
// function that can give a new one; otherwise stop ('failed').

export type CloseAction = 'reconnect' | 'fail';

const TEXT_FRAME = 1003;
const TOO_LARGE = 1009;
const TOKEN_INVALID = 4501;
const TOKEN_EXPIRED = 4502;

/**
 * shouldReconnect() of src/protocol/errors.ts, which cannot be imported here: that module builds
 * a lookup table when loaded (a top-level side effect the bundle would carry).
 * test/unit/sdk-close-codes.test.ts checks that both agree on every code.
 */
export function shouldReconnect(code: number): boolean {
  if (code >= 4500 && code <= 4999) return false;
  return code !== TEXT_FRAME && code !== TOO_LARGE;
}

/**
 * `code` undefined: the client dropped the connection itself (no WELCOME, heartbeat timeout).
 * 4505 `too_many_connections` (the user holds MAX_CONNECTIONS_PER_USER connections on that
 * gateway) fails like the other 45xx codes: reconnecting would only be refused again.
 */
export function closeAction(code: number | undefined, tokenIsFunction: boolean): CloseAction {
  if (code === undefined) return 'reconnect';
  if (code === TOKEN_INVALID || code === TOKEN_EXPIRED) return tokenIsFunction ? 'reconnect' : 'fail';
  return shouldReconnect(code) ? 'reconnect' : 'fail';
}
