import t from 'tap';
import { MAX_SEQ_JUMP } from '../../src/gateway/room-hub.js';
import { encodeItem, MAX_SEQ } from '../../src/protocol/items.js';
import { Kind } from '../../src/protocol/kinds.js';
import { testHub } from '../helpers/rooms.js';
import { metricValue } from '../helpers/server.js';

/** A hub whose store says the room is at `current`, and what it sends. */
async function hubAt(current: number | Error) {
  const sequencer = { current: async () => (current instanceof Error ? Promise.reject(current) : current) };
  const { hub, metrics, sent: bodies } = testHub({ sequencer }, { mergeWindowMs: 0 });
  const sent = () => bodies.flatMap((b) => (b.d ?? []).map((d) => d.s));
  hub.join(await hub.acquire('r'));
  const push = (s: number) => hub.roomMessage('r', encodeItem({ s, k: Kind.Gift, u: 'shop', t: Date.now(), g: 'rose', a: 1 }), false);
  const dropped = async () => metricValue(await metrics.registry.metrics(), 'danmaku_dropped_total', { reason: 'bad_item_seq' });
  return { hub, sent, push, dropped };
}

t.test('rooms - a bogus seq cannot pin a fresh room: the bound is anchored on the store', async (t) => {
  const { sent, push, dropped } = await hubAt(0);
  push(MAX_SEQ); // in range, but far past where the room's numbering stands
  push(1);
  t.same(sent(), [1]);
  t.equal(await dropped(), 1);
});

t.test('rooms - a room whose numbering is far along takes its next seqs, and no jump past the bound', async (t) => {
  const { sent, push, dropped } = await hubAt(50_000_000);
  push(50_000_001);
  push(50_000_001 + MAX_SEQ_JUMP + 1);
  push(0); // unsequenced: always fine
  t.same(sent(), [50_000_001, 0]);
  t.equal(await dropped(), 1);
});

t.test('rooms - while the store cannot say, the bound follows what the room has shown', async (t) => {
  const { sent, push, dropped } = await hubAt(new Error('Redis down'));
  push(7);
  push(7 + MAX_SEQ_JUMP + 1);
  push(8);
  t.same(sent(), [7, 8]);
  t.equal(await dropped(), 1);
});
