import t from 'tap';
import { frameHead, scanBatch } from '../../bench/lib/scan.js';
import { encodeBodyWithItems, encodeFrame, encodeFrameWithBody } from '../../src/protocol/codec.js';
import { encodeItem } from '../../src/protocol/items.js';
import { Op } from '../../src/protocol/ops.js';
import { Kind } from '../../src/protocol/kinds.js';

t.test('bench scan - reads a BATCH as the server builds it, and as a plain encoder does', async (t) => {
  const items = [
    encodeItem({ s: 7, k: Kind.Danmaku, u: 'alice', n: '爱丽丝', t: 1795412451821, x: '主播好厉害！！666', c: 0xffffff, m: 0 }),
    encodeItem({ s: 70000, k: Kind.Like, u: '', t: 1795412451822.5, a: 300 }),
    encodeItem({ s: 0, k: Kind.Gift, u: 'shop', n: 'x'.repeat(40), t: 1, g: 'rocket', a: 3 }),
  ];
  const spliced = encodeFrameWithBody(Op.Batch, 0, encodeBodyWithItems({ r: 'room-1', s: 12 }, 'd', items));
  const plain = encodeFrame(Op.Batch, 0, { r: 'room-1', s: 12, d: [{ s: 7, k: 1, u: 'alice', t: 1795412451821, x: 'y'.repeat(300) }, { s: 70000, k: 2, t: 1795412451822.5, a: 300 }, { s: 0, k: 3, t: 1, g: 'rocket', a: 3 }] });
  for (const frame of [spliced, plain]) {
    const head = frameHead(frame);
    t.equal(head.op, Op.Batch);
    const b = scanBatch(head.cursor);
    t.equal(b.room, 'room-1');
    t.equal(b.shed, 12);
    t.same(b.items, [
      { s: 7, k: 1, t: 1795412451821, a: 1 },
      { s: 70000, k: 2, t: 1795412451822.5, a: 300 },
      { s: 0, k: 3, t: 1, a: 3 },
    ]);
  }
});

t.test('bench scan - reads the head of a PONG (the heartbeat answer) and can skip its body', async (t) => {
  for (const body of [{ t: 1795412451821 }, { t: 1795412451821.5 }, { t: 5 }]) {
    const frame = encodeFrame(Op.Pong, 70000, body);
    const head = frameHead(frame);
    t.equal(head.op, Op.Pong);
    t.equal(head.rid, 70000);
    head.cursor.skip();
    t.equal(head.cursor.pos, frame.length, 'the body is one value that ends the frame');
  }
});
