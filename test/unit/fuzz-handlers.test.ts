// Property-based tests of every op handler's body validation: the gateway's readers (JOIN and
// SWITCH readJoin, RECEIVED receivedIds), the logic's validators (SEND, MSG, SYNC, HISTORY,
// CONTACTS, READ) and the logic service itself (Logic.handle on upstream requests and on bytes
// from any NATS client). For any body they return or throw a ProtocolError of the catalogue;
// the logic answers every request with a documented reply, never ERROR 31 (an unexpected
// exception), and logs nothing at error level. The ops come from the Op table: an op added
// later is fuzzed with arbitrary bodies until it gets a generator (test/helpers/fuzz.ts BODIES).
// The seed is printed; FUZZ_SEED=<n> replays a run.

import fc from 'fast-check';
import { pino } from 'pino';
import t from 'tap';
import { Logic } from '../../src/logic/logic.js';
import { decodeRequests } from '../../src/logic/upstream.js';
import { validateContacts, validateHistory, validateMessage, validateRead, validateSend, validateSync } from '../../src/logic/validate.js';
import { readJoin } from '../../src/gateway/join-request.js';
import { refreshIdentity } from '../../src/gateway/refresh.js';
import { TokenVerifier } from '../../src/auth/token.js';
import { readModerate } from '../../src/logic/moderation.js';
import { receivedIds } from '../../src/gateway/pushes.js';
import { CLIENT_FRAME_RULES, decode, decodeFrame, encode, encodeFrame, tryDecode } from '../../src/protocol/codec.js';
import { Errors, ProtocolError } from '../../src/protocol/errors.js';
import { Op } from '../../src/protocol/ops.js';
import { memoryLogic } from '../helpers/memory-logic.js';
import { bodyFor, fuzzSeed, mutated, OPS, rawEncode, rawIntOf, rawText, rawValue, type Raw } from '../helpers/fuzz.js';

const seed = fuzzSeed((m) => t.comment(m));
const params = (numRuns: number) => ({ seed, numRuns });

const ERROR_CODES = new Set<number>(Object.values(Errors).map((e) => e.code));
const OP_CODES = new Set<number>(Object.values(Op));
const LIMITS = { maxTextLength: 100 };

/** A body as the gateway hands it on: decoded by the strict rules (what they refuse never gets here). */
function decoded(raw: Raw): { ok: true; body: unknown } | { ok: false } {
  const bytes = rawEncode(raw);
  const v = tryDecode(bytes, CLIENT_FRAME_RULES);
  return v === undefined && !(bytes.length === 1 && bytes[0] === 0xc0) ? { ok: false } : { ok: true, body: v ?? null };
}

/** Runs `fn`: true when it returned or threw a ProtocolError of the catalogue; any other exception fails. */
function documented(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    if (err instanceof ProtocolError && ERROR_CODES.has(err.entry.code) && err.entry.code !== Errors.Internal.code) return true;
    throw err;
  }
}

/** The body readers each op has outside the logic service (the gateway's), by Op key. */
const READERS: Readonly<Record<string, (body: unknown) => unknown>> = {
  Join: readJoin,
  Switch: readJoin,
  Received: receivedIds,
  Send: (b) => validateSend(b, LIMITS),
  Msg: (b) => validateMessage(b, LIMITS),
  Sync: (b) => validateSync(b),
  History: validateHistory,
  Contacts: validateContacts,
  Read: validateRead,
  Refresh: (b) => refreshIdentity(b, { uid: 'fz', name: 'fz', roles: [], guest: false }, VERIFIER, 4096),
  Moderate: (b) => readModerate(b, false),
};

const VERIFIER = new TokenVerifier('fuzz-secret-0123456789abcdef');

/** Client ops whose body is ignored (PING, LEAVE): the only ones that need no reader. */
const BODY_IGNORED = new Set(['Ping', 'Leave']);

/** The client -> server ops of the Op table (docs/protocol.md "Ops", direction c→s). */
const CLIENT_OPS = ['Ping', 'Join', 'Switch', 'Leave', 'Send', 'Msg', 'Sync', 'History', 'Contacts', 'Read', 'Received', 'Refresh', 'Moderate'];

t.test('fuzz handlers - every client op has a body reader here (a new op cannot slip through unfuzzed)', async (t) => {
  for (const key of CLIENT_OPS) t.ok(key in Op, `${key} is an op`);
  for (const key of CLIENT_OPS) if (!BODY_IGNORED.has(key)) t.ok(READERS[key], `${key} has a reader in READERS`);
});

t.test('fuzz handlers - every reader: a result or a ProtocolError of the catalogue, for any body of every op', async (t) => {
  const seen = new Map<string, { ok: number; refused: number }>();
  for (const [key] of OPS) {
    const read = READERS[key];
    if (!read) continue;
    const counts = { ok: 0, refused: 0 };
    seen.set(key, counts);
    fc.assert(
      fc.property(bodyFor(key), (raw) => {
        const d = decoded(raw);
        if (!d.ok) return true;
        try {
          read(d.body);
          counts.ok++;
          return true;
        } catch (err) {
          counts.refused++;
          if (err instanceof ProtocolError && ERROR_CODES.has(err.entry.code)) return true;
          throw err;
        }
      }),
      params(600),
    );
  }
  t.comment(`readers: ${[...seen].map(([k, c]) => `${k} ${c.ok} ok/${c.refused} refused`).join(', ')}`);
  t.ok([...seen.values()].every((c) => c.ok > 0 && c.refused > 0), 'each reader both accepted and refused some bodies');
});

