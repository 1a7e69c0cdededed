import t from 'tap';
import { callsBetween, parseCommandStats, totalCalls } from '../../bench/lib/infra-stats.js';
import { ackedLossPart, mergeAckedLoss, type Acked } from '../../bench/lib/loss.js';
import { PendingReplies } from '../../bench/lib/pending.js';
import { ceilingOf, recoverySeconds, stepFailures, type Second, type Window } from '../../bench/lib/rate-phases.js';
import { SeqSet } from '../../bench/lib/seq-set.js';
import { parseUpstreamOptions } from '../../bench/lib/upstream-options.js';
import { checksOf, refusals } from '../../bench/lib/upstream-report.js';
import type { UpstreamRun } from '../../bench/lib/upstream-run.js';

const win = (w: Partial<Window>): Window => ({ phase: 'step', rate: 1000, seconds: 3, offered: 1000, accepted: 1000, acceptedCount: 3000, p50: 2, p99: 10, max: 20, refused: {}, timeouts: 0, late: 0, genCores: 0.5, cores: {}, ...w });
const sec = (s: Partial<Second>): Second => ({ t: 1, phase: 'recover', rate: 500, offered: 500, accepted: 500, p50: 2, p99: 10, refused: {}, timeouts: 0, late: 0, closed: 0, pending: 0, genCores: 0, cores: {}, ...s });

t.test('bench upstream - a step passes with accepted ≥ 0.98x offered and ACK p99 under 50 ms, and says why it fails', async (t) => {
  t.same(stepFailures(win({})), []);
  t.same(stepFailures(win({ accepted: 979 })), ['accepted 0.98x offered']);
  t.same(stepFailures(win({ p99: 50 })), ['ACK p99 50 ms']);
  t.same(stepFailures(win({ offered: 900, accepted: 900 })), ['offered only 0.90x the planned rate (load generator)']);
  t.same(stepFailures(win({ offered: 0, accepted: 0 })).length, 1, 'nothing offered is a failure, not a division by zero');
});

t.test('bench upstream - the ceiling is the highest step that passed, going up, or down from a first step that failed', async (t) => {
  t.equal(ceilingOf([{ rate: 2000, pass: true }, { rate: 4000, pass: true }, { rate: 6000, pass: false }]), 4000);
  t.equal(ceilingOf([{ rate: 2000, pass: false }, { rate: 1000, pass: false }, { rate: 500, pass: true }]), 500);
  t.equal(ceilingOf([{ rate: 2000, pass: false }, { rate: 1000, pass: false }]), null, 'none when no step passed');
});

t.test('bench upstream - recovery is the first clean second after the drop: enough accepted, p99 under 50 ms, no ERROR, no timeout', async (t) => {
  t.equal(recoverySeconds([sec({})]), 0, 'clean at once');
  t.equal(recoverySeconds([sec({ accepted: 100 }), sec({ p99: 900 }), sec({ refused: { 30: 1 } }), sec({ timeouts: 2 }), sec({})]), 4);
  t.equal(recoverySeconds([sec({ refused: { 32: 5 } }), sec({ offered: 0, accepted: 0 })]), null, 'never; a second with nothing offered is not clean');
});

t.test('bench upstream - Redis commands between two INFO commandstats readings, without the readings themselves', async (t) => {
  const text = '# Commandstats\r\ncmdstat_evalsha:calls=10,usec=50,usec_per_call=5.00,rejected_calls=0,failed_calls=0\r\ncmdstat_incr:calls=4,usec=4\r\ncmdstat_info:calls=3,usec=9\r\ncmdstat_client|setname:calls=2,usec=1\r\n';
  const before = parseCommandStats(text);
  t.same(before, { evalsha: 10, incr: 4, info: 3, 'client|setname': 2 });
  const after = { ...before, evalsha: 30, incr: 14, info: 4, zadd: 10 };
  const calls = callsBetween(before, after);
  t.same(Object.keys(calls), ['evalsha', 'incr', 'zadd'], 'busiest first, unchanged and info left out');
  t.equal(totalCalls(calls), 40);
});

t.test('bench upstream - seq sets grow, tell duplicates, and give what another set has that they lack', async (t) => {
  const a = new SeqSet();
  t.ok(a.add(1) && a.add(9) && a.add(10_000));
  t.notOk(a.add(9), 'a duplicate');
  t.ok(a.add(0), 'seq 0 is never kept (unsequenced)');
  t.equal(a.size, 3);
  const b = new SeqSet();
  b.add(9);
  t.same([a.missingOf(b.bits).size, b.missingOf(a.bits).size], [0, 2]);
  b.addAll(a.bits);
  t.ok(b.has(10_000) && b.has(1) && !b.has(2));
});

