// A short run of the load-test harness against a standalone server and the baseline, so that
// the harness cannot silently rot. Checks the outputs, not the performance.

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { bench, readReport } from '../helpers/bench.js';

t.test('bench - hot-room smoke run against standalone and the baseline writes JSON, markdown and SVG', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'danmaku-bench-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'hot.json');
  const r = await bench(['hot-room', '--connections', '200', '--senders', '4', '--duration', '2', '--warmup', '1', '--ramp', '1', '--quiet', '--json', out, '--slo', 'gifts=0,dup=0,failures=0']);
  t.equal(r.code, 0, `exit 0 (${r.stderr.slice(-500)})`);
  const rep = readReport(out);
  t.same(rep.runs.map((x) => x.target), ['server', 'baseline'], 'our server, then the baseline, in one run');
  for (const run of rep.runs) {
    t.equal(run.connections.connected, 204, `${run.target}: every connection joined`);
    t.equal(run.connections.closed, 0, `${run.target}: none closed`);
    t.same(run.connections.closeCodes, {}, `${run.target}: close codes reported (none)`);
    t.equal(run.loss.closedViewers, 0, `${run.target}: no viewer left out of loss`);
    t.ok(run.itemsPerSec > 0, `${run.target}: items delivered (${run.itemsPerSec}/s)`);
    t.equal(run.loss.gifts, 0, `${run.target}: no gift lost`);
    t.ok(run.server && run.server.cpuPerFrameUs > 0, `${run.target}: server CPU per frame measured`);
    t.equal(run.timeline.length, 2, `${run.target}: a timeline point per second`);
  }
  t.ok(rep.slo.length === 3 && rep.slo.every((s) => s.ok), 'SLO gates checked');
  const md = readFileSync(join(dir, 'hot.md'), 'utf8');
  t.match(md, /\| delivery delay p99 \(ms\) \|/);
  t.match(md, /\| closed during the run \(not in loss\) \| 0 \| 0 \|/);
  t.ok(existsSync(join(dir, 'hot.svg')), 'chart written');
  t.match(r.stdout, /\| server CPU per frame \(us\) \|.*x \|/, 'the summary shows ratios to the baseline');
});

t.test('bench - a breached SLO makes the run exit non-zero; bad usage exits 2', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'danmaku-bench-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = await bench(['hot-room', '--connections', '20', '--senders', '2', '--duration', '1', '--warmup', '0', '--ramp', '0', '--no-baseline', '--quiet', '--json', join(dir, 'x.json'), '--slo', 'p99=0ms']);
  t.equal(r.code, 1, 'p99 under 0 ms cannot hold');
  t.match(r.stdout, /BREACHED/);
  t.equal((await bench(['no-such-scenario'])).code, 2);
  // --overload sets DEGRADE itself: an --env DEGRADE with it is refused, before any server starts
  const both = await bench(['hot-room', '--overload', '--env', 'DEGRADE=off', '--quiet']);
  t.equal(both.code, 2, '--overload with --env DEGRADE=off');
  t.match(both.stderr, /--overload runs the load with DEGRADE=on and then DEGRADE=off itself: drop --env DEGRADE=off/);
  const help = await bench(['--help']);
  t.equal(help.code, 0);
  for (const name of ['hot-room', 'many-rooms', 'flash-crowd', 'switch-storm', 'group-chat', 'cluster', 'upstream']) t.match(help.stdout, name);
});
