// A short run of the upstream scenario against a standalone server and a loopback cluster, so
// that it cannot silently rot. Checks the outputs' structure and that nothing acknowledged was
// lost, not the performance: the rates are tiny and no figure is compared with a time.

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { UpstreamReport } from '../../bench/lib/upstream-report.js';
import { bench } from '../helpers/bench.js';

t.test('bench - upstream smoke run: steps, overload, recovery and loss by seq on standalone and on a cluster', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'danmaku-bench-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'up.json');
  const r = await bench(['upstream', '--connections', '20', '--rooms', '2', '--start', '100', '--step', '100', '--max', '200', '--step-seconds', '1', '--settle', '0', '--warmup', '1', '--overload', '3', '--recover', '3', '--redis-seconds', '1', '--redis-idle', '1', '--drain', '10', '--ramp', '0.5', '--quiet', '--json', out]);
  t.equal(r.code, 0, `exit 0 (${r.stderr.slice(-500)})`);
  const rep = JSON.parse(readFileSync(out, 'utf8')) as UpstreamReport;
  t.same(rep.runs.map((x) => x.target), ['server', 'cluster'], 'standalone, then the cluster, in one run');
  for (const run of rep.runs) {
    t.equal(run.connections.connected, 20, `${run.target}: every user joined`);
    t.ok(run.steps.length >= 1 && run.steps.length <= 4, `${run.target}: steps of 100 and 200 (or down from 100, if it failed)`);
    for (const s of run.steps) {
      t.ok(s.offered > 0 && typeof s.accepted === 'number' && typeof s.p99 === 'number', `${run.target}: step ${s.rate}/s has its figures`);
      t.equal(s.pass, s.failures.length === 0, `${run.target}: a step passes exactly when nothing failed`);
    }
    t.ok(run.ceiling === null || run.steps.some((s) => s.rate === run.ceiling && s.pass), `${run.target}: the ceiling is a step that passed`);
    t.equal(run.overload.rate, 3 * run.reference, `${run.target}: overload at 3x`);
    t.equal(run.recover.rate, Math.round(0.5 * run.reference), `${run.target}: then half`);
    t.ok(run.overload.offered > 0, `${run.target}: overload offered`);
    t.ok(run.recover.recoverySeconds === null || typeof run.recover.recoverySeconds === 'number', `${run.target}: seconds to recover, or never`);
    t.ok(run.loss.acknowledged > 0, `${run.target}: messages were acknowledged (${run.loss.acknowledged})`);
    t.equal(run.loss.conns, 20, `${run.target}: every connection checked`);
    t.equal(run.loss.lost, 0, `${run.target}: no acknowledged message lost`);
    t.ok(run.drain.seconds >= 1 && typeof run.drain.quiet === 'boolean', `${run.target}: the drain says how long it took, and whether the target went quiet`);
    t.equal(run.duplicates, 0, `${run.target}: no duplicate`);
    t.ok(run.processes.every((p) => p.alive), `${run.target}: its processes still run`);
    t.ok(run.timeline.length > 0 && run.marks.some((m) => m.phase === 'overload'), `${run.target}: a timeline with its phases`);
  }
  const cluster = rep.runs[1]!;
  t.ok(cluster.cost && cluster.cost.perSend > 0, 'cluster: Redis commands per SEND measured');
  t.ok(cluster.cost && Object.keys(cluster.cost.byCommand).length > 0, 'cluster: by command');
  t.same(cluster.processes.map((p) => p.name).sort(), ['gw-0', 'logic-0', 'nats-server', 'redis-server']);
  t.equal(rep.runs[0]!.cost, null, 'standalone: no Redis');
  t.ok(rep.checks.length === 7, 'the targets of issue 9 judged: the ceiling ratio, and goodput, recovery and loss per target');
  const md = readFileSync(join(dir, 'up.md'), 'utf8');
  t.match(md, /\| \*\*ceiling\*\*: SENDs\/s offered/);
  t.match(md, /### cluster: what one SEND costs upstream/);
  t.match(md, /load average/);
  t.ok(existsSync(join(dir, 'up.svg')), 'chart written');
});