t.test('bench upstream - loss by seq: an acknowledged message one open connection lacks is lost once; published without an ACK is counted apart', async (t) => {
  const acked = (seqs: number[]) => {
    const s = new SeqSet();
    for (const n of seqs) s.add(n);
    return s;
  };
  const all: Acked = { seqs: { r0: acked([1, 2, 3, 4]).bits, r1: acked([1]).bits }, unsequenced: { r1: 2 } };
  const seen = (seqs: number[]) => acked(seqs);
  // Two threads hold connections of r0; one of them lacks seq 3, another lacks 3 and 4.
  const partA = ackedLossPart(
    [
      { room: 'r0', open: true, seen: seen([1, 2, 3, 4, 5]), unsequenced: 0 }, // 5: published without an ACK
      { room: 'r0', open: true, seen: seen([1, 2, 4]), unsequenced: 0 },
      { room: 'r1', open: true, seen: seen([1]), unsequenced: 1 }, // lacks one unsequenced item
    ],
    all,
  );
  const partB = ackedLossPart(
    [
      { room: 'r0', open: true, seen: seen([1, 2]), unsequenced: 0 },
      { room: 'r0', open: false, seen: seen([]), unsequenced: 0 }, // closed: left out
      { room: 'r9', open: true, seen: seen([]), unsequenced: 0 }, // a room without acknowledged messages
    ],
    all,
  );
  t.same(mergeAckedLoss([partA, partB], all), { acknowledged: 7, lost: 3, missingDeliveries: 4, deliveredUnacknowledged: 1, conns: 4, closedConns: 1 });
});

t.test('bench upstream - a SEND unanswered within the timeout counts once, and its late reply is still recognised', async (t) => {
  const p = new PendingReplies(1000);
  p.add(1, { at: 0, kind: 1, room: 'r0' });
  p.add(2, { at: 500, kind: 1, room: 'r0' });
  t.equal(p.expire(999), 0);
  t.equal(p.expire(1200), 1, 'the first timed out');
  t.equal(p.expire(1300), 0, 'counted once');
  t.same(p.take(1, 1400), { p: { at: 0, kind: 1, room: 'r0' }, late: true });
  t.same(p.take(2, 1400), { p: { at: 500, kind: 1, room: 'r0' }, late: false });
  t.equal(p.take(3, 1400), null);
  p.add(4, { at: 2000, kind: 1, room: 'r0' });
  t.same(p.take(4, 3500), { p: { at: 2000, kind: 1, room: 'r0' }, late: true }, 'a reply after the timeout is late even before a sweep');
  t.equal(p.expire(3600), 1, 'and timed out, counted at the next sweep');
  t.equal(new PendingReplies().expire(1e12), 0, 'no timeout: requests wait for ever');
});

t.test('bench upstream - its options are taken out of the arguments, the shared ones left for options.ts', async (t) => {
  const { upstream, rest } = parseUpstreamOptions(['--start', '100', '--connections', '20', '--step=50', '--targets', 'cluster', '--enforce', '--quiet', '--max', '200']);
  t.same(rest, ['--connections', '20', '--quiet']);
  t.match(upstream, { start: 100, step: 50, max: 200, targets: ['cluster'], enforce: true, overloadFactor: 3, recoverFactor: 0.5, overloadSeconds: 20 });
  t.throws(() => parseUpstreamOptions(['--targets', 'baseline']), /standalone or cluster/);
  t.throws(() => parseUpstreamOptions(['--start', 'fast']), /--start must be a number/);
});

t.test('bench upstream - refusals are shown by numeric code, named when the catalogue knows the code', async (t) => {
  const shown = refusals({ refused: { 30: 2, 32: 5, 99: 1 }, timeouts: 3, late: 1 });
  t.match(shown, /ERROR 30 unavailable x 2/);
  t.match(shown, /ERROR 32( overloaded)? x 5/, 'overloaded: counted whether or not this build names it');
  t.match(shown, /ERROR 99 x 1, 3 timed out, 1 late replies$/, 'an unknown code is counted all the same');
  t.equal(refusals({ refused: {}, timeouts: 0, late: 0 }), '–');
});

t.test('bench upstream - the targets of issue 9 are judged per target, and the cluster against standalone', async (t) => {
  const run = (target: string, ceiling: number | null, goodput: number, recovery: number | null, lost: number) =>
    ({ target, ceiling, overload: { accepted: goodput, rate: 3 * (ceiling ?? 100) }, recover: { recoverySeconds: recovery, seconds: 15 }, loss: { lost, acknowledged: 1000, conns: 10 }, drain: { seconds: 2, quiet: true } }) as unknown as UpstreamRun;
  const checks = checksOf([run('server', 10_000, 9_000, 2, 0), run('cluster', 6_000, 0, null, 3)]);
  t.same(
    checks.map((c) => [c.target, c.ok]),
    [['cluster', false], ['server', true], ['server', true], ['server', true], ['cluster', false], ['cluster', false], ['cluster', false]],
  );
  t.equal(checks[0]!.value, 0.6, 'cluster ceiling 0.6x standalone');
  t.match(checks[5]!.shown, /never/);
  t.notOk(checksOf([run('server', null, 500, 0, 0)])[0]!.ok, 'no ceiling: goodput cannot be judged, so it is missed');
});
