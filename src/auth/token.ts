// Connection tokens: HS256 JWTs signed with the configured secret. fast-jwt verifies them
// synchronously, so the uWS upgrade handler answers in the same tick (no async upgrade).
// Claims: sub = uid, name (optional display name), roles (optional string array).
// An identity is kept for the life of its connection, so it holds only flat strings of its
// own (never a slice of the token or of its JSON) and a roles array shared by every identity
// with the same roles (roles.ts).

import { createSigner, createVerifier, TokenError as JwtError } from 'fast-jwt';
import { UID } from '../protocol/ops.js';
import { displayName, hasLoneSurrogate } from '../protocol/text.js';
import { NO_ROLES, RoleSets } from './roles.js';

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
  private readonly roleSets = new RoleSets();

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
    const name = typeof payload.name === 'string' ? nameOf(payload.name, uid) : uid;
    // Roles are only compared with known names; one that could not be one is left out.
    const roles = Array.isArray(payload.roles) ? this.roleSets.intern(payload.roles.filter((r): r is string => typeof r === 'string' && r.length <= 64 && !hasLoneSurrogate(r))) : NO_ROLES;
    return { uid, name, roles, guest: false };
  }
}

/**
 * The display name to keep for the connection's life: one equal to the uid (a common default)
 * is the uid's own string, not a second copy; a cleaned name is copied flat, because it may be
 * a slice of the claim (trim()) or a chain of pieces (a name cut at a grapheme boundary), each
 * holding more than its own characters. A name cleaning left as it was is JSON.parse's own
 * flat string already.
 */
function nameOf(raw: string, uid: string): string {
  const name = displayName(raw, uid);
  if (name === uid) return uid;
  return name === raw ? raw : Buffer.from(name, 'utf16le').toString('utf16le');
}

export function guestIdentity(connId: number): Identity {
  return { uid: `guest-${connId}`, name: 'guest', roles: NO_ROLES, guest: true };
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
