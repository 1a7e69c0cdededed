// Verification keys with ids (TOKEN_KEYS): `kid=secret,kid2=secret2`. A token whose header
// names a `kid` is verified with that key only; one without a `kid` with TOKEN_SECRET. Key
// rotation: add the new kid, issue tokens with it, remove the old kid once every token signed
// with it has expired (docs/protocol.md, "Tokens"). No dependencies: config.ts and the CLI read it.

/** A key id: what a JWT header's `kid` must be to name one of ours. */
export const KID = /^[A-Za-z0-9_.-]{1,64}$/;
/** The shortest secret accepted (as for TOKEN_SECRET). */
export const MIN_SECRET_LENGTH = 16;

/** Parses TOKEN_KEYS; throws an Error whose message names the bad entry (never its secret). */
export function parseTokenKeys(raw: string): ReadonlyMap<string, string> {
  const keys = new Map<string, string>();
  for (const part of raw.split(',')) {
    const entry = part.trim();
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    const kid = eq < 0 ? entry : entry.slice(0, eq).trim();
    if (eq < 0 || !KID.test(kid)) throw new Error(`TOKEN_KEYS: each entry must be kid=secret with kid matching ${KID}, got ${JSON.stringify(kid)}`);
    const secret = entry.slice(eq + 1).trim();
    if (secret.length < MIN_SECRET_LENGTH) throw new Error(`TOKEN_KEYS: the secret of ${kid} must be at least ${MIN_SECRET_LENGTH} characters`);
    if (keys.has(kid)) throw new Error(`TOKEN_KEYS: ${kid} is given twice`);
    keys.set(kid, secret);
  }
  return keys;
}
