// Client message ids (SEND and MSG `id`): `<8 random characters>-<counter>`, the random part
// drawn once per client, so that a retry can reuse its id and two clients (tabs) of one user do
// not collide within the server's de-duplication window.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** 8 characters of [A-Za-z0-9], from crypto.getRandomValues where there is one. */
export function randomPrefix(length = 8): string {
  const bytes = new Uint8Array(length);
  const c = (globalThis as { crypto?: { getRandomValues?(a: Uint8Array): Uint8Array } }).crypto;
  if (c?.getRandomValues) c.getRandomValues(bytes);
  else for (let i = 0; i < length; i++) bytes[i] = Math.floor(Math.random() * 256);
  let out = '';
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return out;
}

/** Returns a function that hands out `<prefix>-1`, `<prefix>-2`, ... */
export function idGenerator(prefix = randomPrefix()): () => string {
  let n = 0;
  return () => `${prefix}-${++n}`;
}
