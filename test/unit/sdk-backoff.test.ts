// The SDK's backoff (src/sdk/backoff.ts): full jitter, delay in [0, min(maxMs, baseMs * 2^attempt)),
// the attempt counter reset by reset().

import t from 'tap';
import { Backoff, backoffCap } from '../../src/sdk/backoff.js';

t.test('sdk backoff - caps double from baseMs up to maxMs', async (t) => {
  t.same([0, 1, 2, 3, 4, 5, 6, 7].map((a) => backoffCap(a, 500, 30_000)), [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
  t.equal(backoffCap(10_000, 500, 30_000), 30_000, 'no overflow for a huge attempt count');
});

t.test('sdk backoff - full jitter: the extremes of random() give 0 and just under the cap', async (t) => {
  const low = new Backoff({ baseMs: 100, maxMs: 1000 }, () => 0);
  t.same([low.next(), low.next(), low.next()], [0, 0, 0]);
  const high = new Backoff({ baseMs: 100, maxMs: 1000 }, () => 0.999999);
  t.same([1, 2, 3, 4, 5, 6].map(() => high.next()), [99, 199, 399, 799, 999, 999]);
  t.equal(high.attempt, 6);
});

t.test('sdk backoff - with Math.random every delay is within its bounds, and reset() starts over', async (t) => {
  const b = new Backoff({ baseMs: 50, maxMs: 400 });
  for (let round = 0; round < 200; round++) {
    const cap = backoffCap(b.attempt, 50, 400);
    const d = b.next();
    if (!(d >= 0 && d < cap && Number.isInteger(d))) t.fail(`delay ${d} outside [0, ${cap})`);
    if (round % 10 === 9) b.reset();
  }
  b.reset();
  t.equal(b.attempt, 0);
  const sums = Array.from({ length: 2000 }, () => {
    b.reset();
    return b.next();
  });
  t.ok(Math.max(...sums) < 50, 'after reset the first delay is below baseMs again');
  t.ok(new Set(sums).size > 20, 'spread out, not one value');
});

t.test('sdk backoff - defaults are 500 ms and 30 s; a maxMs below baseMs is raised to it', async (t) => {
  const d = new Backoff({}, () => 0.999999);
  t.equal(d.next(), 499);
  for (let i = 0; i < 20; i++) d.next();
  t.equal(d.next(), 29_999);
  const odd = new Backoff({ baseMs: 1000, maxMs: 10 }, () => 0.999999);
  t.equal(odd.next(), 999);
});
