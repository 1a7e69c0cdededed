// The drain's schedule (src/gateway/drain.ts): the same number of connections each tick, all
// of them by the last tick, a window of 0 at once; a share picked at random without repeats.

import t from 'tap';
import { DRAIN_TICK_MS, movedBy, pick, ticksOf } from '../../src/gateway/drain.js';

t.test('drain - movedBy: a steady number per tick, give or take one, everyone by the last tick', async (t) => {
  for (const [n, ticks] of [[200, 80], [10_000, 1200], [7, 80], [1, 1], [0, 10], [333, 7]] as const) {
    let before = 0;
    const per: number[] = [];
    for (let i = 1; i <= ticks; i++) {
      const now = movedBy(n, ticks, i);
      per.push(now - before);
      before = now;
    }
    t.equal(before, n, `${n} over ${ticks} ticks: all moved by the last`);
    t.ok(Math.max(...per) - Math.min(...per) <= 1, `${n} over ${ticks} ticks: per tick ${Math.min(...per)} to ${Math.max(...per)}`);
  }
  t.equal(movedBy(50, 10, 0), 0, 'none before the first tick');
  t.equal(movedBy(1, 1200, 1), 1, 'a lone client moves at the first tick, not at the end of the window');
  t.equal(movedBy(3, 1200, 1), 1, 'of three, one at the first tick');
  t.equal(movedBy(50, 10, 99), 50, 'all after the last (a late timer catches up)');
});

t.test('drain - ticksOf: a window in ticks of 25 ms, at least one', async (t) => {
  t.equal(DRAIN_TICK_MS, 25);
  t.equal(ticksOf(0), 1, 'a window of 0: one tick, everyone at once');
  t.equal(ticksOf(30_000), 1200);
  t.equal(ticksOf(10), 1);
  t.equal(ticksOf(26), 2);
});

t.test('drain - pick: k distinct items at random', async (t) => {
  const items = Array.from({ length: 100 }, (_, i) => i);
  const half = pick(items, 50);
  t.equal(new Set(half).size, 50, '50 distinct');
  t.ok(half.every((x) => items.includes(x)));
  t.equal(pick(items, 500).length, 100, 'at most all');
  t.same(pick(items, 0), []);
  t.same(items, Array.from({ length: 100 }, (_, i) => i), 'the input is not changed');
  let first = 0;
  for (let i = 0; i < 200; i++) if (pick([1, 2], 1)[0] === 1) first++;
  t.ok(first > 50 && first < 150, `either one (${first} of 200)`);
});
