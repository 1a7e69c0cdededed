// The chat reads' bodies (SYNC, HISTORY, CONTACTS, READ): what is accepted, and that everything
// else is ERROR 3 naming the field, never a clamp or a silent default.

import t, { type Test } from 'tap';
import { Errors, ProtocolError } from '../../src/protocol/errors.js';
import { refOf } from '../../src/logic/chat-reads.js';
import { validateContacts, validateHistory, validateMessage, validateRead, validateSync } from '../../src/logic/validate.js';

function refused(t: Test, f: () => unknown, field: string): void {
  let caught: unknown = null;
  try {
    f();
  } catch (err) {
    caught = err;
  }
  t.ok(caught instanceof ProtocolError && caught.entry === Errors.BadField && caught.message.includes(field), `refused, naming ${field}: ${String(caught)}`);
}

t.test('SYNC: cursor optional, limit 1-200 (default 200), nil body allowed', async (t) => {
  t.same(validateSync(null), { cursor: undefined, limit: 200 });
  t.same(validateSync({ cursor: 0 }), { cursor: 0, limit: 200 });
  t.same(validateSync({ cursor: 1767225600123, limit: 50 }), { cursor: 1767225600123, limit: 50 });
  t.same(validateSync({ cursor: 5.0, limit: 1 }), { cursor: 5, limit: 1 }, 'an integral float is that integer');
  for (const cursor of [-1, 1.5, '5', Number.MAX_SAFE_INTEGER + 1, true, null, NaN]) refused(t, () => validateSync({ cursor }), 'cursor');
  for (const limit of [0, 201, 1e9, -5, 2.5, '10']) refused(t, () => validateSync({ limit }), 'limit');
  refused(t, () => validateSync([1, 2]), 'body');
});

t.test('HISTORY: exactly one of g and to; before >= 1; limit 1-20', async (t) => {
  t.same(validateHistory({ g: 'team' }), { conv: { g: 'team' }, before: undefined, limit: 20 });
  t.same(validateHistory({ to: 'bob', before: 7, limit: 5 }), { conv: { to: 'bob' }, before: 7, limit: 5 });
  refused(t, () => validateHistory({}), 'exactly one');
  refused(t, () => validateHistory({ g: 'a', to: 'b' }), 'exactly one');
  refused(t, () => validateHistory({ g: 'no.dots' }), 'g');
  refused(t, () => validateHistory({ to: 'has space' }), 'to');
  for (const before of [0, -3, 1.5, 'x']) refused(t, () => validateHistory({ g: 'a', before }), 'before');
  refused(t, () => validateHistory({ g: 'a', limit: 21 }), 'limit');
  refused(t, () => validateHistory(null), 'body');
});

t.test('CONTACTS: limit 1-100; READ: s required, 0 to 2^53-1', async (t) => {
  t.same(validateContacts(undefined), { limit: 100 });
  t.same(validateContacts({ limit: 3 }), { limit: 3 });
  refused(t, () => validateContacts({ limit: 101 }), 'limit');
  t.same(validateRead({ g: 'a', s: 0 }), { conv: { g: 'a' }, s: 0 });
  t.same(validateRead({ to: 'bob', s: 12 }), { conv: { to: 'bob' }, s: 12 });
  refused(t, () => validateRead({ g: 'a' }), 's is required');
  for (const s of [-1, 0.5, '3', 2 ** 60]) refused(t, () => validateRead({ g: 'a', s }), 's');
});

t.test("the server notices: {to: ''} for HISTORY and READ, never for MSG", async (t) => {
  t.same(validateHistory({ to: '' }), { conv: { to: '' }, before: undefined, limit: 20 });
  t.same(validateRead({ to: '', s: 3 }), { conv: { to: '' }, s: 3 });
  refused(t, () => validateMessage({ to: '', x: 'hi' }, { maxTextLength: 100 }), 'to');
  t.same(refOf('bob', 'notice:bob'), { to: '' }, 'a notice scope is the conversation {to: ""}');
  t.same(refOf('bob', 'dm:alice|bob'), { to: 'alice' });
});
