import t from 'tap';
import { Histogram } from '../../bench/lib/histogram.js';

// Within HdrHistogram's 3 significant digits (0.1%), plus the 1 us recording resolution.
const near = (actual: number, expected: number) => Math.abs(actual - expected) <= expected * 0.001 + 0.001;

t.test('bench histogram - halves recorded in two workers, encoded and merged, give the percentiles of the whole', async (t) => {
  const a = new Histogram();
  const b = new Histogram();
  for (let ms = 1; ms <= 10_000; ms++) (ms % 2 ? a : b).record(ms);
  // What crosses postMessage: a structured clone of the encoded form.
  const merged = new Histogram();
  for (const h of [a, b]) merged.add(Histogram.decode(structuredClone(h.encode())));
  t.equal(merged.count, 10_000);
  t.equal(merged.max, 10_000, 'the max is exact');
  for (const [q, want] of [[0.5, 5000], [0.9, 9000], [0.99, 9900], [0.999, 9990]] as const) {
    const got = merged.quantile(q);
    t.ok(near(got, want), `p${q * 100} = ${got}, want ${want} within 0.1%`);
  }
  t.not(merged.quantile(0.9), merged.quantile(0.99), 'p90 and p99 are told apart');
});

t.test('bench histogram - sub-millisecond values keep their precision; reset empties it; no data is 0', async (t) => {
  const h = new Histogram();
  t.equal(h.quantile(0.99), 0);
  for (let i = 0; i < 100; i++) h.record(0.25);
  h.record(-3); // a clock step: counted as 0
  t.equal(h.count, 101);
  t.ok(near(h.quantile(0.5), 0.25), `p50 ${h.quantile(0.5)}`);
  t.equal(h.quantile(0), 0);
  h.reset();
  t.equal(h.count, 0);
  t.equal(h.max, 0);
  t.equal(h.quantile(0.5), 0);
});

t.test('bench histogram - a long run (values up to minutes) does not lose range or counts', async (t) => {
  const total = new Histogram();
  for (let s = 0; s < 120; s++) {
    const interval = new Histogram();
    for (let i = 0; i < 1000; i++) interval.record(40 + (i % 100));
    interval.record(180_000);
    total.add(Histogram.decode(interval.encode()));
  }
  t.equal(total.count, 120 * 1001);
  t.equal(total.max, 180_000);
  t.ok(near(total.quantile(0.5), 90), `p50 ${total.quantile(0.5)}`);
  t.ok(near(total.quantile(1), 180_000), `p100 ${total.quantile(1)}`);
});
