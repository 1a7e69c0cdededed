import t from 'tap';
import { NO_ROLES, RoleSets } from '../../src/auth/roles.js';
import { guestIdentity, mintToken, TokenVerifier } from '../../src/auth/token.js';
import { displayName } from '../../src/protocol/text.js';

const secret = 'test-secret-0123456789abcdef';
const verify = (v: TokenVerifier, claims: Parameters<typeof mintToken>[1]) => v.verify(mintToken(secret, claims));

t.test('identity - identities with the same roles share one frozen array', async (t) => {
  const v = new TokenVerifier(secret);
  const a = verify(v, { uid: 'a', roles: ['moderator', 'vip'] });
  const b = verify(v, { uid: 'b', roles: ['moderator', 'vip'] });
  const c = verify(v, { uid: 'c', roles: ['vip', 'moderator'] });
  t.same(a.roles, ['moderator', 'vip']);
  t.equal(a.roles, b.roles, 'the same array');
  t.not(a.roles, c.roles, 'another order is another set');
  t.same(c.roles, ['vip', 'moderator'], 'order kept as the token gives it');
  t.ok(Object.isFrozen(a.roles));
  t.throws(() => (a.roles as string[]).push('admin'), TypeError, 'nobody can change the shared set');
});

t.test('identity - no roles, and roles that are all filtered out, are the shared empty set', async (t) => {
  const v = new TokenVerifier(secret);
  t.equal(verify(v, { uid: 'a' }).roles, NO_ROLES);
  t.equal(verify(v, { uid: 'b', roles: ['x'.repeat(65)] }).roles, NO_ROLES, 'too long to be a role');
  t.equal(guestIdentity(1).roles, NO_ROLES);
  t.equal(guestIdentity(2).roles, NO_ROLES);
  t.same(verify(v, { uid: 'c', roles: ['ok', 'a\ud800'] }).roles, ['ok'], 'a role with a lone surrogate is left out, the rest kept');
});

t.test('identity - a role set cache stops growing at its bound and still answers', async (t) => {
  const sets = new RoleSets(2);
  const a = sets.intern(['a']);
  sets.intern(['b']);
  const c1 = sets.intern(['c']);
  const c2 = sets.intern(['c']);
  t.equal(sets.size, 2);
  t.same(c1, ['c']);
  t.ok(Object.isFrozen(c1));
  t.not(c1, c2, 'past the bound each gets its own');
  t.equal(sets.intern(['a']), a, 'the kept ones are still shared');
  const input = ['d'];
  const d = sets.intern(input);
  input.push('e');
  t.same(d, ['d'], 'a copy: the caller changing its array changes nothing');
});

t.test('identity - the name: the uid when equal to it or absent, cleaned otherwise, as before', async (t) => {
  const v = new TokenVerifier(secret);
  t.equal(verify(v, { uid: 'u1', name: 'u1' }).name, 'u1');
  t.equal(verify(v, { uid: 'u1' }).name, 'u1');
  t.equal(verify(v, { uid: 'u1', name: '  Ann  ' }).name, 'Ann');
  const long = 'u'.repeat(40);
  t.equal(verify(v, { uid: long, name: long }).name, displayName(long, long), 'a name equal to a long uid is still cut');
  t.equal(verify(v, { uid: long, name: long }).name.length, 32);
  t.equal(verify(v, { uid: long }).uid, long);
  const emoji = '😀'.repeat(40);
  t.equal(verify(v, { uid: 'u1', name: emoji }).name, displayName(emoji, 'u1'), 'cut at a grapheme boundary');
  t.equal(verify(v, { uid: 'u1', name: '\u200b' }).name, 'u1', 'nothing visible: the uid');
});
