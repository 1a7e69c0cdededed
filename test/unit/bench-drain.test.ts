// The drain bench's figures (bench/lib/drain-report.ts): reconnects in buckets aligned on the
// instant the gateway began moving clients, the average over its window, the peaks and their
// ratio; the drain's numbers read from the gateway's log lines.

import t from 'tap';
import { buckets, drainFigures, drainLog } from '../../bench/lib/drain-report.js';

t.test('bench drain - buckets count times in [from, to), t in seconds since the origin', async (t) => {
  t.same(buckets([1000, 1050, 1099, 1100, 1999, 2000], 1000, 2000, 100, 500), [
    { t: 0.5, n: 3 }, { t: 0.6, n: 1 }, { t: 0.7, n: 0 }, { t: 0.8, n: 0 }, { t: 0.9, n: 0 }, { t: 1, n: 0 }, { t: 1.1, n: 0 }, { t: 1.2, n: 0 }, { t: 1.3, n: 0 }, { t: 1.4, n: 1 },
  ]);
});

t.test('bench drain - a steady drain reads 1x; a burst shows in the peaks', async (t) => {
  const signalAt = 100_000;
  const log = { movingAt: signalAt + 1000, drainedAt: signalAt + 11_000, notReadyMs: 1000, windowMs: 10_000, connections: 1000 };
  // 1000 reconnects, one every 10 ms over the 10 s window.
  const steady = Array.from({ length: 1000 }, (_, i) => log.movingAt + 5 + i * 10);
  const f = drainFigures({ gateway: 'gw-0', signalAt, atS: 3, log, exitCode: 0, reconnects: steady, endAt: signalAt + 13_000 });
  t.match(f, { reconnects: 1000, inWindow: 1000, average: 100, peak1s: 100, peak100ms: 100, ratio1s: 1, ratio100ms: 1, firstMs: 1005, lastMs: 10_995 });
  t.equal(f.perSecond[0]!.t, 0, 'the chart buckets are aligned on the moving start (1 s before it here: the signal)');
  t.equal(f.perSecond.reduce((n, b) => n + b.n, 0), 1000, 'every reconnect in the chart');
  // Half of them at once in the window's first 100 ms.
  const burst = [...Array.from({ length: 500 }, (_, i) => log.movingAt + (i % 100)), ...steady.slice(500)];
  const b = drainFigures({ gateway: 'gw-0', signalAt, atS: 3, log, exitCode: 0, reconnects: burst, endAt: signalAt + 13_000 });
  t.equal(b.average, 100);
  t.equal(b.peak1s, 500);
  t.equal(b.ratio1s, 5, 'over the target');
  t.equal(b.peak100ms, 5000);
  t.equal(drainFigures({ gateway: 'gw-0', signalAt, atS: 3, log, exitCode: null, reconnects: [signalAt - 5], endAt: signalAt }).reconnects, 0, 'reconnects before the signal are not the drain\'s');
});

t.test('bench drain - drainLog reads the moving and drained lines', async (t) => {
  const plan = { share: 1, connections: 2000, moving: 2000, notReadyMs: 1000, windowMs: 10_000, by: 'signal' };
  t.same(drainLog([{ msg: 'listening' }, { msg: 'draining: moving connections', time: 5, plan }, { msg: 'drained: refusing new connections', time: 9, plan }]), { movingAt: 5, drainedAt: 9, notReadyMs: 1000, windowMs: 10_000, connections: 2000 });
  t.same(drainLog([]), { movingAt: null, drainedAt: null, notReadyMs: 0, windowMs: 0, connections: 0 }, 'no lines: nothing known');
});
