// The harness must never report loss that did not happen (an operator's pre-event check):
// viewers keep their connections alive through the heartbeat, a rerun is not de-duplicated
// into loss by the server, and connections the server closes are reported as closed, by
// close code, not as loss. Checks the outputs, not the performance.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { bench, readReport, type BenchRun } from '../helpers/bench.js';
import { SECRET, startServer } from '../helpers/server.js';

t.test('bench - viewers answer the heartbeat: a run longer than the idle timeout closes no connection', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'danmaku-bench-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'hb.json');
  // Quiet viewers send nothing but PINGs: without them every one is closed (4001) after 1 s.
  const r = await bench(['hot-room', '--connections', '100', '--senders', '2', '--duration', '3', '--warmup', '0', '--ramp', '0.5', '--no-baseline', '--quiet', '--json', out, '--env', 'HEARTBEAT_INTERVAL_MS=300,IDLE_TIMEOUT_MS=1000', '--slo', 'closed=0,loss=0']);
  t.equal(r.code, 0, `exit 0 (${r.stdout.slice(-300)}${r.stderr.slice(-300)})`);
  const [run] = readReport(out).runs;
  t.equal(run!.connections.connected, 102);
  t.equal(run!.connections.closed, 0, 'no connection closed');
  t.equal(run!.loss.viewers, 100, 'every viewer checked for loss');
});

t.test('bench - connections the server closes are reported per close code, apart from loss, and fail --slo closed=0', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'danmaku-bench-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'flood.json');
  // The two senders exceed a frame budget of 5/s and are closed with 4003 flood_close.
  const r = await bench(['hot-room', '--connections', '50', '--senders', '2', '--rate', '100', '--duration', '2', '--warmup', '0', '--ramp', '0.5', '--no-baseline', '--json', out, '--env', 'CONN_FRAME_RATE=5,CONN_FRAME_BURST=5,FLOOD_CLOSE_AFTER=3', '--slo', 'closed=0']);
  t.equal(r.code, 1, 'the closed=0 gate fails');
  const rep = readReport(out);
  const run = rep.runs[0]!;
  t.equal(run.connections.closed, 2);
  t.same(run.connections.closeCodes, { 4003: 2 });
  t.equal(run.loss.viewers, 50, 'the viewers stayed open and were checked');
  t.equal(run.loss.danmaku + run.loss.likes + run.loss.gifts, 0, 'what the senders got acknowledged before being closed was delivered');
  t.equal(run.timeline.at(-1)!.closed, 2, 'in the timeline');
  t.same(rep.slo.map((s) => [s.rule, s.ok]), [['closed=0', false]]);
  t.match(r.stdout, /server: \*\*2 closed: 4003 flood_close x2\*\*/, 'in the summary');
  t.match(r.stdout, /SLO closed=0: 2 \*\*BREACHED\*\*/);
  t.match(r.stderr, /conns 50\/52 open \(2 closed: 4003 flood_close x2\)/, 'in the progress line');
});

t.test('bench - two runs against one server within its de-duplication window both lose nothing', async (t) => {
  const srv = await startServer({ USER_MESSAGE_RATE: '100000', USER_MESSAGE_BURST: '100000', CONN_FRAME_RATE: '100000', CONN_FRAME_BURST: '100000' });
  t.teardown(() => srv.stop());
  const dir = mkdtempSync(join(tmpdir(), 'danmaku-bench-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const metrics = `http://127.0.0.1:${srv.metricsPort}/metrics`;
  const runs: BenchRun[] = [];
  for (const name of ['first', 'second']) {
    const out = join(dir, `${name}.json`);
    const r = await bench(['hot-room', '--url', srv.url, '--metrics-url', metrics, '--token-secret', SECRET, '--connections', '100', '--senders', '2', '--rate', '100', '--duration', '2', '--warmup', '0', '--ramp', '0.5', '--quiet', '--json', out, '--slo', 'loss=0,closed=0']);
    t.equal(r.code, 0, `${name} run: exit 0 (${r.stdout.slice(-300)}${r.stderr.slice(-300)})`);
    runs.push(readReport(out).runs[0]!);
  }
  t.not(runs[0]!.run, runs[1]!.run, 'each run has its own prefix');
  for (const run of runs) {
    t.equal(run.target, 'remote');
    t.same([run.loss.danmaku, run.loss.likes, run.loss.gifts], [0, 0, 0], `run ${run.run}: nothing lost`);
    t.ok(run.server && run.server.rssBytes > 0, 'server memory read from --metrics-url');
  }
});