function makeLogic(): { logic: Logic; logs: Record<string, unknown>[] } {
  const logs: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  return { logic: memoryLogic({ logicMaxInflight: 100_000, userMessageRate: 100_000, log }).logic, logs };
}

/** A reply the gateway can turn into a documented frame: an ACK, a read's reply, or an ERROR of the catalogue but 31. */
function documentedReply(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  if ('e' in r) return typeof r.e === 'number' && ERROR_CODES.has(r.e) && r.e !== Errors.Internal.code && typeof r.m === 'string' && (r.r === undefined || Number.isInteger(r.r));
  if ('o' in r) return typeof r.o === 'number' && OP_CODES.has(r.o) && r.b instanceof Uint8Array;
  return Number.isSafeInteger(r.s) && Number.isSafeInteger(r.t);
}

const anyOp = fc.constantFrom(...OPS);
const roles = fc.subarray(['admin', 'moderator', 'vip']);

/** An upstream request as a gateway sends it, for any op of the table, with a fuzzed body. */
const request = anyOp.chain(([key, op]) =>
  fc.record({ key: fc.constant(key), o: fc.constant(op), u: fc.constantFrom('alice', 'bob', 'u.1@x'), r: roles, room: fc.constantFrom('r', '', 'other'), b: bodyFor(key) }),
);

t.test('fuzz handlers - the logic answers every op of the table with a documented reply, never ERROR 31', async (t) => {
  const { logic, logs } = makeLogic();
  const byCode = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 4 }), async (reqs) => {
      const bodies = reqs.map((q) => decoded(q.b));
      const sent = reqs.flatMap((q, i) => {
        const d = bodies[i]!;
        return d.ok ? [{ o: q.o, u: q.u, n: q.u, r: q.r, room: q.room, at: Date.now(), b: d.body }] : [];
      });
      if (sent.length === 0) return true;
      const replies = decode(await logic.handle(encode(sent))) as unknown[];
      if (!Array.isArray(replies) || replies.length !== sent.length) return false;
      for (const [i, r] of replies.entries()) {
        const key = `${OPS.find(([, op]) => op === sent[i]!.o)![0]}:${'e' in (r as object) ? (r as { e: number }).e : 'ok'}`;
        byCode.set(key, (byCode.get(key) ?? 0) + 1);
        if (!documentedReply(r)) return false;
      }
      return true;
    }),
    params(1500),
  );
  t.comment(`replies (op:code): ${[...byCode].sort().map(([k, n]) => `${k}=${n}`).join(' ')}`);
  t.same(logs.filter((l) => (l.level as number) >= 50), [], 'nothing logged at error level');
  // JOIN, SWITCH, RECEIVED and REFRESH are the gateway's own; MODERATE needs the moderation
  // service, which this harness leaves out (test/e2e/moderation.test.ts covers it; the e2e fuzz run sends it).
  for (const [key] of OPS) if (READERS[key] && !['Join', 'Switch', 'Received', 'Refresh', 'Moderate'].includes(key)) t.ok([...byCode.keys()].some((k) => k === `${key}:ok`), `some ${key} requests were accepted`);
});

t.test('fuzz handlers - malformed upstream requests and bytes from any NATS client get ERROR 1 replies', async (t) => {
  const { logic, logs } = makeLogic();
  // Requests with a wrong type in every field.
  const fieldOr = (good: fc.Arbitrary<Raw>) => fc.oneof(good, rawValue(2));
  const wrongRequest = anyOp.chain(([key, op]) =>
    fc.record({
      o: fieldOr(rawIntOf(op)),
      u: fieldOr(rawText('alice')),
      n: fieldOr(rawText('Alice')),
      r: fieldOr(fc.constant<Raw>({ t: 'arr', items: [{ t: 'str', bytes: new Uint8Array(Buffer.from('admin')), enc: 'fix' }], enc: 'fix' })),
      room: fieldOr(rawText('r')),
      at: fieldOr(rawIntOf(Date.now())),
      b: bodyFor(key),
    }, { requiredKeys: [] }).map((fields) => ({ t: 'map', entries: Object.entries(fields).map(([k, v]) => [{ t: 'str', bytes: new Uint8Array(Buffer.from(k)), enc: 'fix' }, v as Raw]), enc: 'fix' }) as Raw),
  );
  const batchOrOne = fc.oneof(wrongRequest, fc.array(fc.oneof(wrongRequest, rawValue(2)), { maxLength: 5 }).map((items) => ({ t: 'arr', items, enc: 'fix' }) as Raw));
  const bytes = fc.oneof(
    batchOrOne.map((r) => new Uint8Array(rawEncode(r))),
    mutated(batchOrOne.map((r) => new Uint8Array(rawEncode(r)))),
    fc.uint8Array({ maxLength: 48 }),
  );
  await fc.assert(
    fc.asyncProperty(bytes, async (data) => {
      let expected: number;
      try {
        const d = decodeRequests(data);
        expected = d === null ? 1 : d.batch ? d.reqs.length : 1;
      } catch {
        expected = 1; // undecodable: one ERROR 1
      }
      const reply = decode(await logic.handle(data));
      const replies = Array.isArray(reply) ? reply : [reply];
      return replies.length === expected && replies.every(documentedReply);
    }),
    params(2000),
  );
  t.same(logs.filter((l) => (l.level as number) >= 50), [], 'nothing logged at error level');
});

