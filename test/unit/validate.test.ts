import t from 'tap';
import { validateSend } from '../../src/logic/validate.js';
import { Errors } from '../../src/protocol/errors.js';
import { Kind } from '../../src/protocol/kinds.js';

const limits = { maxTextLength: 10 };
const badField = { name: 'ProtocolError', entry: { reason: Errors.BadField.reason } };

t.test('validate - accepts each kind with defaults filled in', async (t) => {
  t.match(validateSend({ k: Kind.Danmaku, x: ' hi ', id: 'c1' }, limits), { cmid: 'c1', kind: { name: 'danmaku' }, fields: { k: 1, x: 'hi', c: 0xffffff, m: 0 } });
  t.same(validateSend({ k: Kind.Danmaku, x: 'hi', c: 0xff0000, m: 2 }, limits).fields, { k: 1, x: 'hi', c: 0xff0000, m: 2 });
  t.same(validateSend({ k: Kind.Like }, limits).fields, { k: 2, a: 1 });
  t.same(validateSend({ k: Kind.Gift, g: 'rocket', a: 3 }, limits).fields, { k: 3, g: 'rocket', a: 3 });
  t.same(validateSend({ k: Kind.Notice, x: 'welcome' }, limits).fields, { k: 4, x: 'welcome' });
});

t.test('validate - counts text length in characters, not UTF-16 units', async (t) => {
  t.ok(validateSend({ k: 1, x: '😀'.repeat(10) }, limits));
  t.throws(() => validateSend({ k: 1, x: 'a'.repeat(11) }, limits), badField);
});

t.test('validate - rejects every malformed body with bad_field', async (t) => {
  const bad: unknown[] = [
    null,
    'text',
    [1, 2],
    {},
    { k: 9 },
    { k: 1 },
    { k: 1, x: '' },
    { k: 1, x: '   ' },
    { k: 1, x: 5 },
    { k: 1, x: 'a\u0000b' },
    { k: 1, x: 'ok', c: -1 },
    { k: 1, x: 'ok', c: 0x1000000 },
    { k: 1, x: 'ok', c: 1.5 },
    { k: 1, x: 'ok', m: 3 },
    { k: 1, x: 'ok', id: '' },
    { k: 1, x: 'ok', id: 'has space' },
    { k: 1, x: 'ok', id: 'x'.repeat(65) },
    { k: 2, a: 0 },
    { k: 2, a: 1001 },
    { k: 3 },
    { k: 3, g: 'bad id!' },
    { k: 3, g: 'rocket', a: 10_000 },
  ];
  for (const body of bad) t.throws(() => validateSend(body, limits), badField, JSON.stringify(body));
});
