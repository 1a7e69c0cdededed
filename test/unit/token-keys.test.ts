import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createSigner } from 'fast-jwt';
import { parseTokenKeys } from '../../src/auth/keys.js';
import { guestIdentity, mintToken, TokenError, TokenVerifier } from '../../src/auth/token.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { mayBeRefresh, refreshedBody, refreshIdentity } from '../../src/gateway/refresh.js';
import { encodeFrame } from '../../src/protocol/codec.js';
import { Errors, ProtocolError } from '../../src/protocol/errors.js';
import { Op } from '../../src/protocol/ops.js';

const secret = 'default-secret-0123456789';
const keyA = 'key-a-secret-0123456789';
const keyB = 'key-b-secret-0123456789';
const keys = new Map([
  ['a', keyA],
  ['b', keyB],
]);

function refused(v: TokenVerifier, token: string): TokenError {
  try {
    v.verify(token);
  } catch (err) {
    if (err instanceof TokenError) return err;
    throw err;
  }
  throw new Error('accepted');
}

t.test('token keys - TOKEN_KEYS parses kid=secret pairs and refuses bad ones', async (t) => {
  t.same([...parseTokenKeys('')], []);
  t.same([...parseTokenKeys(` a=${keyA} , b.2=${keyB},`)], [['a', keyA], ['b.2', keyB]]);
  t.same(parseTokenKeys(`k=${keyA}=x`).get('k'), `${keyA}=x`, 'an = in the secret is kept');
  t.throws(() => parseTokenKeys('a'), /kid=secret/);
  t.throws(() => parseTokenKeys(`a b=${keyA}`), /kid=secret/);
  t.throws(() => parseTokenKeys('a=short'), /at least 16/);
  t.throws(() => parseTokenKeys(`a=${keyA},a=${keyB}`), /twice/);
  t.notMatch(String((() => { try { parseTokenKeys('a=short'); } catch (e) { return e; } })()), /short/, 'the secret is not in the message');
  const c = loadConfig({ TOKEN_KEYS: `a=${keyA},b=${keyB}`, TOKEN_AUDIENCE: 'live', TOKEN_ISSUER: 'me' });
  t.same([...c.tokenKeys.keys()], ['a', 'b']);
  t.equal(c.tokenAudience, 'live');
  t.equal(c.tokenIssuer, 'me');
  t.equal(c.tokenExpiryClose, true);
  t.equal(c.tokenExpiryGraceMs, 0);
  t.equal(loadConfig({ TOKEN_EXPIRY_CLOSE: 'false', TOKEN_EXPIRY_GRACE_MS: '5000' }).tokenExpiryGraceMs, 5000);
  t.throws(() => loadConfig({ TOKEN_KEYS: 'a=short' }), ConfigError);
  const dir = mkdtempSync(join(tmpdir(), 'token-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'keys'), `a=${keyA},b=${keyB}\n`);
  t.same([...loadConfig({ TOKEN_KEYS_FILE: join(dir, 'keys') }).tokenKeys], [['a', keyA], ['b', keyB]], 'TOKEN_KEYS_FILE');
});

t.test('token keys - two keys live: each kid verified with its own key, no kid with TOKEN_SECRET', async (t) => {
  const v = new TokenVerifier({ secret, keys });
  t.equal(v.verify(mintToken(keyA, { uid: 'ua', kid: 'a' })).uid, 'ua');
  t.equal(v.verify(mintToken(keyB, { uid: 'ub', kid: 'b' })).uid, 'ub');
  t.equal(v.verify(mintToken(secret, { uid: 'u0' })).uid, 'u0', 'no kid: TOKEN_SECRET');
  t.notOk(refused(v, mintToken(keyA, { uid: 'x', kid: 'b' })).expired, 'kid b with key a: invalid (only b is tried)');
  t.notOk(refused(v, mintToken(keyA, { uid: 'x' })).expired, 'key a without kid: invalid (TOKEN_SECRET only)');
  t.notOk(refused(v, mintToken(secret, { uid: 'x', kid: 'b' })).expired, 'TOKEN_SECRET with a kid: invalid');
});

t.test('token keys - an unknown kid is invalid, also without TOKEN_KEYS; a non-string kid too', async (t) => {
  const v = new TokenVerifier({ secret, keys });
  t.match(refused(v, mintToken(secret, { uid: 'x', kid: 'c' })), { expired: false, message: /kid unknown/ });
  t.match(refused(new TokenVerifier(secret), mintToken(secret, { uid: 'x', kid: 'a' })), { expired: false });
  const odd = createSigner({ key: secret, algorithm: 'HS256', header: { kid: 5 } as never })({ sub: 'x' });
  t.match(refused(v, odd), { expired: false });
  t.match(refused(v, 'not a jwt'), { expired: false, message: 'token invalid' });
});

t.test('token keys - expired per kid, and exp kept in the identity', async (t) => {
  const v = new TokenVerifier({ secret, keys });
  const exp = createSigner({ key: keyA, algorithm: 'HS256', kid: 'a' })({ sub: 'x', exp: Math.floor(Date.now() / 1000) - 10 });
  t.ok(refused(v, exp).expired, 'an expired kid token is expired (4502), not invalid');
  const id = v.verify(mintToken(keyB, { uid: 'x', kid: 'b', ttlSeconds: 60 }));
  t.ok(id.exp! >= Math.floor(Date.now() / 1000) + 59 && id.exp! <= Math.floor(Date.now() / 1000) + 61);
  const noExp = createSigner({ key: secret, algorithm: 'HS256' })({ sub: 'x' });
  t.equal(v.verify(noExp).exp, undefined);
  t.notOk('exp' in v.verify(noExp), 'no exp key at all');
  t.equal(guestIdentity(1).exp, undefined);
});

t.test('token keys - TOKEN_AUDIENCE and TOKEN_ISSUER are checked when set', async (t) => {
  const v = new TokenVerifier({ secret, keys, audience: 'live', issuer: 'auth.example' });
  t.equal(v.verify(mintToken(keyA, { uid: 'x', kid: 'a', aud: 'live', iss: 'auth.example' })).uid, 'x');
  t.equal(v.verify(mintToken(secret, { uid: 'x', aud: 'live', iss: 'auth.example' })).uid, 'x');
  const both = createSigner({ key: secret, algorithm: 'HS256' })({ sub: 'x', aud: ['other', 'live'], iss: 'auth.example' });
  t.equal(v.verify(both).uid, 'x', 'aud as an array containing it');
  t.match(refused(v, mintToken(secret, { uid: 'x', iss: 'auth.example' })), { expired: false }, 'no aud');
  t.match(refused(v, mintToken(secret, { uid: 'x', aud: 'vod', iss: 'auth.example' })), { expired: false }, 'other aud');
  t.match(refused(v, mintToken(keyA, { uid: 'x', kid: 'a', aud: 'live', iss: 'evil' })), { expired: false }, 'other iss');
  t.match(refused(v, mintToken(secret, { uid: 'x', aud: 'live' })), { expired: false }, 'no iss');
  const loose = new TokenVerifier({ secret, audience: '', issuer: '' });
  t.equal(loose.verify(mintToken(secret, { uid: 'x', aud: 'anything', iss: 'anyone' })).uid, 'x', 'not set: not checked');
});

t.test('token keys - REFRESH: same sub replaces the identity; another sub, bad or expired tokens are ERROR 23', async (t) => {
  const v = new TokenVerifier({ secret, keys });
  const current = v.verify(mintToken(keyA, { uid: 'alice', name: 'Alice', kid: 'a', ttlSeconds: 10 }));
  const ok = refreshIdentity({ token: mintToken(keyB, { uid: 'alice', name: 'Alicia', roles: ['vip'], kid: 'b', ttlSeconds: 3600 }) }, current, v, 4096);
  t.equal(ok.result, 'ok');
  if (ok.result !== 'ok') return;
  t.equal(ok.identity.name, 'Alicia');
  t.same(ok.identity.roles, ['vip']);
  t.ok(ok.identity.exp! > current.exp!);
  t.same(refreshedBody(ok.identity), { name: 'Alicia', roles: ['vip'], exp: ok.identity.exp });
  const other = refreshIdentity({ token: mintToken(keyA, { uid: 'bob', kid: 'a' }) }, current, v, 4096);
  t.equal(other.result, 'other_user');
  t.match(other, { error: { entry: Errors.TokenRefused } });
  t.equal(refreshIdentity({ token: mintToken(keyA, { uid: 'alice', kid: 'zzz' }) }, current, v, 4096).result, 'invalid', 'unknown kid');
  const expired = createSigner({ key: keyA, algorithm: 'HS256', kid: 'a' })({ sub: 'alice', exp: Math.floor(Date.now() / 1000) - 1 });
  t.equal(refreshIdentity({ token: expired }, current, v, 4096).result, 'expired');
  t.equal(refreshIdentity({ token: mintToken(keyA, { uid: 'alice', kid: 'a', name: 'x'.repeat(300) }) }, current, v, 256).result, 'invalid', 'over MAX_TOKEN_BYTES');
  t.equal(refreshIdentity({ token: mintToken(secret, { uid: 'guest-1' }) }, guestIdentity(1), v, 4096).result, 'invalid', 'a guest cannot refresh');
  for (const body of [null, {}, { token: 5 }, { token: '' }, 'tok']) {
    t.throws(() => refreshIdentity(body, current, v, 4096), ProtocolError, `bad body ${JSON.stringify(body)}: ERROR 3`);
  }
  t.same(refreshedBody(guestIdentity(2)), { name: 'guest', roles: [] }, 'no exp: none in REFRESHED');
});

t.test('token keys - a REFRESH frame may exceed MAX_FRAME_BYTES by MAX_TOKEN_BYTES; other ops may not', async (t) => {
  const token = 'x'.repeat(4096);
  const refresh = encodeFrame(Op.Refresh, 7, { token });
  t.ok(refresh.byteLength > 4096);
  t.ok(mayBeRefresh(refresh, 4096, 4096));
  t.notOk(mayBeRefresh(encodeFrame(Op.Refresh, 7, { token: 'x'.repeat(8200) }), 4096, 4096), 'longer than both together');
  t.notOk(mayBeRefresh(encodeFrame(Op.Send, 7, { x: token }), 4096, 4096));
  t.notOk(mayBeRefresh(encodeFrame(Op.Ping, 7, { token }), 4096, 4096));
});
