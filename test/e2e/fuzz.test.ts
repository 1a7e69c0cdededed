// A bounded fuzz run against the real standalone server: raw connections (signed-in users and a
// guest) send frames of every class below for a few seconds, while a bystander in a room of
// its own receives a steady stream of gifts from another client. The server must stay up, answer
// fuzz frames only with documented frames (an ERROR of the catalogue, or a reply op of the
// table) or close codes of the catalogue, log nothing at error level, and deliver every one of
// the bystander's items in order. The frames are sampled from fast-check arbitraries with the
// run's seed (printed; FUZZ_SEED=<n> replays it); the counts are printed at the end.

import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import t from 'tap';
import type { DanmakuClient } from '../../src/client/client.js';
import { RequestFailed } from '../../src/client/client.js';
import { decode, encodeFrame } from '../../src/protocol/codec.js';
import { CloseCodes, Errors } from '../../src/protocol/errors.js';
import { Kind } from '../../src/protocol/kinds.js';
import { Op } from '../../src/protocol/ops.js';
import { frameFor, fuzzSeed, mutated, OPS, rawDeep, rawEncode, rawInt, rawIntOf, rawStr, rawText, rawValue, UNICODE_EDGES, type Raw } from '../helpers/fuzz.js';
import { clientFrame, closeOf, RawConnection, rawUpgrade, type RawFrame } from '../helpers/raw-ws.js';
import { sleep, startServer, waitFor } from '../helpers/server.js';

const MAX_FRAME = 4096;
/** MAX_TOKEN_BYTES: a REFRESH frame may exceed MAX_FRAME by this much (docs/protocol.md, "REFRESH") */
const MAX_TOKEN = 4096;
/** uWS cuts the TCP connection (no close code) above 4x the limit (gateway.ts): stay below it. */
const HARD_CAP = MAX_FRAME * 4;
const BUDGET_MS = 6000;
const MAX_FRAMES = 6000;
const WORKERS = 4;
const ROOM = 'bystander-q7Zx41';

const ERROR_CODES = new Set<number>(Object.values(Errors).map((e) => e.code));
const CLOSE_CODES = new Set<number>(Object.values(CloseCodes).map((c) => c.code));
const OP_CODES = new Set<number>(Object.values(Op));

interface FuzzFrame {
  readonly cls: string;
  readonly bytes: Uint8Array;
  /** a text frame (0x1) instead of binary */
  readonly text?: boolean;
}

const u8 = (raw: Raw) => new Uint8Array(rawEncode(raw));
const arr = (...items: Raw[]): Raw => ({ t: 'arr', items, enc: 'fix' });
const map = (fields: Record<string, Raw>): Raw => ({ t: 'map', entries: Object.entries(fields).map(([k, v]) => [{ t: 'str', bytes: new Uint8Array(Buffer.from(k)), enc: 'fix' }, v]), enc: 'fix' });
const str = (s: string): Raw => ({ t: 'str', bytes: new Uint8Array(Buffer.from(s)), enc: 'fix' });
const anyOp = fc.constantFrom(...OPS);
const rid = fc.integer({ min: 0, max: 0xffffffff }).chain(rawIntOf);

