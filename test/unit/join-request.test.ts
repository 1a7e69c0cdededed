import t from 'tap';
import { readJoin } from '../../src/gateway/join-request.js';
import { ProtocolError } from '../../src/protocol/errors.js';

/** The error code and message readJoin throws for `body`, or null. */
function refusal(body: unknown): [number, string] | null {
  try {
    readJoin(body);
    return null;
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    return [err.entry.code, err.message];
  }
}

t.test('join request - a room, and since with its epoch', async (t) => {
  t.same(readJoin({ room: 'lobby' }), { room: 'lobby', resume: null });
  t.same(readJoin({ room: 'lobby', since: 0, epoch: 'e' }), { room: 'lobby', resume: { since: 0, epoch: 'e' } });
  t.same(readJoin({ room: 'lobby', since: 0xffffffff, epoch: 'x'.repeat(32) }).resume, { since: 0xffffffff, epoch: 'x'.repeat(32) });
  t.same(readJoin({ room: 'lobby', since: 7.0, epoch: 'e' }).resume, { since: 7, epoch: 'e' }, 'an integral float is that integer');
  t.same(readJoin({ room: 'lobby', epoch: 'e' }), { room: 'lobby', resume: null }, 'an epoch alone asks nothing');
});

t.test('join request - a bad room is ERROR 10, bad since or epoch ERROR 3 naming the field', async (t) => {
  for (const body of [null, {}, { room: '' }, { room: 'a b' }, { room: 7 }, [], 'lobby']) t.equal(refusal(body)?.[0], 10, JSON.stringify(body));
  t.match(refusal({ room: 'r', since: 5 }), [3, /epoch is required/], 'since needs its epoch');
  for (const since of [-1, 0x100000000, 1.5, '5', null, true]) t.match(refusal({ room: 'r', since, epoch: 'e' }), [3, /since must be/], `since ${JSON.stringify(since)}`);
  for (const epoch of ['', 'x'.repeat(33), 5, null]) t.match(refusal({ room: 'r', since: 1, epoch }), [3, /epoch must be/], `epoch ${JSON.stringify(epoch)}`);
  t.equal(refusal({ room: 'bad room', since: -1 })?.[0], 10, 'the room is checked first');
});
