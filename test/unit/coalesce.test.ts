import t from 'tap';
import { batchesOf, Coalescer } from '../../src/coalesce.js';

t.test('coalescer - the calls of one turn run as batches bounded in count and weight', async (t) => {
  const batches: number[][] = [];
  const c = new Coalescer<number, number>(async (xs) => (batches.push(xs), xs.map((x) => x * 2)), { max: 4, maxWeight: 10, weight: (x) => x });
  const inputs = [1, 1, 1, 1, 1, 9, 9, 20, 1];
  t.same(await Promise.all(inputs.map((x) => c.call(x))), inputs.map((x) => x * 2), 'each caller gets its own result');
  t.same(batches, [[1, 1, 1, 1], [1, 9], [9], [20], [1]], 'at most 4 per batch, at most 10 in weight unless one input weighs more');
});

t.test('coalescer - a failed batch, or one answering the wrong number of results, fails each of its callers', async (t) => {
  const failing = new Coalescer<number, number>(async () => {
    throw new Error('down');
  }, 10);
  await t.rejects(Promise.all([failing.call(1), failing.call(2)]), /down/);
  const short = new Coalescer<number, number>(async (xs) => xs.slice(1), 10);
  const results = await Promise.allSettled([short.call(1), short.call(2)]);
  t.same(
    results.map((r) => r.status),
    ['rejected', 'rejected'],
    'nobody gets another caller\'s result or undefined',
  );
});

t.test('batchesOf - runs in order, within count and weight; a heavy element alone', async (t) => {
  t.same(batchesOf([1, 2, 3], 10), [[1, 2, 3]]);
  t.same(batchesOf([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
  t.same(batchesOf([5, 5, 1, 20, 1], 10, 10, (x) => x), [[5, 5], [1], [20], [1]]);
  t.same(batchesOf([], 3, 10, (x: number) => x), []);
});