/** The frame classes of the brief, each an arbitrary of frames. */
const CLASSES: Record<string, fc.Arbitrary<Omit<FuzzFrame, 'cls'>>> = {
  random: fc.uint8Array({ minLength: 1, maxLength: 96 }).map((bytes) => ({ bytes })),
  mutated: mutated(anyOp.chain(([k, op]) => frameFor(k, op)).map(u8)).map((bytes) => ({ bytes })),
  // Plausible bodies with wrong types in their fields, and wrong types for op and rid.
  wrongTypes: fc.oneof(
    anyOp.chain(([k, op]) => frameFor(k, op)),
    fc.tuple(rawValue(2), rawValue(2), anyOp.chain(([k, op]) => frameFor(k, op))).map(([o, r, f]) => arr(o, r, (f as Extract<Raw, { t: 'arr' }>).items[2] ?? { t: 'nil' })),
  ).map((r) => ({ bytes: u8(r) })),
  // Strings, arrays and maps up to and beyond the frame limit (below uWS' hard cap).
  huge: fc.tuple(anyOp, rid, fc.integer({ min: MAX_FRAME / 4, max: HARD_CAP - 64 }), fc.constantFrom('str', 'arr', 'map', 'ids')).map(([[, op], r, n, shape]) => {
    const s: Raw = { t: 'str', bytes: new Uint8Array(n).fill(0x61), enc: '32' };
    const body =
      shape === 'str' ? map({ k: { t: 'int', v: 1n, enc: 'pfix' }, x: s }) :
      shape === 'arr' ? { t: 'arr', items: Array.from({ length: n }, () => ({ t: 'int', v: 1n, enc: 'pfix' }) as Raw), enc: '32' } as Raw :
      shape === 'map' ? { t: 'map', entries: Array.from({ length: n >> 3 }, (_, i) => [{ t: 'str', bytes: new Uint8Array(Buffer.from(`k${i}`)), enc: 'fix' }, { t: 'nil' }] as [Raw, Raw]), enc: '32' } as Raw :
      map({ ids: { t: 'arr', items: Array.from({ length: n >> 4 }, (_, i) => ({ t: 'str', bytes: new Uint8Array(Buffer.from(`id-${i}-xxxxxx`)), enc: 'fix' }) as Raw), enc: '16' } });
    return { bytes: u8(arr({ t: 'int', v: BigInt(op), enc: 'pfix' }, r, body)) };
  }).filter((f) => f.bytes.length < HARD_CAP),
  deep: fc.tuple(anyOp, rawDeep).map(([[, op], d]) => ({ bytes: u8(arr({ t: 'int', v: BigInt(op), enc: 'pfix' }, { t: 'int', v: 5n, enc: 'pfix' }, d)) })),
  // Integers of every width (and floats, NaN, Infinity) as op, rid and in every integer field.
  ints: fc.tuple(anyOp, fc.boolean(), rawInt, fc.oneof(rawInt, rawIntOf(1)), fc.constantFrom('k', 'a', 'c', 'm', 'since', 'cursor', 'limit', 'before', 's'), fc.oneof(rawInt, rawIntOf(3), fc.constantFrom<Raw>({ t: 'f64', v: NaN }, { t: 'f32', v: Infinity }, { t: 'f64', v: -Infinity }, { t: 'f32', v: 1.5 })))
    .map(([[, op], randomOp, o, r, field, v]) => {
      const body = map({ k: { t: 'int', v: 3n, enc: 'i8' }, g: str('rose'), room: str('fz'), epoch: str('e'), [field]: v });
      return { bytes: u8(arr(randomOp ? o : { t: 'int', v: BigInt(op), enc: 'u64' }, r, body)) };
    }),
  // Unicode edges in every text field: rooms, texts, ids, uids, epochs.
  unicode: fc.tuple(anyOp, rid, fc.constantFrom('room', 'x', 'id', 'to', 'g', 'epoch'), fc.oneof(rawStr, fc.constantFrom(...UNICODE_EDGES).chain(([, h]) => fc.constant<Raw>({ t: 'str', bytes: new Uint8Array(Buffer.from(`ok${Buffer.from(h, 'hex').toString('latin1')}`, 'latin1')), enc: '8' })), fc.constantFrom('\u202egnp.exe', '\u200b', 'a\u0301\u0302', '😀'.repeat(40), '\uffff').chain(rawText)))
    .map(([[, op], r, field, v]) => ({ bytes: u8(arr({ t: 'int', v: BigInt(op), enc: 'pfix' }, r, map({ k: { t: 'int', v: 1n, enc: 'pfix' }, x: str('hi'), [field]: v }))) })),
  text: fc.oneof(fc.uint8Array({ maxLength: 32 }), fc.string().map((s) => new Uint8Array(Buffer.from(s)))).map((bytes) => ({ bytes, text: true })),
};

/** The classes' shares of the frames: text frames close their connection, so they are few. */
const WEIGHTS: Record<string, number> = { random: 16, mutated: 24, wrongTypes: 24, huge: 3, deep: 6, ints: 12, unicode: 12, text: 1 };

interface Tally {
  sent: Map<string, number>;
  errors: Map<string, number>;
  replies: Map<string, number>;
  closes: Map<number, number>;
  problems: string[];
}

const bump = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);

