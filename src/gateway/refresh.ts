// REFRESH (op 6): a connection replaces its token before the old one expires, so that the
// sweep does not close it with 4502 (sweep.ts). The new token is verified as at the upgrade and
// must name the same user (the connection is registered under its uid: LocalUsers, registry);
// then its name, roles and exp replace the old ones. Anything else is ERROR 23 and the
// connection keeps the identity it had.

import { TokenError, type Identity, type TokenVerifier } from '../auth/token.js';
import type { TokenRefreshResult } from '../metric-labels.js';
import { Errors, ProtocolError } from '../protocol/errors.js';

/**
 * Frame-budget tokens a REFRESH costs beyond its own: an HMAC over up to MAX_TOKEN_BYTES is a
 * few microseconds, but nothing needs more than one refresh per token lifetime, so a client
 * cannot make the gateway verify tokens at its full frame rate.
 */
export const REFRESH_EXTRA_FRAMES = 4;

/**
 * Whether a frame over MAX_FRAME_BYTES may be a REFRESH (MessagePack fixarray of 3, op 6): it
 * may be as long as MAX_FRAME_BYTES + MAX_TOKEN_BYTES, so that a token of the longest size the
 * upgrade accepts also fits in a REFRESH. Read before decoding: one look at two bytes.
 */
export function mayBeRefresh(bytes: Uint8Array, maxFrameBytes: number, maxTokenBytes: number): boolean {
  return bytes.byteLength <= maxFrameBytes + maxTokenBytes && bytes[0] === 0x93 && bytes[1] === 6;
}

export type RefreshOutcome = { readonly result: 'ok'; readonly identity: Identity } | { readonly result: Exclude<TokenRefreshResult, 'ok'>; readonly error: ProtocolError };

/** Checks a REFRESH body for the connection of `current`; throws ProtocolError for a body that is not `{token: str}`. */
export function refreshIdentity(body: unknown, current: Identity, verifier: TokenVerifier, maxTokenBytes: number): RefreshOutcome {
  const token = body !== null && typeof body === 'object' ? (body as Record<string, unknown>).token : undefined;
  if (typeof token !== 'string' || token === '') throw new ProtocolError(Errors.BadField, 'token must be a non-empty string');
  if (current.guest) return refused('invalid', 'a guest connection has no token to refresh; connect with a token');
  if (Buffer.byteLength(token) > maxTokenBytes) return refused('invalid', 'token longer than this server accepts');
  let identity: Identity;
  try {
    identity = verifier.verify(token);
  } catch (err) {
    const expired = err instanceof TokenError && err.expired;
    return refused(expired ? 'expired' : 'invalid', expired ? 'token expired' : 'token invalid');
  }
  if (identity.uid !== current.uid) return refused('other_user', 'the token is for another user (sub)');
  return { result: 'ok', identity };
}

function refused(result: Exclude<TokenRefreshResult, 'ok'>, detail: string): RefreshOutcome {
  return { result, error: new ProtocolError(Errors.TokenRefused, detail) };
}

/** REFRESHED's body: the connection's new exp (absent: none), name and roles. */
export function refreshedBody(identity: Identity): Record<string, unknown> {
  const body: Record<string, unknown> = { name: identity.name, roles: identity.roles };
  if (identity.exp !== undefined) body.exp = identity.exp;
  return body;
}
