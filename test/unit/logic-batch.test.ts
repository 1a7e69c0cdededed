// The logic service's answer to upstream batches: one reply per request, in order; past
// LOGIC_MAX_INFLIGHT the rest is refused with ERROR 32; what is not a request, and a batch
// over the size a gateway sends, are refused as bad frames, not counted as load shed.

import t from 'tap';
import { Logic } from '../../src/logic/logic.js';
import { MAX_BATCH_REQUESTS } from '../../src/logic/upstream.js';
import { Metrics } from '../../src/metrics.js';
import { decode, encode } from '../../src/protocol/codec.js';
import { Errors } from '../../src/protocol/errors.js';
import { Kind } from '../../src/protocol/kinds.js';
import { Op } from '../../src/protocol/ops.js';
import { memoryLogic } from '../helpers/memory-logic.js';
import { metricValue } from '../helpers/server.js';

function logic(maxInflight: number): { logic: Logic; metrics: Metrics } {
  return memoryLogic({ logicMaxInflight: maxInflight, userMessageRate: 1000 });
}

const req = (i: number) => ({ o: Op.Send, u: 'alice', n: 'alice', r: [], room: 'r', at: Date.now(), b: { k: Kind.Danmaku, x: `m${i}` } });

t.test('logic batch - one reply per request in order; past the bound ERROR 32 with retryMs; junk entries are bad frames', async (t) => {
  const { logic: l, metrics } = logic(2);
  const replies = decode(await l.handle(encode([req(0), null, req(1), req(2), 'junk']))) as Record<string, unknown>[];
  t.equal(replies.length, 5);
  t.match(replies[0], { s: 1 });
  t.match(replies[1], { e: Errors.BadFrame.code }, 'null: a bad frame, wherever it is');
  t.match(replies[2], { e: Errors.Overloaded.code }, 'the third entry is past the bound of 2');
  t.ok(Number.isInteger(replies[2]!.r) && (replies[2]!.r as number) > 0, 'with a retry hint');
  t.match(replies[3], { e: Errors.Overloaded.code });
  t.match(replies[4], { e: Errors.BadFrame.code }, 'a string: a bad frame, not load shed');
  const text = await metrics.registry.metrics();
  t.equal(metricValue(text, 'danmaku_upstream_shed_total', { where: 'logic' }), 2, 'only real requests count as shed');
  t.equal(metricValue(text, 'danmaku_upstream_messages_total', { kind: 'unknown', result: 'bad_frame' }), 2);
  t.match(decode(await l.handle(encode(req(3)))), { s: 2 }, 'a single request (a map) gets a single reply');
});

t.test('logic batch - a batch longer than a gateway sends is refused with one error, without handling it', async (t) => {
  const { logic: l } = logic(100_000);
  const reply = decode(await l.handle(encode(Array.from({ length: MAX_BATCH_REQUESTS + 1 }, (_, i) => req(i))))) as Record<string, unknown>;
  t.match(reply, { e: Errors.BadFrame.code }, 'one error reply, small whatever the batch');
  t.match(decode(await l.handle(encode([req(0)]))), [{ s: 1 }], 'nothing of it was published');
  const nils = decode(await l.handle(encode(Array(40_000).fill(null)))) as Record<string, unknown>;
  t.match(nils, { e: Errors.BadFrame.code }, '40,000 nils: one small reply, not 40,000');
});

t.test('logic batch - a request whose at is not a 13-digit ms time is malformed (it would be a stored t)', async (t) => {
  const { logic: l } = logic(100);
  const bad = [0, 1, 999_999_999_999, 1e13, 1.5e12 + 0.5, Number.NaN, '1700000000000', -1.7e12];
  const replies = decode(await l.handle(encode([...bad.map((at) => ({ ...req(0), at })), req(1)]))) as Record<string, unknown>[];
  for (const [i, at] of bad.entries()) t.match(replies[i], { e: Errors.BadFrame.code }, `at ${String(at)}`);
  t.match(replies[bad.length], { s: 1 }, 'a good one beside them is handled');
});
