// --server-cpu: the option's parsing (a number for every server, or ROLE=CORES pairs), and the
// cgroup it puts a process in (its quota written, the process moved in, the group removed once
// the process has exited). Skipped where the machine has no writable cgroup cpu controller (the
// harness then refuses the option).

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import t from 'tap';
import { limitCpu } from '../../bench/lib/cpu-limit.js';
import { parseOptions, SERVER_ROLES, serverCpuMax, serverCpuOf, serverCpuText } from '../../bench/lib/options.js';

t.test('bench --server-cpu - parsed as a decimal number of cores', async (t) => {
  t.equal(parseOptions([]).serverCpu, 0, 'no limit by default');
  t.equal(parseOptions(['--server-cpu', '0.25']).serverCpu, 0.25);
  t.equal(parseOptions(['--server-cpu', '2']).serverCpu, 2);
  for (const bad of ['0', '0x1', '1e0', 'a', '65', '.5', '1.']) t.throws(() => parseOptions(['--server-cpu', bad]), /--server-cpu must be/, bad);
});

t.test('bench --server-cpu - per role: ROLE=CORES pairs, a plain number for every other role', async (t) => {
  const none = parseOptions([]);
  t.same(none.serverCpuByRole, {}, 'no role limited by default');
  t.equal(serverCpuMax(none), 0);
  t.equal(serverCpuText(none), '');

  const all = parseOptions(['--server-cpu', '0.5']);
  t.same(all.serverCpuByRole, {}, 'a plain number: no role of its own');
  for (const role of SERVER_ROLES) t.equal(serverCpuOf(all, role), 0.5, `a plain number limits ${role}`);
  t.equal(serverCpuText(all), '0.5');

  const logic = parseOptions(['--server-cpu', 'logic=0.25']);
  t.equal(logic.serverCpu, 0, 'no limit for every server');
  t.same(logic.serverCpuByRole, { logic: 0.25 });
  t.equal(serverCpuOf(logic, 'logic'), 0.25, 'the logic processes limited');
  for (const role of ['gateway', 'server', 'baseline'] as const) t.equal(serverCpuOf(logic, role), 0, `${role} unlimited`);
  t.equal(serverCpuMax(logic), 0.25, 'probed with the role\'s limit');
  t.equal(serverCpuText(logic), 'logic=0.25');

  const both = parseOptions(['--server-cpu=gateway=0.5,logic=0.25']);
  t.same(both.serverCpuByRole, { gateway: 0.5, logic: 0.25 });
  t.equal(serverCpuOf(both, 'gateway'), 0.5);
  t.equal(serverCpuOf(both, 'logic'), 0.25);
  t.equal(serverCpuOf(both, 'server'), 0, 'a role not named: unlimited');
  t.equal(serverCpuMax(both), 0.5);

  const mixed = parseOptions(['--server-cpu', '1,logic=0.25']);
  t.equal(mixed.serverCpu, 1);
  t.equal(serverCpuOf(mixed, 'gateway'), 1, 'the plain number for the roles not named');
  t.equal(serverCpuOf(mixed, 'logic'), 0.25, 'the pair overrides it');
  t.equal(serverCpuText(mixed), '1,logic=0.25');

  for (const bad of ['logic=0', 'logic=', 'logic=a', 'logic=65', 'nats-server=0.5', 'redis-server=0.5', 'worker=0.5', '=0.5', 'logic=0.25,logic=0.5', '0.5,1', 'logic=0.25,', ',logic=0.25']) t.throws(() => parseOptions(['--server-cpu', bad]), /--server-cpu must/, bad);
});

const V1 = '/sys/fs/cgroup/cpu';
t.test('bench --server-cpu - a process under a CFS quota, the group removed after its exit', { skip: existsSync(`${V1}/cpu.cfs_quota_us`) || existsSync(`${V1}/cgroup.procs`) ? false : 'no cgroup v1 cpu controller here' }, async (t) => {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 2000)'], { stdio: 'ignore' });
  const exited = new Promise((r) => child.once('exit', r));
  let undo: () => void;
  try {
    undo = limitCpu(child.pid!, 0.25);
  } catch (err) {
    child.kill();
    await exited;
    t.comment(`not run: no writable cgroup here (${(err as Error).message})`);
    return;
  }
  const dir = `${V1}/danmaku-bench-${child.pid}`;
  t.equal(readFileSync(`${dir}/cpu.cfs_quota_us`, 'utf8').trim(), '25000', '0.25 of a 100 ms period');
  t.match(readFileSync(`${dir}/cgroup.procs`, 'utf8'), new RegExp(`^${child.pid}$`, 'm'), 'the process is in it');
  child.kill();
  await exited;
  await new Promise((r) => setTimeout(r, 50));
  undo();
  t.notOk(existsSync(dir), 'removed once the process exited');
});
