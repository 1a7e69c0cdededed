import t from 'tap';
import { Packr } from 'msgpackr';
import { decode, decodeFrame, encode, encodeArrayOfEncoded } from '../../src/protocol/codec.js';
import { Errors } from '../../src/protocol/errors.js';
import { checkItem, encodeItem } from '../../src/protocol/items.js';
import { Kind } from '../../src/protocol/kinds.js';
import { validateSend } from '../../src/logic/validate.js';
import { splitArray } from '../../src/protocol/strict.js';

// MessagePack by hand, as other languages' libraries write it.
const u64 = (n: number) => Buffer.concat([Buffer.from([0xcf]), Buffer.from(new BigUint64Array([BigInt(n)]).buffer).reverse()]);
const i64 = (n: number) => Buffer.concat([Buffer.from([0xd3]), Buffer.from(new BigInt64Array([BigInt(n)]).buffer).reverse()]);
const u32 = (n: number) => Buffer.from([0xce, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
const f64 = (n: number) => {
  const b = Buffer.alloc(9);
  b[0] = 0xcb;
  b.writeDoubleBE(n, 1);
  return b;
};
const str = (s: string) => {
  const b = Buffer.from(s);
  return Buffer.concat([Buffer.from([0xa0 | b.length]), b]);
};
const map = (entries: [string, Buffer][]) => Buffer.concat([Buffer.from([0x80 | entries.length]), ...entries.flatMap(([k, v]) => [str(k), v])]);
const frame = (op: Buffer, rid: Buffer, body: Buffer) => Buffer.concat([Buffer.from([0x93]), op, rid, body]);

t.test('strict - integers in every MessagePack encoding are accepted where the protocol has one', async (t) => {
  for (const [name, enc] of [['uint64', u64], ['int64', i64], ['uint32', u32]] as const) {
    const f = decodeFrame(frame(enc(20), enc(7), map([['k', enc(Kind.Gift)], ['g', str('rocket')], ['a', enc(3)]])));
    t.same({ op: f.op, rid: f.rid }, { op: 20, rid: 7 }, `${name} op and rid`);
    t.same(validateSend(f.body, { maxTextLength: 100 }).fields, { k: Kind.Gift, g: 'rocket', a: 3 }, `${name} body`);
  }
  const item = map([['s', u64(5)], ['k', i64(Kind.Danmaku)], ['u', str('bob')], ['t', u64(1_700_000_000_000)], ['x', str('hi')]]);
  const checked = checkItem(item, 100);
  t.match(checked, { head: { seq: 5, kind: Kind.Danmaku, time: 1_700_000_000_000, amount: 1 } }, 'a room item with 64-bit integers');
  t.same('data' in checked && [...checked.data.subarray(0, 6)], [0xde, 0, 5, 0xa1, 0x73, 0x05], 're-encoded with the smallest integer form (s 5 as a fixint)');
});

t.test('strict - an integral float counts as the integer, any other float is refused', async (t) => {
  t.same(validateSend(decodeFrame(frame(f64(20), f64(1), map([['k', f64(2)], ['a', f64(3)]]))).body, { maxTextLength: 100 }).fields, { k: Kind.Like, a: 3 });
  t.throws(() => validateSend({ k: 2, a: 1.5 }, { maxTextLength: 100 }), { name: 'ProtocolError', entry: { reason: 'bad_field' } });
  t.throws(() => decodeFrame(frame(f64(20.5), f64(1), Buffer.from([0xc0]))), { name: 'FrameError', entry: { reason: 'bad_frame' }, rid: 1 });
});

t.test('strict - a 64-bit integer beyond 2^53 never becomes a BigInt', async (t) => {
  const f = decodeFrame(frame(u64(20), u64(1), map([['k', u64(2)], ['a', u64(2 ** 60)]])));
  t.equal(typeof (f.body as { a: unknown }).a, 'number');
  t.throws(() => validateSend(f.body, { maxTextLength: 100 }), { name: 'ProtocolError', entry: { reason: 'bad_field' } });
});

t.test('strict - extensions, bin, deep nesting and bad UTF-8 are bad frames that keep the rid', async (t) => {
  const head = Buffer.from([0x93, 20, 0x2a]); // [SEND, rid 42, ...
  const deep = Buffer.concat([Buffer.alloc(2000, 0x91), Buffer.from([0xc0])]);
  const cases: [string, Buffer][] = [
    ['timestamp extension', Buffer.concat([head, Buffer.from([0xd6, 0xff, 0, 0, 0, 1])])],
    ['msgpackr record definition', Buffer.concat([head, Buffer.from([0xd5, 0x72, 0x40, 0x91])])],
    ['structured clone id', Buffer.concat([head, Buffer.from([0xd6, 0x69, 0, 0, 0, 1, 0x80])])],
    ['ext 8', Buffer.concat([head, Buffer.from([0xc7, 1, 5, 0])])],
    ['bin', Buffer.concat([head, Buffer.from([0x81, 0xa1, 0x78, 0xc4, 1, 0x41])])],
    ['2,000-deep nesting', Buffer.concat([head, deep])],
    ['invalid UTF-8', Buffer.concat([head, Buffer.from([0x81, 0xa1, 0x78, 0xa2, 0xed, 0xa0])])],
    ['non-string map key', Buffer.concat([head, Buffer.from([0x81, 0x01, 0x01])])],
    ['0xc1', Buffer.concat([head, Buffer.from([0xc1])])],
    ['trailing bytes', Buffer.concat([head, Buffer.from([0xc0, 0xc0])])],
    ['a huge announced array', Buffer.concat([head, Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff])])],
    ['four elements', Buffer.from([0x94, 20, 0x2a, 0xc0, 0xc0])],
    ['invalid UTF-8 after ASCII', Buffer.concat([head, Buffer.from([0x81, 0xa1, 0x78, 0xa4, 0x61, 0x62, 0xed, 0xa0])])],
  ];
  for (const [name, bytes] of cases) {
    t.throws(() => decodeFrame(bytes), { name: 'FrameError', entry: { reason: Errors.BadFrame.reason }, rid: 42 }, name);
  }
});