async function openRaw(port: number, token: string | undefined): Promise<RawConnection> {
  const up = await rawUpgrade(port, token ? `/?token=${token}` : '/');
  if (up.status !== 101) throw new Error(`upgrade answered ${up.status}`);
  return new RawConnection(up.socket, up.rest);
}

/**
 * Checks every frame a fuzz connection received, and notes them in the tally. `cut`: the last
 * frame sent was one the WebSocket library refuses itself, without a close frame (documented in
 * docs/protocol.md "Close codes" as 1006): a text message that is not valid UTF-8.
 */
function audit(frames: RawFrame[], trailing: number, tally: Tally, last: string, expected: number): void {
  let closed = false;
  for (const f of frames) {
    if (f.opcode === 0x8) {
      const c = closeOf(f)!;
      bump(tally.closes, c.code);
      if (!CLOSE_CODES.has(c.code) || c.code !== expected) tally.problems.push(`close ${c.code} ${c.reason} (expected ${expected}) after ${last}`);
      closed = true;
      continue;
    }
    if (f.opcode !== 0x2) {
      tally.problems.push(`WebSocket opcode ${f.opcode}`);
      continue;
    }
    let v: unknown;
    try {
      v = decode(f.payload);
    } catch {
      tally.problems.push(`undecodable frame ${f.payload.toString('hex').slice(0, 80)}`);
      continue;
    }
    const [op, , body] = Array.isArray(v) ? v : [];
    if (typeof op !== 'number' || !OP_CODES.has(op)) {
      tally.problems.push(`undocumented op in ${JSON.stringify(v).slice(0, 120)}`);
      continue;
    }
    const name = OPS.find(([, o]) => o === op)![0];
    bump(tally.replies, name);
    if (op === Op.Error) {
      const code = (body as { code?: unknown } | null)?.code;
      bump(tally.errors, `${code} ${(body as { reason?: unknown }).reason}`);
      // ERROR 31 means an exception in a handler: a bug, whatever the input.
      if (typeof code !== 'number' || !ERROR_CODES.has(code) || code === Errors.Internal.code) tally.problems.push(`ERROR ${JSON.stringify(body)}`);
    }
  }
  if (!closed) {
    bump(tally.closes, 1006);
    if (expected !== 1006) tally.problems.push(`connection ended without a close frame (${trailing} bytes cut) after ${last}`);
  }
}

