// Connection tokens: HS256 JWTs signed with the configured secret. fast-jwt verifies them
// synchronously, so the uWS upgrade handler answers in the same tick (no async upgrade).
// Claims: sub = uid, name (optional display name), roles (optional string array).

import { createSigner, createVerifier, TokenError as JwtError } from 'fast-jwt';
import { UID } from '../protocol/ops.js';
import { displayName, hasLoneSurrogate } from '../protocol/text.js';

export interface Identity {
  readonly uid: string;
  readonly name: string;
  readonly roles: readonly string[];
  readonly guest: boolean;
}

export class TokenError extends Error {
  override name = 'TokenError';
  constructor(
    message: string,
    readonly expired: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class TokenVerifier {
  private readonly verifier: (token: string) => Record<string, unknown>;

  constructor(secret: string) {
    this.verifier = createVerifier({ key: secret, algorithms: ['HS256'] });
  }

  /** Verifies a token; throws TokenError. */
  verify(token: string): Identity {
    let payload: Record<string, unknown>;
    try {
      payload = this.verifier(token);
    } catch (err) {
      const expired = err instanceof JwtError && err.code === JwtError.codes.expired;
      throw new TokenError(expired ? 'token expired' : 'token invalid', expired, { cause: err });
    }
    const uid = payload.sub;
    if (typeof uid !== 'string' || !UID.test(uid)) throw new TokenError('token sub (uid) missing or invalid', false);
    const name = typeof payload.name === 'string' ? displayName(payload.name, uid) : uid;
    // Roles are only compared with known names; one that could not be one is left out.
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string' && r.length <= 64 && !hasLoneSurrogate(r)) : [];
    return { uid, name, roles, guest: false };
  }
}

export function guestIdentity(connId: number): Identity {
  return { uid: `guest-${connId}`, name: 'guest', roles: [], guest: true };
}

export interface MintOptions {
  uid: string;
  name?: string;
  roles?: string[];
  /** lifetime in seconds (default one day) */
  ttlSeconds?: number;
}

export function mintToken(secret: string, opts: MintOptions): string {
  if (!UID.test(opts.uid)) throw new TokenError(`uid must match ${UID}`, false);
  const claims: Record<string, unknown> = { sub: opts.uid };
  if (opts.name) claims.name = opts.name;
  if (opts.roles && opts.roles.length > 0) claims.roles = opts.roles;
  const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: (opts.ttlSeconds ?? 86_400) * 1000 });
  return sign(claims);
}
