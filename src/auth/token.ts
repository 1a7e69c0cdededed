// Connection tokens: HS256 JWTs signed with the configured secret. fast-jwt verifies them
// synchronously, so the uWS upgrade handler answers in the same tick (no async upgrade).
// Claims: sub = uid, name (optional display name), roles (optional string array), exp (kept
// in the identity: the gateway closes the connection with 4502 when it passes, unless a REFRESH
// brought a later one). Keys: a token whose header has a `kid` is verified with that key of
// TOKEN_KEYS only (keys.ts), one without with TOKEN_SECRET; the header is decoded first and a
// verifier built at start is picked by kid, so verification stays synchronous (fast-jwt's
// function `key` would make it async). `aud` and `iss` are checked when configured.
// An identity is kept for the life of its connection, so it holds only flat strings of its
// own (never a slice of the token or of its JSON) and a roles array shared by every identity
// with the same roles (roles.ts).

import { createDecoder, createSigner, createVerifier, TokenError as JwtError } from 'fast-jwt';
import { UID } from '../protocol/ops.js';
import { displayName, hasLoneSurrogate } from '../protocol/text.js';
import { NO_ROLES, RoleSets } from './roles.js';

export interface Identity {
  readonly uid: string;
  readonly name: string;
  readonly roles: readonly string[];
  readonly guest: boolean;
  /** the token's `exp` (seconds since the epoch); absent for guests and tokens without one */
  readonly exp?: number;
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

export interface VerifierOptions {
  /** verifies tokens without a `kid` */
  readonly secret: string;
  /** kid -> secret (TOKEN_KEYS): a token with a `kid` is verified with that key only */
  readonly keys?: ReadonlyMap<string, string>;
  /** the `aud` a token must carry (one of its values); empty or absent: not checked */
  readonly audience?: string;
  /** the `iss` a token must carry; empty or absent: not checked */
  readonly issuer?: string;
}

type Verify = (token: string) => Record<string, unknown>;

export class TokenVerifier {
  private readonly verifier: Verify;
  private readonly byKid = new Map<string, Verify>();
  private readonly header = createDecoder({ complete: true }) as (token: string) => { header: Record<string, unknown> };
  private readonly roleSets = new RoleSets();

  constructor(opts: VerifierOptions | string) {
    const o: VerifierOptions = typeof opts === 'string' ? { secret: opts } : opts;
    // fast-jwt checks aud/iss only when the token has them: a configured one is also required.
    const required = [...(o.audience ? ['aud'] : []), ...(o.issuer ? ['iss'] : [])];
    const checks = { algorithms: ['HS256'] as ['HS256'], requiredClaims: required, ...(o.audience ? { allowedAud: o.audience } : {}), ...(o.issuer ? { allowedIss: o.issuer } : {}) };
    this.verifier = createVerifier({ key: o.secret, ...checks });
    for (const [kid, secret] of o.keys ?? []) this.byKid.set(kid, createVerifier({ key: secret, ...checks }));
  }

  /** Verifies a token; throws TokenError (`expired` set when it is only its exp that failed). */
  verify(token: string): Identity {
    let payload: Record<string, unknown>;
    try {
      payload = this.pick(token)(token);
    } catch (err) {
      if (err instanceof TokenError) throw err;
      const expired = err instanceof JwtError && err.code === JwtError.codes.expired;
      throw new TokenError(expired ? 'token expired' : 'token invalid', expired, { cause: err });
    }
    const uid = payload.sub;
    if (typeof uid !== 'string' || !UID.test(uid)) throw new TokenError('token sub (uid) missing or invalid', false);
    const name = typeof payload.name === 'string' ? nameOf(payload.name, uid) : uid;
    // Roles are only compared with known names; one that could not be one is left out.
    const roles = Array.isArray(payload.roles) ? this.roleSets.intern(payload.roles.filter((r): r is string => typeof r === 'string' && r.length <= 64 && !hasLoneSurrogate(r))) : NO_ROLES;
    return typeof payload.exp === 'number' && Number.isFinite(payload.exp) ? { uid, name, roles, guest: false, exp: payload.exp } : { uid, name, roles, guest: false };
  }

  /** The verifier for the token's `kid` (none: TOKEN_SECRET's); an unknown kid is an invalid token. */
  private pick(token: string): Verify {
    const { header } = this.header(token);
    const kid = header.kid;
    if (kid === undefined) return this.verifier;
    const v = typeof kid === 'string' ? this.byKid.get(kid) : undefined;
    if (!v) throw new TokenError('token kid unknown', false);
    return v;
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
  /** the key id put in the header: `secret` must then be that key of TOKEN_KEYS */
  kid?: string;
  aud?: string;
  iss?: string;
}

export function mintToken(secret: string, opts: MintOptions): string {
  if (!UID.test(opts.uid)) throw new TokenError(`uid must match ${UID}`, false);
  const claims: Record<string, unknown> = { sub: opts.uid };
  if (opts.name) claims.name = opts.name;
  if (opts.roles && opts.roles.length > 0) claims.roles = opts.roles;
  if (opts.aud) claims.aud = opts.aud;
  if (opts.iss) claims.iss = opts.iss;
  const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: (opts.ttlSeconds ?? 86_400) * 1000, ...(opts.kid ? { kid: opts.kid } : {}) });
  return sign(claims);
}