t.test('fuzz handlers - valid bodies of every known op round-trip through the decoder and are read as sent', async (t) => {
  const room = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
  const uid = fc.stringMatching(/^[A-Za-z0-9_.@:-]{1,64}$/);
  const text = (max: number) => fc.array(fc.constantFrom('a', 'Z', '7', '字', '😀', 'é', ' ', '!'), { minLength: 1, maxLength: max }).map((cs) => cs.join('')).filter((s) => s.trim() !== '');
  const cmid = fc.option(fc.stringMatching(/^[\x21-\x7e]{1,64}$/), { nil: undefined });
  const conv = fc.oneof(room.map((g) => ({ g })), uid.map((to) => ({ to })));
  const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
  const safe = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
  /** body generator and what the reader must return for it, by Op key */
  type Case = [unknown, (out: unknown) => boolean];
  const cases: Record<string, fc.Arbitrary<Case>> = {
    Join: fc.tuple(room, opt(fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.string({ minLength: 1, maxLength: 32 })))).map(([r, resume]) => [
      resume ? { room: r, since: resume[0], epoch: resume[1] } : { room: r },
      (out) => sameJson(out, { room: r, resume: resume ? { since: resume[0], epoch: resume[1] } : null }),
    ]),
    Send: fc.oneof(
      fc.tuple(text(100), opt(fc.integer({ min: 0, max: 0xffffff })), opt(fc.integer({ min: 0, max: 2 })), cmid).map(([x, c, m, id]): Case => [
        strip({ k: 1, x, c, m, id }),
        (out) => sameJson(out, { kind: 'danmaku', cmid: id, fields: { k: 1, x: x.trim(), c: c ?? 0xffffff, m: m ?? 0 } }),
      ]),
      fc.tuple(fc.stringMatching(/^[A-Za-z0-9_-]{1,32}$/), opt(fc.integer({ min: 1, max: 9999 }))).map(([g, a]): Case => [strip({ k: 3, g, a }), (out) => sameJson(out, { kind: 'gift', cmid: undefined, fields: { k: 3, g, a: a ?? 1 } })]),
    ),
    Msg: fc.tuple(conv, text(500), cmid).map(([c, x, id]) => [strip({ ...c, x, id }), (out) => sameJson(out, { target: c, x: x.trim(), cmid: id })]),
    Sync: fc.tuple(opt(safe), opt(fc.integer({ min: 1, max: 200 }))).map(([cursor, limit]) => [strip({ cursor, limit }), (out) => sameJson(out, { cursor, limit: limit ?? 200 })]),
    History: fc.tuple(conv, opt(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })), opt(fc.integer({ min: 1, max: 20 }))).map(([c, before, limit]) => [strip({ ...c, before, limit }), (out) => sameJson(out, { conv: c, before, limit: limit ?? 20 })]),
    Contacts: opt(fc.integer({ min: 1, max: 100 })).map((limit) => [strip({ limit }), (out) => sameJson(out, { limit: limit ?? 100 })]),
    Read: fc.tuple(conv, safe).map(([c, s]) => [{ ...c, s }, (out) => sameJson(out, { conv: c, s })]),
    Received: fc.array(fc.string({ minLength: 1, maxLength: 64 }), { minLength: 1, maxLength: 100 }).map((ids) => [{ ids }, (out) => sameJson(out, ids)]),
  };
  for (const [key, op] of OPS) {
    const arb = cases[key];
    if (!arb) continue;
    const read = key === 'Send' ? (b: unknown) => ({ ...validateSend(b, LIMITS), kind: validateSend(b, LIMITS).kind.name }) : READERS[key]!;
    fc.assert(
      fc.property(arb, fc.integer({ min: 0, max: 0xffffffff }), ([body, check], rid) => {
        const frame = decodeFrame(encodeFrame(op, rid, body));
        return frame.op === op && frame.rid === rid && check(read(frame.body));
      }),
      params(300),
    );
  }
  t.pass('every valid body was read as sent');
});

/** Drops the undefined fields (absent on the wire). */
function strip(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** Equality as JSON sees it (undefined fields absent). */
function sameJson(a: unknown, b: unknown): boolean {
  const norm = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(norm) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).sort(([x], [y]) => x.localeCompare(y)).map(([k, x]) => [k, norm(x)])) : v;
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
}