t.test('strict - room items from backends are encoded again as the protocol documents them', async (t) => {
  const raw = { s: 0, k: Kind.Danmaku, u: 'shop', n: '\u202eSponsor\u0007', t: 1_700_000_000_000.7, x: '  padded  ', c: 255 };
  const checked = checkItem(new Packr({ useRecords: false }).pack(raw), 100);
  if (!('data' in checked)) return t.fail(`refused: ${checked.detail}`);
  t.same(decode(checked.data), { s: 0, k: Kind.Danmaku, u: 'shop', n: 'Sponsor', t: 1_700_000_000_001, x: 'padded', c: 255 }, 'name cleaned, text trimmed, t whole ms');
  t.same(Object.keys(decode(checked.data) as object), ['s', 'k', 'u', 'n', 't', 'x', 'c'], 'one key order');
  const ours = encodeItem({ s: 3, k: Kind.Gift, u: 'a', n: 'A', t: 5, g: 'rose', a: 2 });
  t.same(decode((checkItem(ours, 100) as { data: Buffer }).data), decode(ours), "the logic's own items come out the same");
});

t.test('strict - room items from backends are checked in full', async (t) => {
  const ok = { s: 1, k: Kind.Danmaku, u: 'bob', n: 'Bob', t: 1, x: 'hi' };
  t.ok('head' in checkItem(encodeItem(ok), 100), 'a valid item');
  t.ok('head' in checkItem(encodeItem({ s: 0, k: Kind.Notice, u: '', t: 1.5, x: 'from the backend' }), 100), 'an unsequenced notice from a backend');
  const faults: [string, Uint8Array, string][] = [
    ['s = 1e12', encodeItem({ ...ok, s: 1e12 }), 'bad_item_seq'],
    ['s a string', encodeItem({ ...ok, s: '1' as unknown as number }), 'bad_item_seq'],
    ['nested value', encodeItem({ ...ok, x: { deep: [1] } as unknown as string }), 'bad_item'],
    ['3,000-deep item', Buffer.concat([Buffer.from([0x81, 0xa1, 0x78]), Buffer.alloc(3000, 0x91), Buffer.from([0xc0])]), 'bad_item'],
    ['bin text', encodeItem({ ...ok, x: Buffer.from('hi') as unknown as string }), 'bad_item'],
    ['unknown field', encodeItem({ ...ok, zz: 1 } as typeof ok), 'bad_item_field'],
    ['field of another kind', encodeItem({ ...ok, g: 'rocket' }), 'bad_item_field'],
    ['text too long', encodeItem({ ...ok, x: 'a'.repeat(101) }), 'bad_item_field'],
    ['control character', encodeItem({ ...ok, x: 'a\u0007' }), 'bad_item_field'],
    ['uid with a space', encodeItem({ ...ok, u: 'b b' }), 'bad_item_field'],
    ['t NaN', encodeItem({ ...ok, t: Number.NaN }), 'bad_item_field'],
    ['gift without g', encodeItem({ s: 1, k: Kind.Gift, u: 'a', t: 1, a: 1 }), 'bad_item_field'],
    ['gift amount 0', encodeItem({ s: 1, k: Kind.Gift, u: 'a', t: 1, g: 'r', a: 0 }), 'bad_item_field'],
    ['unknown kind', encodeItem({ ...ok, k: 77 }), 'bad_item_kind'],
    ['not a map', Buffer.from([0x93, 1, 2, 3]), 'bad_item'],
    ['a timestamp', Buffer.concat([Buffer.from([0x87]), encodeItem({ ...ok }).subarray(3), Buffer.from([0xa1, 0x63, 0xd6, 0xff, 0, 0, 0, 1])]), 'bad_item'],
  ];
  for (const [name, bytes, fault] of faults) t.match(checkItem(bytes, 100), { fault }, name);
});

t.test('splitArray - the elements of one array of encoded values, as views; anything else null', async (t) => {
  const items = [encode({ s: 1, k: 1, x: 'a' }), encode({ s: 2, k: 1, x: 'b'.repeat(300) }), encode('z')];
  for (const n of [1, 3, 15, 16, 300, 70_000]) {
    const values = Array.from({ length: n }, (_, i) => items[i % 3]!);
    const parts = splitArray(encodeArrayOfEncoded(values));
    t.equal(parts?.length, n, `${n} elements`);
    t.ok(parts!.every((p, i) => Buffer.compare(p, values[i]!) === 0), 'each exactly the bytes given');
  }
  t.equal(splitArray(encode({ s: 1 })), null, 'a map is not an array');
  t.equal(splitArray(new Uint8Array([0x92, 0x01])), null, 'fewer elements than announced');
  t.equal(splitArray(new Uint8Array([0x91, 0x01, 0x02])), null, 'trailing bytes');
  t.equal(splitArray(new Uint8Array([0x91, 0xd4, 0x01, 0x02])), null, 'an extension type');
  t.equal(splitArray(new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff])), null, 'a huge announced length');
  t.same(splitArray(new Uint8Array([0x90])), [], 'an empty array');
});
