// Who may open a WebSocket: decided once per upgrade request, before uWS upgrades it. In
// order: a draining gateway answers HTTP 503; then (to come) per-address limits; then the
// token decides the identity, or the close code of a connection that is refused.

import type * as uWS from 'uWebSockets.js';
import { guestIdentity, TokenError, type Identity, type TokenVerifier } from '../auth/token.js';
import { CloseCodes, type ErrorEntry } from '../protocol/errors.js';

export interface AdmissionOptions {
  readonly allowGuests: boolean;
  readonly maxTokenBytes: number;
}

/** What admission looks at, read from the request inside the upgrade handler (uWS frees it after). */
export interface UpgradeRequest {
  /** the `token` query parameter, else an `Authorization: Bearer` header; '' when neither */
  readonly token: string;
  /** the `since` query parameter: the inbox cursor of the connect push, or `latest` ('' when absent: no push) */
  readonly since: string;
}

export type Verdict =
  /** no WebSocket: answer the request with this HTTP status */
  | { readonly upgrade: false; readonly status: string; readonly body: string }
  /**
   * a WebSocket; `refuse` is the close code it gets right after opening (a refused token still
   * gets a WebSocket, so that a browser can read why: it cannot read a failed upgrade's status)
   */
  | { readonly upgrade: true; readonly identity: Identity; readonly refuse: ErrorEntry | null };

const DRAINING: Verdict = { upgrade: false, status: '503 Service Unavailable', body: 'draining: connect to another gateway\n' };

export function readUpgrade(req: uWS.HttpRequest): UpgradeRequest {
  const auth = req.getHeader('authorization');
  return { token: req.getQuery('token') || (auth.startsWith('Bearer ') ? auth.slice(7) : ''), since: req.getQuery('since') ?? '' };
}

export class Admission {
  private closed = false;

  constructor(
    private readonly verifier: TokenVerifier,
    private readonly opts: AdmissionOptions,
  ) {}

  /** From now on every upgrade is answered 503, so that clients go to another gateway. */
  drain(): void {
    this.closed = true;
  }

  get draining(): boolean {
    return this.closed;
  }

  admit(req: UpgradeRequest, connId: number): Verdict {
    if (this.closed) return DRAINING;
    // Per-address limits (connections per IP, upgrades per second) go here, answered with an
    // HTTP status before any token is verified; UpgradeRequest then carries the address.
    return { upgrade: true, ...identify(req.token, connId, this.verifier, this.opts) };
  }
}

/**
 * Who a new connection is: a verified token's identity, or a guest. `refuse` is the close code
 * for a bad, expired or too long token, or a guest when guests are not allowed.
 */
function identify(token: string, connId: number, verifier: TokenVerifier, opts: AdmissionOptions): { identity: Identity; refuse: ErrorEntry | null } {
  if (!token) return { identity: guestIdentity(connId), refuse: opts.allowGuests ? null : CloseCodes.GuestsDisabled };
  if (Buffer.byteLength(token) > opts.maxTokenBytes) return { identity: guestIdentity(connId), refuse: CloseCodes.TokenTooLarge };
  try {
    return { identity: verifier.verify(token), refuse: null };
  } catch (err) {
    return { identity: guestIdentity(connId), refuse: err instanceof TokenError && err.expired ? CloseCodes.TokenExpired : CloseCodes.TokenInvalid };
  }
}
