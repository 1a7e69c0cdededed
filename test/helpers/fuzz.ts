// Shared pieces of the fuzz tests (test/unit/fuzz-*.test.ts, test/e2e/fuzz.test.ts): the run's
// seed, a MessagePack writer of our own that can spell every encoding (the codec only writes the
// shortest one), with a model of what the strict decoder must accept and what it must decode
// to, and arbitraries for hostile values and for every client op's body.

import fc from 'fast-check';
import { Op } from '../../src/protocol/ops.js';

/** The run's seed: FUZZ_SEED when set (to replay a failure), else a fresh one; print it. */
export function fuzzSeed(comment: (msg: string) => void): number {
  const fromEnv = process.env.FUZZ_SEED;
  const seed = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : Math.floor(Math.random() * 0x7fffffff);
  if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, got ${fromEnv}`);
  comment(`FUZZ_SEED=${seed} (set it to replay this run)`);
  return seed;
}

/** Every op code of the protocol, both directions, by key (so that ops added later are fuzzed too). */
export const OPS: readonly (readonly [string, number])[] = Object.entries(Op);

// ---- a MessagePack value spelled byte by byte ----

export type IntEnc = 'pfix' | 'nfix' | 'u8' | 'u16' | 'u32' | 'u64' | 'i8' | 'i16' | 'i32' | 'i64';
export type LenEnc = 'fix' | '8' | '16' | '32';

export type Raw =
  | { readonly t: 'nil' }
  | { readonly t: 'bool'; readonly v: boolean }
  | { readonly t: 'int'; readonly v: bigint; readonly enc: IntEnc }
  | { readonly t: 'f32' | 'f64'; readonly v: number }
  | { readonly t: 'str'; readonly bytes: Uint8Array; readonly enc: LenEnc }
  | { readonly t: 'bin'; readonly bytes: Uint8Array }
  | { readonly t: 'ext'; readonly type: number; readonly bytes: Uint8Array }
  | { readonly t: 'arr'; readonly items: readonly Raw[]; readonly enc: LenEnc }
  | { readonly t: 'map'; readonly entries: readonly (readonly [Raw, Raw])[]; readonly enc: LenEnc }
  /** bytes as they are: 0xc1, or anything else the model does not describe */
  | { readonly t: 'bytes'; readonly bytes: Uint8Array };

const INT_RANGE: Record<IntEnc, readonly [bigint, bigint]> = {
  pfix: [0n, 0x7fn],
  nfix: [-32n, -1n],
  u8: [0n, 0xffn],
  u16: [0n, 0xffffn],
  u32: [0n, 0xffffffffn],
  u64: [0n, 0xffffffffffffffffn],
  i8: [-0x80n, 0x7fn],
  i16: [-0x8000n, 0x7fffn],
  i32: [-0x80000000n, 0x7fffffffn],
  i64: [-0x8000000000000000n, 0x7fffffffffffffffn],
};

function head(kind: 'str' | 'arr' | 'map', n: number, enc: LenEnc): number[] {
  const fix = { str: [0xa0, 31], arr: [0x90, 15], map: [0x80, 15] }[kind];
  const e = enc === 'fix' && n > fix[1]! ? '32' : enc === '8' && (kind !== 'str' || n > 0xff) ? '16' : enc === '16' && n > 0xffff ? '32' : enc;
  if (e === 'fix') return [fix[0]! | n];
  if (e === '8') return [0xd9, n];
  const code = { str: [0xda, 0xdb], arr: [0xdc, 0xdd], map: [0xde, 0xdf] }[kind][e === '16' ? 0 : 1]!;
  return e === '16' ? [code, n >> 8, n & 0xff] : [code, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
}

function intBytes(v: bigint, enc: IntEnc): number[] {
  if (enc === 'pfix') return [Number(v)];
  if (enc === 'nfix') return [Number(v) & 0xff];
  const size = { u8: 1, u16: 2, u32: 4, u64: 8, i8: 1, i16: 2, i32: 4, i64: 8 }[enc];
  const code = { u8: 0xcc, u16: 0xcd, u32: 0xce, u64: 0xcf, i8: 0xd0, i16: 0xd1, i32: 0xd2, i64: 0xd3 }[enc];
  const out = [code];
  const u = BigInt.asUintN(size * 8, v);
  for (let i = size - 1; i >= 0; i--) out.push(Number((u >> BigInt(8 * i)) & 0xffn));
  return out;
}

/** The bytes of `r`. */
export function rawEncode(r: Raw): Buffer {
  const parts: (number[] | Uint8Array)[] = [];
  const walk = (v: Raw): void => {
    switch (v.t) {
      case 'nil':
        return void parts.push([0xc0]);
      case 'bool':
        return void parts.push([v.v ? 0xc3 : 0xc2]);
      case 'int':
        return void parts.push(intBytes(v.v, v.enc));
      case 'f32': {
        const b = Buffer.alloc(5);
        b[0] = 0xca;
        b.writeFloatBE(v.v, 1);
        return void parts.push(b);
      }
      case 'f64': {
        const b = Buffer.alloc(9);
        b[0] = 0xcb;
        b.writeDoubleBE(v.v, 1);
        return void parts.push(b);
      }
      case 'str':
        return void parts.push(head('str', v.bytes.length, v.enc), v.bytes);
      case 'bin':
        return void parts.push([0xc4, v.bytes.length], v.bytes);
      case 'ext':
        return void parts.push([0xc7, v.bytes.length, v.type & 0xff], v.bytes);
      case 'arr':
        parts.push(head('arr', v.items.length, v.enc));
        return v.items.forEach(walk);
      case 'map':
        parts.push(head('map', v.entries.length, v.enc));
        return v.entries.forEach(([k, x]) => (walk(k), walk(x)));
      case 'bytes':
        return void parts.push(v.bytes);
    }
  };
  walk(r);
  return Buffer.concat(parts.map((p) => (p instanceof Uint8Array ? p : Buffer.from(p))));
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * What the strict decoder must make of `r` (docs/protocol.md, "Encoding"): `{ok: true, value}`
 * with the JavaScript value, or `{ok: false}` when the rules refuse it (bin, extensions, 0xc1,
 * keys that are not strings, invalid UTF-8, containers nested deeper than `maxDepth`).
 */
export function rawModel(r: Raw, maxDepth = 8): { ok: true; value: unknown } | { ok: false } {
  const no = { ok: false } as const;
  const walk = (v: Raw, depth: number): { ok: true; value: unknown } | { ok: false } => {
    switch (v.t) {
      case 'nil':
        return { ok: true, value: null };
      case 'bool':
        return { ok: true, value: v.v };
      case 'int':
        return { ok: true, value: Number(v.v) };
      case 'f32':
        return { ok: true, value: Math.fround(v.v) };
      case 'f64':
        return { ok: true, value: v.v };
      case 'str':
        try {
          return { ok: true, value: utf8.decode(v.bytes) };
        } catch {
          return no;
        }
      case 'bin':
      case 'ext':
      case 'bytes':
        return no;
      case 'arr': {
        if (depth + 1 > maxDepth) return no;
        const out: unknown[] = [];
        for (const it of v.items) {
          const m = walk(it, depth + 1);
          if (!m.ok) return no;
          out.push(m.value);
        }
        return { ok: true, value: out };
      }
      case 'map': {
        if (depth + 1 > maxDepth) return no;
        const out = new Map<string, unknown>();
        for (const [k, x] of v.entries) {
          if (k.t !== 'str') return no;
          const mk = walk(k, depth + 1);
          const mx = walk(x, depth + 1);
          if (!mk.ok || !mx.ok) return no;
          // msgpackr renames a `__proto__` key (no prototype pollution through a decoded map).
          out.set(mk.value === '__proto__' ? '__proto_' : (mk.value as string), mx.value);
        }
        return { ok: true, value: out };
      }
    }
  };
  return walk(r, 0);
}

/** Deep equality of a decoded value with a model value (maps as Map; numbers by Object.is, -0 aside). */
export function sameAsModel(got: unknown, want: unknown): boolean {
  if (typeof want === 'number') return typeof got === 'number' && (Object.is(got, want) || got === want);
  if (want instanceof Map) {
    if (typeof got !== 'object' || got === null || Array.isArray(got)) return false;
    const keys = Object.keys(got);
    if (keys.length !== want.size) return false;
    for (const [k, v] of want) if (!Object.hasOwn(got, k) || !sameAsModel((got as Record<string, unknown>)[k], v)) return false;
    return true;
  }
  if (Array.isArray(want)) return Array.isArray(got) && got.length === want.length && want.every((w, i) => sameAsModel(got[i], w));
  return got === want;
}

// ---- arbitraries ----

const intEncs: IntEnc[] = ['pfix', 'nfix', 'u8', 'u16', 'u32', 'u64', 'i8', 'i16', 'i32', 'i64'];

/** An integer in one of MessagePack's widths, mostly near the ends of its range. */
export const rawInt: fc.Arbitrary<Raw> = fc.constantFrom(...intEncs).chain((enc) => {
  const [min, max] = INT_RANGE[enc];
  const edge = fc.constantFrom(min, max, 0n < min ? min : 0n, max > 0n ? 1n : min, (min + max) / 2n);
  return fc.oneof(edge, fc.bigInt({ min, max })).map((v) => ({ t: 'int', v, enc }) as Raw);
});

/** An integer as the client means it, in any width that holds it (op codes, rids, fields). */
export function rawIntOf(n: number): fc.Arbitrary<Raw> {
  const v = BigInt(n);
  const fits = intEncs.filter((e) => v >= INT_RANGE[e][0] && v <= INT_RANGE[e][1]);
  return fc.oneof(
    fc.constantFrom(...fits).map((enc) => ({ t: 'int', v, enc }) as Raw),
    fc.constantFrom<Raw>({ t: 'f64', v: n }, { t: 'f32', v: n }),
  );
}

const SPECIAL_FLOATS = [NaN, Infinity, -Infinity, -0, 0.5, 2 ** 53, 2 ** 53 + 2, -(2 ** 63), 2 ** 64, Number.MAX_VALUE, Number.MIN_VALUE, 1e-310];
export const rawFloat: fc.Arbitrary<Raw> = fc.oneof(
  fc.constantFrom(...SPECIAL_FLOATS).chain((v) => fc.constantFrom<Raw>({ t: 'f32', v }, { t: 'f64', v })),
  fc.double().map((v) => ({ t: 'f64', v }) as Raw),
  fc.float().map((v) => ({ t: 'f32', v }) as Raw),
);

/** UTF-8 (and not quite) byte sequences that text handling gets wrong. */
export const UNICODE_EDGES: readonly (readonly [string, string])[] = [
  ['lone high surrogate (CESU)', 'eda080'],
  ['lone low surrogate (CESU)', 'edb080'],
  ['surrogate pair as CESU', 'eda0bdedb880'],
  ['overlong slash', 'c0af'],
  ['overlong NUL', 'c080'],
  ['overlong 3-byte', 'e080af'],
  ['U+FFFF', 'efbfbf'],
  ['U+FFFE', 'efbfbe'],
  ['BOM', 'efbbbf'],
  ['beyond U+10FFFF', 'f4908080'],
  ['truncated 4-byte', 'f09f98'],
  ['lone continuation', '80'],
  ['RTL override', 'e280ae'],
  ['zero-width space', 'e2808b'],
  ['zero-width joiner family', 'f09f91a8e2808df09f91a9e2808df09f91a7'],
  ['4-byte emoji', 'f09f9880'],
  ['NUL', '00'],
  ['combining marks', '61cc81cc82cc83cc84cc85'],
  ['0xff', 'ff'],
];

const strBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }).map((s) => new Uint8Array(Buffer.from(s))) },
  { weight: 3, arbitrary: fc.array(fc.constantFrom(...UNICODE_EDGES.map(([, h]) => h)), { minLength: 1, maxLength: 4 }).chain((hs) => fc.string({ maxLength: 6 }).map((s) => new Uint8Array(Buffer.from(s + Buffer.from(hs.join(''), 'hex').toString('latin1'), 'latin1')))) },
  { weight: 2, arbitrary: fc.array(fc.constantFrom(...UNICODE_EDGES.map(([, h]) => h)), { minLength: 1, maxLength: 4 }).map((hs) => new Uint8Array(Buffer.from(hs.join(''), 'hex'))) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 16 }) },
);

export const rawStr: fc.Arbitrary<Raw> = fc.tuple(strBytes, fc.constantFrom<LenEnc>('fix', '8', '16', '32')).map(([bytes, enc]) => ({ t: 'str', bytes, enc }) as Raw);

/** A string of exactly this text, in any length encoding. */
export function rawText(s: string): fc.Arbitrary<Raw> {
  const bytes = new Uint8Array(Buffer.from(s));
  return fc.constantFrom<LenEnc>('fix', '8', '16', '32').map((enc) => ({ t: 'str', bytes, enc }) as Raw);
}

const rawScalar: fc.Arbitrary<Raw> = fc.oneof(
  { weight: 1, arbitrary: fc.constant<Raw>({ t: 'nil' }) },
  { weight: 1, arbitrary: fc.boolean().map((v) => ({ t: 'bool', v }) as Raw) },
  { weight: 4, arbitrary: rawInt },
  { weight: 2, arbitrary: rawFloat },
  { weight: 4, arbitrary: rawStr },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 8 }).map((bytes) => ({ t: 'bin', bytes }) as Raw) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: -128, max: 127 }), fc.uint8Array({ maxLength: 8 })).map(([type, bytes]) => ({ t: 'ext', type, bytes }) as Raw) },
  { weight: 1, arbitrary: fc.constant<Raw>({ t: 'bytes', bytes: new Uint8Array([0xc1]) }) },
);

const lenEnc = fc.constantFrom<LenEnc>('fix', 'fix', 'fix', '16', '32');

/** Any value: scalars, and arrays and maps (keys mostly strings) nested up to `depth`. */
export function rawValue(depth = 4): fc.Arbitrary<Raw> {
  return fc.letrec<{ v: Raw }>((tie) => ({
    v: fc.oneof(
      { depthSize: 'small', maxDepth: depth, withCrossShrink: true },
      { weight: 5, arbitrary: rawScalar },
      { weight: 1, arbitrary: fc.tuple(fc.array(tie('v'), { maxLength: 5 }), lenEnc).map(([items, enc]) => ({ t: 'arr', items, enc }) as Raw) },
      { weight: 1, arbitrary: fc.tuple(fc.array(fc.tuple(fc.oneof({ weight: 9, arbitrary: rawStr }, { weight: 1, arbitrary: tie('v') }), tie('v')), { maxLength: 5 }), lenEnc).map(([entries, enc]) => ({ t: 'map', entries, enc }) as Raw) },
    ),
  })).v;
}

/** Arrays (or maps) nested `n` deep around a nil: the depth rule's edge. */
export const rawDeep: fc.Arbitrary<Raw> = fc.tuple(fc.integer({ min: 1, max: 40 }), fc.boolean()).map(([n, maps]) => {
  let v: Raw = { t: 'nil' };
  for (let i = 0; i < n; i++) v = maps && i % 2 ? { t: 'map', entries: [[{ t: 'str', bytes: new Uint8Array([0x6b]), enc: 'fix' }, v]], enc: 'fix' } : { t: 'arr', items: [v], enc: 'fix' };
  return v;
});

/** A map body from named fields, each present or not, values from the given arbitraries. */
export function rawMap(fields: Record<string, fc.Arbitrary<Raw>>, required: readonly string[] = []): fc.Arbitrary<Raw> {
  const entries = Object.entries(fields).map(([k, a]) => (required.includes(k) ? fc.tuple(rawText(k), a) : fc.option(fc.tuple(rawText(k), a), { nil: undefined, freq: 3 })));
  return fc.tuple(fc.tuple(...entries), lenEnc).map(([es, enc]) => ({ t: 'map', entries: es.filter((e): e is [Raw, Raw] => e !== undefined), enc }) as Raw);
}

/** A field's value: mostly a plausible one, sometimes any value at all (a wrong type). */
function fieldOf(good: fc.Arbitrary<Raw>): fc.Arbitrary<Raw> {
  return fc.oneof({ weight: 5, arbitrary: good }, { weight: 1, arbitrary: rawValue(2) });
}

const roomLike = fc.oneof({ weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/) }, fc.constantFrom('', 'a.b', 'x'.repeat(65), 'r*', 'room one')).chain(rawText);
const uidLike = fc.oneof({ weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.@:-]{1,64}$/) }, fc.constantFrom('', 'bob', 'a b', 'x'.repeat(65))).chain(rawText);
const smallInt = (min: number, max: number) => fc.oneof({ weight: 4, arbitrary: fc.integer({ min, max }) }, fc.constantFrom(min - 1, max + 1, -1, 2 ** 32, 2 ** 53, -(2 ** 53))).chain(rawIntOf);
const cmidLike = fc.oneof({ weight: 4, arbitrary: fc.stringMatching(/^[\x21-\x7e]{1,64}$/).chain(rawText) }, { weight: 1, arbitrary: rawStr });
const textLike = fc.oneof({ weight: 3, arbitrary: fc.stringMatching(/^[ -~\u00a0-\u024f\u4e00-\u4e2f]{1,40}$/).chain(rawText) }, { weight: 1, arbitrary: fc.string({ maxLength: 120 }).chain(rawText) }, { weight: 1, arbitrary: rawStr });

/** A chat body naming its conversation: a group `g`, or a user `to`, or (wrongly) both or neither. */
function withTarget(fields: Record<string, fc.Arbitrary<Raw>>): fc.Arbitrary<Raw> {
  return fc.oneof(
    { weight: 2, arbitrary: rawMap({ g: fieldOf(roomLike), ...fields }, ['g']) },
    { weight: 2, arbitrary: rawMap({ to: fieldOf(fc.oneof({ weight: 4, arbitrary: uidLike }, { weight: 1, arbitrary: rawText('') })), ...fields }, ['to']) },
    { weight: 1, arbitrary: rawMap({ g: fieldOf(roomLike), to: fieldOf(uidLike), ...fields }) },
  );
}

/** Plausible (and not quite) bodies of the client ops that have a known shape, by Op key. */
export const BODIES: Readonly<Record<string, fc.Arbitrary<Raw>>> = {
  Join: rawMap({ room: fieldOf(roomLike), since: fieldOf(smallInt(0, 0xffffffff)), epoch: fieldOf(textLike) }),
  Switch: rawMap({ room: fieldOf(roomLike), since: fieldOf(smallInt(0, 0xffffffff)), epoch: fieldOf(textLike) }),
  Send: rawMap({
    k: fieldOf(smallInt(1, 4)),
    x: fieldOf(textLike),
    c: fieldOf(smallInt(0, 0xffffff)),
    m: fieldOf(smallInt(0, 2)),
    g: fieldOf(fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{1,32}$/).chain(rawText), rawStr)),
    a: fieldOf(smallInt(1, 9999)),
    id: fieldOf(cmidLike),
    room: fieldOf(roomLike),
  }, ['k']),
  Msg: withTarget({ x: fieldOf(textLike), id: fieldOf(cmidLike) }),
  Sync: rawMap({ cursor: fieldOf(smallInt(0, Number.MAX_SAFE_INTEGER)), limit: fieldOf(smallInt(1, 200)) }),
  History: withTarget({ before: fieldOf(smallInt(1, Number.MAX_SAFE_INTEGER)), limit: fieldOf(smallInt(1, 20)) }),
  Contacts: rawMap({ limit: fieldOf(smallInt(1, 100)) }),
  Read: withTarget({ s: fieldOf(smallInt(0, Number.MAX_SAFE_INTEGER)) }),
  // Ops of the issue-15 design that other branches add (docs: REFRESH 6, MODERATE 24): used as soon as Op has the key.
  Refresh: rawMap({ token: fieldOf(fc.oneof(fc.constantFrom('', 'x.y.z', 'eyJhbGciOiJIUzI1NiJ9.e30.sig').chain(rawText), textLike)) }),
  Moderate: rawMap({
    a: fieldOf(fc.oneof({ weight: 4, arbitrary: fc.constantFrom('mute', 'unmute', 'ban', 'unban') }, fc.constantFrom('', 'MUTE', 'kick')).chain(rawText)),
    u: fieldOf(uidLike),
    room: fieldOf(roomLike),
    ms: fieldOf(smallInt(0, 2 ** 31)),
    why: fieldOf(textLike),
  }),
  Received: rawMap({ ids: fieldOf(fc.array(fc.oneof(fc.string({ minLength: 1, maxLength: 64 }).chain(rawText), rawValue(1)), { maxLength: 110 }).map((items) => ({ t: 'arr', items, enc: 'fix' }) as Raw)) }),
};

/** A body for the op with this key: its own shape when known, else (and sometimes anyway) any value. */
export function bodyFor(key: string): fc.Arbitrary<Raw> {
  const own = BODIES[key];
  return own ? fc.oneof({ weight: 3, arbitrary: own }, { weight: 1, arbitrary: rawValue(4) }) : rawValue(4);
}

/** A whole frame [op, rid, body] for the op with this key, in any integer widths. */
export function frameFor(key: string, op: number): fc.Arbitrary<Raw> {
  return fc.tuple(rawIntOf(op), fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.constant(0)).chain(rawIntOf), bodyFor(key), fc.boolean())
    .map(([o, r, b, two]) => ({ t: 'arr', items: two && b.t === 'nil' ? [o, r] : [o, r, b], enc: 'fix' }) as Raw);
}

/** Byte-level mutations of valid bytes: bit flips, truncation, insertion, deletion. */
export function mutated(bytes: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.tuple(bytes, fc.array(fc.tuple(fc.constantFrom('flip', 'cut', 'insert', 'delete', 'set'), fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 4 })).map(([b, ms]) => {
    let out = Buffer.from(b);
    for (const [m, at, x] of ms) {
      const i = out.length === 0 ? 0 : at % out.length;
      if (m === 'flip' && out.length) out[i] = out[i]! ^ (1 << (x & 7));
      else if (m === 'cut') out = out.subarray(0, i);
      else if (m === 'insert') out = Buffer.concat([out.subarray(0, i), Buffer.from([x]), out.subarray(i)]);
      else if (m === 'delete') out = Buffer.concat([out.subarray(0, i), out.subarray(i + 1)]);
      else if (m === 'set' && out.length) out[i] = x;
    }
    return new Uint8Array(out);
  });
}
