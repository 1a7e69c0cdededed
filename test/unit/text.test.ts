import t from 'tap';
import { TokenVerifier, mintToken } from '../../src/auth/token.js';
import { validateSend } from '../../src/logic/validate.js';
import { encode } from '../../src/protocol/codec.js';
import { displayName, MAX_NAME_LENGTH } from '../../src/protocol/text.js';
import { isUtf8 } from 'node:buffer';

/** Whether msgpackr encodes `s` as valid UTF-8 (the bytes after the str header). */
function encodesAsUtf8(s: string): boolean {
  const b = encode(s);
  const header = b[0]! <= 0xbf ? 1 : b[0] === 0xd9 ? 2 : b[0] === 0xda ? 3 : 5;
  return isUtf8(b.subarray(header));
}

t.test('text - a name cut to its limit never splits a surrogate pair or an emoji sequence', async (t) => {
  const name = displayName('😀'.repeat(40), 'u1');
  t.equal([...name].length, MAX_NAME_LENGTH);
  t.ok(encodesAsUtf8(name), 'encodes as valid UTF-8');
  t.notOk(encodesAsUtf8('😀'.repeat(40).slice(0, 31)), 'what a plain cut gave');
  const family = displayName('a' + '👨‍👩‍👧'.repeat(12), 'u1');
  t.ok(encodesAsUtf8(family));
  t.ok(family.endsWith('👨‍👩‍👧'), 'cut between sequences');
});

t.test('text - names lose control, bidi and lone surrogate characters; an invisible name is the uid', async (t) => {
  t.equal(displayName('Bob\u0007\u202e', 'u1'), 'Bob');
  t.equal(displayName('  Ann  ', 'u1'), 'Ann');
  t.equal(displayName('x\ud800y', 'u1'), 'x\ufffdy');
  t.equal(displayName('\u200b\u200b', 'u1'), 'u1');
  t.equal(displayName('\u202e', 'u1'), 'u1');
  t.equal(displayName('', 'u1'), 'u1');
});

t.test('text - a token name of emoji gives a WELCOME name that is valid UTF-8', async (t) => {
  const secret = 'test-secret-0123456789abcdef';
  const id = new TokenVerifier(secret).verify(mintToken(secret, { uid: 'u1', name: '😀'.repeat(40) }));
  t.ok(encodesAsUtf8(id.name));
  const lone = new TokenVerifier(secret).verify(mintToken(secret, { uid: 'u1', name: 'a\udc00' }));
  t.equal(lone.name, 'a\ufffd');
});

t.test('text - texts with a lone surrogate or nothing visible are refused', async (t) => {
  t.throws(() => validateSend({ k: 1, x: 'a\ud800' }, { maxTextLength: 100 }), { name: 'ProtocolError', entry: { reason: 'bad_field' } });
  t.throws(() => validateSend({ k: 1, x: '\u200b\u2060' }, { maxTextLength: 100 }), { name: 'ProtocolError', entry: { reason: 'bad_field' } });
});

t.test('text - plain ASCII names pass as they are, up to the limit', async (t) => {
  t.equal(displayName('bob-1', 'u1'), 'bob-1');
  t.equal(displayName('a', 'u1'), 'a');
  t.equal(displayName('x'.repeat(32), 'u1'), 'x'.repeat(32));
  t.equal(displayName('x'.repeat(33), 'u1'), 'x'.repeat(32), 'longer ones are cut');
  t.equal(displayName(' bob', 'u1'), 'bob', 'edge spaces are trimmed');
});
