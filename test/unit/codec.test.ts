import t from 'tap';
import { decode, decodeFrame, encodeBodyWithItems, encodeFrame, encodeFrameWithBody } from '../../src/protocol/codec.js';
import { Errors } from '../../src/protocol/errors.js';
import { checkItem, encodeItem } from '../../src/protocol/items.js';
import { Op } from '../../src/protocol/ops.js';
import { Kind } from '../../src/protocol/kinds.js';

t.test('codec - frames round-trip as [op, rid, body]', async (t) => {
  const f = decodeFrame(encodeFrame(Op.Join, 7, { room: 'r1' }));
  t.same(f, { op: Op.Join, rid: 7, body: { room: 'r1' } });
  t.same(decodeFrame(encodeFrame(Op.Ping, 0, null)), { op: Op.Ping, rid: 0, body: null });
});

t.test('codec - malformed input is a bad_frame ProtocolError', async (t) => {
  const cases: [string, Uint8Array][] = [
    ['truncated msgpack', Buffer.from([0x93, 0x01])],
    ['not an array', encodeFrame(1, 1, null).subarray(1)],
    ['a map', Buffer.from([0x80])],
    ['op out of range', Buffer.from([0x93, 0xcd, 0x01, 0x00, 0x00, 0xc0])],
    ['negative rid', Buffer.from([0x93, 0x01, 0xff, 0xc0])],
    ['four elements', Buffer.from([0x94, 0x01, 0x00, 0xc0, 0xc0])],
    ['empty', new Uint8Array(0)],
  ];
  for (const [name, bytes] of cases) {
    t.throws(() => decodeFrame(bytes), { name: 'FrameError', entry: { reason: Errors.BadFrame.reason } }, name);
  }
});

t.test('codec - spliced bodies decode like ordinary ones', async (t) => {
  const a = encodeItem({ s: 1, k: Kind.Danmaku, u: 'u1', t: 5, x: 'hi' });
  const b = encodeItem({ s: 2, k: Kind.Gift, u: 'u2', t: 6, g: 'rocket', a: 3 });
  const frame = encodeFrameWithBody(Op.Batch, 0, encodeBodyWithItems({ r: 'room', s: 4 }, 'd', [a, b]));
  t.same(decode(frame), [Op.Batch, 0, { r: 'room', s: 4, d: [decode(a), decode(b)] }]);
  const withRid = encodeFrameWithBody(Op.Joined, 300, encodeBodyWithItems({ room: 'x' }, 'replay', []));
  t.same(decode(withRid), [Op.Joined, 300, { room: 'x', replay: [] }]);
  // arrays of 16+ and 65536+ items use the longer headers
  const many = Array.from({ length: 20 }, (_, i) => encodeItem({ s: i + 1, k: Kind.Like, u: '', t: 0, a: 1 }));
  t.equal((decode(encodeBodyWithItems({}, 'd', many)) as { d: unknown[] }).d.length, 20);
});

t.test('codec - checkItem takes what the gateway needs and rejects non-items', async (t) => {
  t.match(checkItem(encodeItem({ s: 9, k: Kind.Like, u: 'u', t: 100, a: 5 }), 100), { head: { seq: 9, kind: Kind.Like, time: 100, amount: 5 } });
  t.match(checkItem(encodeFrame(1, 1, null), 100), { fault: 'bad_item' });
  t.match(checkItem(Buffer.from([0xc1]), 100), { fault: 'bad_item' });
  t.match(checkItem(encodeItem({ s: -1, k: Kind.Danmaku, u: 'u', t: 1, x: 'a' }), 100), { fault: 'bad_item_seq' });
  t.match(checkItem(encodeItem({ s: 1, k: 99, u: 'u', t: 1 }), 100), { fault: 'bad_item_kind' });
});
