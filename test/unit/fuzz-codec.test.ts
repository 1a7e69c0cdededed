// Property-based tests of the client frame decoder (protocol/codec.ts decodeFrame and the strict
// scan in protocol/strict.ts): on any bytes it returns a frame or throws FrameError (ERROR 1
// bad_frame), never anything else; what the strict rules allow decodes to the value a model of
// our own says (every integer width, floats, UTF-8 edges, nesting); valid frames round-trip.
// The seed is printed; FUZZ_SEED=<n> replays a run.

import fc from 'fast-check';
import t from 'tap';
import { CLIENT_FRAME_RULES, decodeFrame, encodeFrame, FrameError, tryDecode } from '../../src/protocol/codec.js';
import { Errors, ProtocolError } from '../../src/protocol/errors.js';
import { checkStrict, splitArray } from '../../src/protocol/strict.js';
import { frameFor, fuzzSeed, mutated, OPS, rawDeep, rawEncode, rawInt, rawModel, rawValue, sameAsModel, type Raw } from '../helpers/fuzz.js';

const seed = fuzzSeed((m) => t.comment(m));
const params = (numRuns: number) => ({ seed, numRuns });

/** decodeFrame's answer: the frame, or the FrameError; anything else thrown fails the test. */
function decodeOrError(bytes: Uint8Array): { frame: ReturnType<typeof decodeFrame> } | { err: FrameError } {
  try {
    return { frame: decodeFrame(bytes) };
  } catch (err) {
    if (err instanceof FrameError && err instanceof ProtocolError && err.entry === Errors.BadFrame) return { err };
    throw err;
  }
}

function wellFormed(frame: { op: number; rid: number }): boolean {
  return Number.isInteger(frame.op) && frame.op >= 0 && frame.op <= 255 && Number.isInteger(frame.rid) && frame.rid >= 0 && frame.rid <= 0xffffffff && !Object.is(frame.op, -0) && !Object.is(frame.rid, -0);
}

function ridOk(err: FrameError): boolean {
  return err.rid === undefined || (Number.isInteger(err.rid) && err.rid >= 0 && err.rid <= 0xffffffff);
}

const anyFrame = fc.constantFrom(...OPS).chain(([key, op]) => frameFor(key, op));
const anyFrameOp = fc.oneof(anyFrame, fc.tuple(fc.integer({ min: 0, max: 300 }), rawValue(3)).map(([op, b]) => ({ t: 'arr', items: [{ t: 'int', v: BigInt(op), enc: 'u16' }, { t: 'int', v: 1n, enc: 'pfix' }, b], enc: 'fix' }) as Raw));

t.test('fuzz codec - any bytes: a frame or ERROR 1, never another exception', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const r = decodeOrError(bytes);
      return 'frame' in r ? wellFormed(r.frame) : ridOk(r.err);
    }),
    params(3000),
  );
  // The other entry points of the strict scan, on the same kind of input.
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 10 }), fc.boolean(), (bytes, maxDepth, allowBin) => {
      checkStrict(bytes, { maxDepth, allowBin });
      splitArray(bytes);
      tryDecode(bytes, { maxDepth, allowBin });
      return true;
    }),
    params(2000),
  );
  t.pass('no exception but FrameError');
});

t.test('fuzz codec - mutated frames of every op: a well-formed frame or ERROR 1', async (t) => {
  fc.assert(
    fc.property(mutated(anyFrame.map((r) => new Uint8Array(rawEncode(r)))), (bytes) => {
      const r = decodeOrError(bytes);
      return 'frame' in r ? wellFormed(r.frame) : ridOk(r.err);
    }),
    params(3000),
  );
  t.pass('no exception but FrameError');
});

t.test('fuzz codec - what the strict rules allow decodes to the model value; the rest is ERROR 1', async (t) => {
  let accepted = 0;
  let refused = 0;
  fc.assert(
    fc.property(fc.oneof(anyFrameOp, rawValue(5), rawDeep.map((d) => ({ t: 'arr', items: [{ t: 'int', v: 1n, enc: 'pfix' }, { t: 'int', v: 7n, enc: 'u32' }, d], enc: 'fix' }) as Raw)), (raw) => {
      const model = rawModel(raw);
      const bytes = rawEncode(raw);
      const strict = checkStrict(bytes, CLIENT_FRAME_RULES);
      if (!model.ok) {
        refused++;
        // A refusal of the strict scan, and decodeFrame's ERROR 1 with it.
        return strict !== null && 'err' in decodeOrError(bytes);
      }
      if (strict !== null) return false;
      const value = tryDecode(bytes, CLIENT_FRAME_RULES);
      if (!sameAsModel(value, model.value)) return false;
      const r = decodeOrError(bytes);
      const v = model.value;
      const isFrame = Array.isArray(v) && v.length >= 2 && v.length <= 3 && Number.isInteger(v[0]) && v[0] >= 0 && v[0] <= 255 && Number.isInteger(v[1]) && v[1] >= 0 && v[1] <= 0xffffffff;
      if (!isFrame) return 'err' in r;
      accepted++;
      if (!('frame' in r)) return false;
      return r.frame.op === v[0] && r.frame.rid === v[1] && wellFormed(r.frame) && sameAsModel(r.frame.body, v.length === 3 && v[2] !== undefined ? v[2] : null);
    }),
    params(4000),
  );
  t.comment(`frames accepted ${accepted}, values refused ${refused}`);
  t.ok(accepted > 100 && refused > 100, 'both sides of the rules were reached');
});

t.test('fuzz codec - integers of every width decode to their value (or refuse beyond 2^53 as op/rid)', async (t) => {
  fc.assert(
    fc.property(rawInt, rawInt, (op, rid) => {
      const bytes = rawEncode({ t: 'arr', items: [op, rid, { t: 'nil' }], enc: 'fix' });
      const r = decodeOrError(bytes);
      const o = Number((op as { v: bigint }).v);
      const d = Number((rid as { v: bigint }).v);
      const valid = o >= 0 && o <= 255 && d >= 0 && d <= 0xffffffff;
      if (!valid) return 'err' in r && (d >= 0 && d <= 0xffffffff ? r.err.rid === d : r.err.rid === undefined);
      return 'frame' in r && r.frame.op === o && r.frame.rid === d && r.frame.body === null;
    }),
    params(2000),
  );
  t.pass('every width');
});

t.test('fuzz codec - valid frames round-trip through encodeFrame and decodeFrame', async (t) => {
  const key = fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__');
  const body = fc.letrec<{ v: unknown }>((tie) => ({
    v: fc.oneof(
      { depthSize: 'small', maxDepth: 5 },
      fc.constant(null),
      fc.boolean(),
      fc.integer(),
      fc.double({ noNaN: true }),
      fc.maxSafeInteger(),
      fc.string({ unit: 'grapheme', maxLength: 20 }),
      fc.array(tie('v'), { maxLength: 5 }),
      fc.dictionary(key, tie('v'), { maxKeys: 5 }),
    ),
  })).v;
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xffffffff }), body, (op, rid, b) => {
      const frame = decodeFrame(encodeFrame(op, rid, b));
      return frame.op === op && frame.rid === rid && sameAsModel(frame.body, toModel(b));
    }),
    params(2000),
  );
  t.pass('round trip');
});

/** A plain value as rawModel describes it (maps as Map). */
function toModel(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toModel);
  if (v !== null && typeof v === 'object') return new Map(Object.entries(v).map(([k, x]) => [k, toModel(x)]));
  return v;
}
