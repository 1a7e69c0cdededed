// A short `cluster --faults kill-gateway` run of the harness on loopback, so that the fault
// option cannot silently rot: one gateway is killed mid-run, its viewers come back on the other
// with since/epoch and recover what they missed. Checks the outputs (counts and loss), never a
// figure against a time.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { RunResult } from '../../bench/lib/run.js';
import { bench } from '../helpers/bench.js';

t.test('bench - cluster --faults kill-gateway: the killed gateway\'s viewers come back with since, nothing acknowledged lost', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'danmaku-bench-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'kill.json');
  const r = await bench(['cluster', '--faults', 'kill-gateway', '--gateways', '2', '--connections', '60', '--senders', '2', '--rate', '20', '--likes', '0', '--gifts', '5', '--duration', '4', '--warmup', '1', '--ramp', '1', '--no-baseline', '--quiet', '--json', out, '--slo', 'giftloss=0,notback=0,dup=0']);
  t.equal(r.code, 0, `exit 0 (${r.stdout.slice(-600)}${r.stderr.slice(-600)})`);
  const rep = JSON.parse(readFileSync(out, 'utf8')) as { runs: RunResult[]; options: { resume: boolean } };
  t.same(rep.runs.map((x) => x.target), ['cluster', 'server'], 'the cluster with the fault, then standalone without');
  t.equal(rep.options.resume, true, 'resume is on with a fault');
  const [cluster, server] = rep.runs as [RunResult, RunResult];

  t.equal(cluster.faults.length, 1);
  t.equal(cluster.faults[0]!.fault, 'kill-gateway');
  t.match(cluster.faults[0]!.process, /^gw-/);
  t.ok(cluster.faults[0]!.pid, 'killed by PID');
  const resume = cluster.resume!;
  t.ok(resume.back > 0, `viewers came back (${resume.back})`);
  t.equal(resume.notBack, 0, 'every one of them');
  t.equal(resume.time.count, resume.back, 'a time to come back for each');
  t.same(resume.outcomes, { recovered: resume.back }, 'every one recovered (same Redis, same epoch)');
  t.equal(cluster.connections.closed, resume.back + resume.senderResumes, 'every closed connection came back');

  const d = cluster.delivery!;
  t.ok(d.giftsAcked > 0, `gifts acknowledged (${d.giftsAcked})`);
  t.equal(d.giftsLost, 0, 'no acknowledged gift lost');
  t.equal(d.resumed.viewers, resume.back, 'the viewers that came back are checked');
  t.equal(d.stayed.viewers + d.resumed.viewers, 60, 'and with those that stayed, every viewer');
  t.same([d.resumed.gifts, d.resumed.danmaku, d.stayed.gifts, d.stayed.danmaku], [0, 0, 0, 0], 'nothing acknowledged missing, for either');
  t.ok(cluster.gifts && cluster.gifts.delay.count > 0, 'gift delivery delay measured');
  t.equal(cluster.duplicates, 0, 'replays de-duplicated by seq');

  t.same(server.faults, [], 'no fault on the standalone server');
  t.equal(server.resume!.back, 0);
  t.equal(server.delivery!.giftsLost, 0);
  t.match(r.stdout, /### Faults and resumes/);
  t.match(r.stdout, /kill-gateway gw-\d \(pid \d+\) at 2 s/);
});

t.test('bench - cluster --scenario group-chat --faults kill-gateway: members that come back read their inbox, no message lost or shown twice', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'danmaku-bench-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'chat.json');
  const r = await bench(['cluster', '--scenario', 'group-chat', '--faults', 'kill-gateway', '--gateways', '2', '--connections', '40', '--groups', '2', '--rate', '5', '--duration', '4', '--warmup', '1', '--ramp', '1', '--no-baseline', '--quiet', '--json', out, '--slo', 'notback=0,dup=0']);
  t.equal(r.code, 0, `exit 0 (${r.stdout.slice(-600)}${r.stderr.slice(-600)})`);
  const cluster = (JSON.parse(readFileSync(out, 'utf8')) as { runs: RunResult[] }).runs[0]!;
  t.equal(cluster.faults.length, 1);
  t.ok(cluster.resume!.back > 0, `members came back (${cluster.resume!.back})`);
  const d = cluster.delivery!;
  t.ok(d.resumed.expectedChat > 0 && d.stayed.expectedChat > 0, 'acknowledged messages checked for both');
  t.same([d.resumed.chat, d.stayed.chat], [0, 0], 'no acknowledged message missing');
  t.equal(cluster.duplicates, 0, 'acknowledged pushes are not resent; inbox reads de-duplicated by seq');
});

t.test('bench - --faults needs the cluster scenario and two gateways', async (t) => {
  const a = await bench(['hot-room', '--faults', 'kill-gateway', '--connections', '2', '--duration', '2']);
  t.equal(a.code, 2);
  t.match(a.stderr, /cluster scenario/);
  const b = await bench(['cluster', '--faults', 'kill-gateway', '--gateways', '1', '--duration', '2']);
  t.equal(b.code, 2);
  t.match(b.stderr, /--gateways 2 or more/);
});

t.test('bench - cluster --drain: the viewers all on the drained gateway come back on the other, each reconnect timed; the rate reported and drawn', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'danmaku-bench-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'drain.json');
  const r = await bench(['cluster', '--scenario', 'hot-room', '--drain', '--connections', '60', '--senders', '2', '--rate', '20', '--likes', '0', '--gifts', '5', '--duration', '6', '--fault-at', '1', '--warmup', '1', '--ramp', '1', '--env', 'DRAIN_NOT_READY_MS=300,DRAIN_WINDOW_MS=2000', '--quiet', '--json', out, '--slo', 'giftloss=0,notback=0']);
  t.equal(r.code, 0, `exit 0 (${r.stdout.slice(-600)}${r.stderr.slice(-600)})`);
  const rep = JSON.parse(readFileSync(out, 'utf8')) as { runs: RunResult[] };
  t.same(rep.runs.map((x) => x.target), ['cluster'], 'the cluster alone: no standalone or baseline run');
  const [cluster] = rep.runs as [RunResult];
  t.equal(cluster.faults[0]!.fault, 'drain-gateway');
  const d = cluster.drain!;
  t.equal(d.exitCode, 0, 'the drained gateway exited 0');
  t.match(d.log, { notReadyMs: 300, windowMs: 2000, connections: 60 }, 'every viewer was on it (the senders on the other)');
  t.ok(d.log.movingAt! - d.signalAt >= 250, `moving began after the not-ready window (${d.log.movingAt! - d.signalAt} ms)`);
  t.equal(d.reconnects, 60, 'each viewer came back once, timed');
  t.equal(d.perSecond.reduce((n, b) => n + b.n, 0), 60, 'and counted in the chart');
  t.same(cluster.connections.closeCodes, { 1012: 60 }, 'closed with 1012');
  t.same(cluster.resume!.outcomes, { recovered: 60 }, 'every one recovered');
  t.equal(cluster.delivery!.giftsLost, 0, 'no acknowledged gift lost');
  t.match(r.stdout, /### Drain: reconnect rate/);
  t.match(readFileSync(out.replace(/\.json$/, '.svg'), 'utf8'), /drain of gw-\d \(60 connections, window 2 s\)/, 'drawn');
  const short = await bench(['cluster', '--drain', '--duration', '4', '--fault-at', '2']);
  t.equal(short.code, 2, 'a --duration too short for the drain is refused');
  t.match(short.stderr, /too short for the drain/);
});
