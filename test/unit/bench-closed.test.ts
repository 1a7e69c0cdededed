import t from 'tap';
import { combine, type Snapshot } from '../../bench/lib/fleet.js';
import { Histogram } from '../../bench/lib/histogram.js';
import { addLoss, lossOf } from '../../bench/lib/loss.js';
import { checkSlo } from '../../bench/lib/options.js';
import { closedSummary } from '../../bench/lib/run.js';

const expected = { hot: { danmaku: 100, likes: 40, gifts: 5 } };

t.test('bench closed connections - loss counts only viewers that stayed open; closed ones are counted apart', async (t) => {
  const loss = lossOf(
    [
      { room: 'hot', open: true, danmaku: 90, shed: 10, likes: 40, gifts: 5 }, // saw or was told of everything
      { room: 'hot', open: true, danmaku: 99, shed: 0, likes: 39, gifts: 4 }, // really lost 1 of each
      { room: 'hot', open: false, danmaku: 3, shed: 0, likes: 1, gifts: 0 }, // closed early: not loss
      { room: 'quiet', open: false, danmaku: 0, shed: 0, likes: 0, gifts: 0 }, // a room without traffic
    ],
    expected,
  );
  t.same(loss, { danmaku: 1, likes: 1, gifts: 1, viewers: 2, closedViewers: 1 });
  t.same(addLoss(loss, loss), { danmaku: 2, likes: 2, gifts: 2, viewers: 4, closedViewers: 2 }, 'threads add up');
});

t.test('bench closed connections - close codes from every thread are summed and named', async (t) => {
  const snap = (closed: number, closeCodes: Record<string, number>): Snapshot => {
    const h = new Histogram().encode();
    return { connected: 10, failed: 0, closed, closeCodes, join: h, delay: h, ack: h, items: 0, frames: 0, wireBytes: 0, payloadBytes: 0, duplicates: 0, isolation: 0, errors: {}, sent: {}, switches: 0, giftDelay: h, resumed: 0, resumeTime: h, resumeJoin: h, outcomes: {}, recoveredItems: 0, replayDuplicates: 0, dialFailures: 0, senderResumes: 0, epochResets: 0, reconnects: [], pendingAcks: 0, offered: 0, refused: {}, timeouts: 0, late: 0 };
  };
  const total = combine([snap(3, { 4001: 2, 1006: 1 }), snap(2, { 4001: 1, 4002: 1 }), snap(0, {})]);
  t.equal(total.connected, 30);
  t.equal(total.closed, 5);
  t.same(total.closeCodes, { 4001: 3, 1006: 1, 4002: 1 });
  t.equal(closedSummary(total), '5 closed: 4001 idle_timeout x3, 1006 abnormal x1, 4002 slow_consumer x1');
  t.equal(closedSummary({ closed: 0, closeCodes: {} }), '', 'nothing shown when none closed');
});

t.test('bench closed connections - an SLO gate fails on them', async (t) => {
  const figures = { closed: 2, loss: 0 };
  t.same(checkSlo('closed=0,loss=0', figures).map((s) => s.ok), [false, true]);
  t.same(checkSlo('closed=2', figures).map((s) => s.ok), [true]);
});
