// The --overload report's level steps (bench/lib/report.ts): which signal raised the level.

import t from 'tap';
import { stepsSummary } from '../../bench/lib/report.js';

t.test('bench degrade - the steps of a server by direction and the signals that raised it', async (t) => {
  t.equal(stepsSummary({ 'up:lag': 1, 'up:outbound': 0, 'up:cpu': 2, 'down:none': 1 }), 'up 3 (lag 1, cpu 2), down 1');
  t.equal(stepsSummary({ 'up:lag': 0, 'up:outbound': 0, 'up:cpu': 0, 'down:none': 0 }), 'up 0, down 0', 'DEGRADE=off: all at 0');
  t.equal(stepsSummary(null), 'not read (its /metrics did not answer)');
});
