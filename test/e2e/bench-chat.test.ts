// A short run of the chat scenario on a loopback cluster, so that it cannot silently rot.
// Checks the outputs' structure and that no acknowledged message was lost or duplicated in any
// inbox reader's stream; the rates are tiny and no figure is compared with a time.

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { ChatReport } from '../../bench/lib/chat-report.js';
import { bench } from '../helpers/bench.js';

t.test('bench - chat smoke run: offline members come online and sync, catch-up, loss and duplicates', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'danmaku-bench-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'chat.json');
  const r = await bench(['chat', '--groups', '2', '--members', '10', '--offline', '0.5', '--rate', '50', '--duration', '3', '--warmup', '1', '--ramp', '0.5', '--catchup', '60', '--probes', '1', '--drain', '10', '--no-baseline', '--quiet', '--json', out]);
  t.equal(r.code, 0, `exit 0 (${r.stderr.slice(-500)})`);
  const rep = JSON.parse(readFileSync(out, 'utf8')) as ChatReport;
  t.equal(rep.runs.length, 1, 'one run: --no-baseline');
  const run = rep.runs[0]!;
  t.ok(run.storeWriter, 'with storage writers');
  t.same(run.users, { ...run.users, online: 9, probes: 1, offline: 10, senders: 10 }, 'half of each group offline, one probe');
  t.equal(run.users.connected, 20, 'every member connected in the end (the offline ones during the window)');
  t.ok(run.window.offered > 0 && run.window.accepted > 0 && run.window.ack.count > 0, 'MSGs offered and acknowledged');
  t.ok(run.acknowledged > 0, `messages acknowledged (${run.acknowledged})`);
  t.equal(run.verify.inboxUsers, 11, 'every inbox reader checked: 10 offline members and the probe');
  t.equal(run.verify.inboxMissing, 0, 'no acknowledged message missing from an inbox');
  t.equal(run.verify.syncFailed, 0, 'every final sync went through');
  t.ok(run.verify.inboxExpected >= run.acknowledged, 'expected pairs cover the acknowledged messages');
  t.same(run.duplicates, { inbox: 0, live: 0, idConflicts: 0 }, 'no duplicate, one id per seq');
  t.ok(run.storeLag && run.storeLag.count > 0, 'storage lag read from the server histogram');
  t.ok(run.probeLag && run.probeLag.count > 0, 'storage lag sampled by the probe');
  t.ok(run.redis && run.redis.perMessage !== null && run.redis.perMessage > 0, 'Redis commands per message');
  t.equal(run.catchUpIdle?.held, 60, 'idle catch-up: all 60 waiting messages held');
  t.equal(run.catchUpLoaded?.held, 60, 'catch-up under load: all 60 held');
  t.equal(run.offlineCatchUp?.caughtUp, 10, 'every offline member caught up');
  t.ok(run.pushAck, 'members acknowledge pushes');
  t.ok(run.acks.frames > 0 && run.acks.ids > 0 && run.acks.bytes > 0, `RECEIVED frames sent (${run.acks.frames} with ${run.acks.ids} ids, ${run.acks.bytes} bytes)`);
  t.ok(run.acks.ids >= run.acks.frames, 'several ids per frame at most');
  t.ok(run.acks.bytesPerMessage > 0, `RECEIVED bytes per live MESSAGE (${run.acks.bytesPerMessage})`);
  t.ok(run.acks.server && run.acks.server.ackFrames > 0 && run.acks.server.acked > 0, 'the gateways counted the RECEIVED frames and settled pushes');
  t.equal(run.acks.server?.givenUp.unacked ?? 0, 0, 'no push given up for want of an acknowledgement');
  t.ok(run.gatewayCpuPerMessageUs !== null && run.gatewayCpuPerMessageUs > 0, 'gateway CPU per live MESSAGE');
  t.ok(run.processes.every((p) => p.alive), 'processes still run');
  t.ok(rep.checks.some((c) => /lost/.test(c.criterion) && c.ok), 'the loss check is met');
  const md = readFileSync(join(dir, 'chat.md'), 'utf8');
  t.match(md, /\| criterion \(issue 10\) \| measured/);
  t.match(md, /Redis commands per accepted message/);
  t.match(md, /\*\*RECEIVED bytes per live MESSAGE\*\*/);
  t.ok(existsSync(join(dir, 'chat.svg')), 'chart written');
});