t.test('fuzz e2e - frames of every class: documented replies only, the server stays up, a bystander is undisturbed', async (t) => {
  const seed = fuzzSeed((m) => t.comment(m));
  const srv = await startServer({
    MAX_FRAME_BYTES: String(MAX_FRAME),
    MAX_TOKEN_BYTES: String(MAX_TOKEN),
    // The fuzz is to reach the decoder and the handlers, not the frame budget (test/e2e/bad-input.test.ts has it).
    CONN_FRAME_RATE: '100000',
    CONN_FRAME_BURST: '200000',
    USER_MESSAGE_RATE: '100000',
    USER_MESSAGE_BURST: '100000',
  });
  t.teardown(() => srv.stop());

  // The sample: frames of each class in proportion, shuffled by the seed.
  const classArb = fc.oneof(...Object.entries(CLASSES).map(([cls, a]) => ({ weight: WEIGHTS[cls]!, arbitrary: a.map((f) => ({ cls, ...f }) as FuzzFrame) })));
  const frames = fc.sample(classArb, { seed, numRuns: MAX_FRAMES });

  const bystander = await srv.connect('bystander');
  await bystander.join(ROOM);
  const received: number[] = [];
  bystander.on('frame', (f: { op: number; body: { d?: { u?: string; k?: number; a?: number }[] } }) => {
    if (f.op !== Op.Batch) return;
    for (const it of f.body.d ?? []) if (it.u === 'sender' && it.k === Kind.Gift) received.push(it.a!);
  });
  const sender = await srv.connect('sender');
  await sender.join(ROOM);

  const tally: Tally = { sent: new Map(), errors: new Map(), replies: new Map(), closes: new Map(), problems: [] };
  const started = Date.now();
  const deadline = started + BUDGET_MS;
  let next = 0;
  let connections = 0;

  // The steady stream: one gift every 40 ms, each retried (same id) until acknowledged.
  const acked: number[] = [];
  let refusedSends = 0;
  const stream = (async () => {
    for (let i = 1; Date.now() < deadline; i++) {
      for (;;) {
        try {
          await sender.send({ k: Kind.Gift, g: 'rose', a: i, id: `gift-${i}` });
          acked.push(i);
          break;
        } catch (err) {
          if (!(err instanceof RequestFailed)) throw err;
          refusedSends++;
          await sleep(Number(err.frame.body.retryMs ?? 100));
        }
      }
      await sleep(40);
    }
  })();

  const worker = async (w: number) => {
    // Signed-in users (their SENDs and reads reach the logic) and one guest.
    const token = w === WORKERS - 1 ? undefined : srv.token(`fuzz-${w}`);
    while (Date.now() < deadline && next < frames.length) {
      const conn = await openRaw(srv.port, token);
      connections++;
      conn.send(encodeFrame(Op.Join, 1, { room: `fz-${w}` }));
      let last = 'JOIN';
      let expected: number = CloseCodes.Normal.code;
      let closing = false;
      for (let n = 0; Date.now() < deadline && next < frames.length; n++) {
        const f = frames[next++]!;
        bump(tally.sent, f.cls);
        last = `${f.cls} ${Buffer.from(f.bytes).toString('hex').slice(0, 200)}`;
        conn.socket.write(clientFrame(f.bytes, f.text ? 0x1 : 0x2));
        // A frame whose first bytes say REFRESH ([6, ...]: 0x93 0x06) may be MAX_TOKEN bytes longer.
        const refresh = f.bytes[0] === 0x93 && f.bytes[1] === Op.Refresh && f.bytes.length <= MAX_FRAME + MAX_TOKEN;
        if (f.text || (f.bytes.length > MAX_FRAME && !refresh)) {
          // uWS cuts a text message that is not UTF-8 before the server sees it (no close frame).
          expected = !f.text ? CloseCodes.TooLarge.code : isUtf8(f.bytes) ? CloseCodes.TextFrame.code : 1006;
          closing = true;
          break;
        }
        if (n % 16 === 15) await sleep(2); // let the replies come back
      }
      if (!closing) conn.socket.write(clientFrame(Buffer.from([0x03, 0xe8]), 0x8)); // close 1000
      const timer = setTimeout(() => conn.socket.destroy(), 5000);
      const { frames: got, trailing } = await conn.ended;
      clearTimeout(timer);
      audit(got, trailing, tally, last, expected);
    }
  };
  await Promise.all([...Array.from({ length: WORKERS }, (_, w) => worker(w)), stream]);
  const elapsed = Date.now() - started;

  // Every acknowledged gift reaches the bystander, in order.
  await waitFor(() => received.length >= acked.length, 5000, 'the bystander to receive every gift').catch(() => undefined);
  t.same(received, acked, `the bystander received all ${acked.length} gifts in order`);
  t.ok(acked.length >= (BUDGET_MS / 40) * 0.3, `a steady stream: ${acked.length} gifts acknowledged (${refusedSends} refused and retried)`);

  // The server is up and answers.
  const probe = await srv.connect('probe');
  t.equal((await probe.request(Op.Ping, null)).op, Op.Pong, 'the server still answers');
  probe.close();
  sender.close();
  bystander.close();
  await sleep(100);
  t.same(srv.logs.filter((l) => (l.level as number) >= 50), [], 'nothing logged at error level');
  t.same(tally.problems.slice(0, 20), [], 'every reply was documented');

  const total = [...tally.sent.values()].reduce((a, b) => a + b, 0);
  const line = (m: Map<string | number, number>) => [...m].sort((a, b) => String(a[0]).localeCompare(String(b[0]))).map(([k, n]) => `${k}: ${n}`).join(', ');
  t.comment(`fuzz e2e: ${total} frames on ${connections} connections in ${elapsed} ms (at most ${MAX_FRAMES} frames or ${BUDGET_MS} ms)`);
  t.comment(`frames sent per class: ${line(tally.sent)}`);
  t.comment(`replies per op: ${line(tally.replies)}`);
  t.comment(`ERROR frames per code: ${line(tally.errors)}`);
  t.comment(`closes per code: ${line(tally.closes)}`);
  t.ok(total > 500, 'a useful number of frames was sent');
});
