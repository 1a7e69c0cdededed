// --server-cpu: the option's parsing, and the cgroup it puts a process in (its quota written,
// the process moved in, the group removed once the process has exited). Skipped where the
// machine has no writable cgroup cpu controller (the harness then refuses the option).

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import t from 'tap';
import { limitCpu } from '../../bench/lib/cpu-limit.js';
import { parseOptions } from '../../bench/lib/options.js';

t.test('bench --server-cpu - parsed as a decimal number of cores', async (t) => {
  t.equal(parseOptions([]).serverCpu, 0, 'no limit by default');
  t.equal(parseOptions(['--server-cpu', '0.25']).serverCpu, 0.25);
  t.equal(parseOptions(['--server-cpu', '2']).serverCpu, 2);
  for (const bad of ['0', '0x1', '1e0', 'a', '65', '.5', '1.']) t.throws(() => parseOptions(['--server-cpu', bad]), /--server-cpu must be/, bad);
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
