// A CPU limit on a server process the harness started (`--server-cpu <cores>`), as a container
// runtime applies one (a Kubernetes pod's `resources.limits.cpu`): the process is put in a cgroup
// of its own whose CFS quota is `cores` x the period, so it gets at most that much CPU time per
// 100 ms period and is throttled for the rest of it. On a machine whose load generator tops out
// before a whole gateway does, this is how one gateway's breaking point can be reached and
// measured. Needs root and the cgroup cpu controller (v1: /sys/fs/cgroup/cpu, or v2); without
// them the run stops with an error rather than measuring something else.

import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const PERIOD_US = 100_000;
const V1 = '/sys/fs/cgroup/cpu';
const V2 = '/sys/fs/cgroup';

/** Puts `pid` under a CPU quota of `cores`; returns the cleanup (call it once the process has exited). */
export function limitCpu(pid: number, cores: number): () => void {
  if (!(cores > 0)) throw new Error(`--server-cpu must be a number of cores above 0 (${cores})`);
  const quota = Math.max(1000, Math.round(cores * PERIOD_US));
  const name = `danmaku-bench-${pid}`;
  let dir = '';
  try {
    if (existsSync(join(V1, 'cpu.cfs_quota_us')) || existsSync(join(V1, 'cgroup.procs'))) {
      dir = join(V1, name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
      writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quota));
    } else if (existsSync(join(V2, 'cgroup.controllers')) && readFileSync(join(V2, 'cgroup.controllers'), 'utf8').includes('cpu')) {
      dir = join(V2, name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'cpu.max'), `${quota} ${PERIOD_US}`);
    } else throw new Error('no cgroup cpu controller at /sys/fs/cgroup/cpu (v1) or /sys/fs/cgroup (v2)');
    writeFileSync(join(dir, 'cgroup.procs'), String(pid)); // every thread of the process
  } catch (err) {
    if (dir !== '') {
      try {
        rmdirSync(dir); // not left behind to collide with a later run
      } catch {
        // not created, or the write that failed was the move: nothing to undo then
      }
    }
    throw new Error(`--server-cpu ${cores}: cannot put the server (PID ${pid}) under a CPU quota: ${err instanceof Error ? err.message : String(err)} (root and the cgroup cpu controller are needed)`);
  }
  return () => {
    try {
      rmdirSync(dir); // empty once the process has exited
    } catch {
      // still busy or gone: the directory holds nothing but the quota
    }
  };
}

/**
 * Whether a CPU limit can be applied here, tried once before any server starts (a group made
 * and its quota written, then removed; no process moved): a run with --server-cpu stops at once
 * rather than after it has started processes.
 */
export function probeCpuLimit(cores: number): void {
  const quota = Math.max(1000, Math.round(cores * PERIOD_US));
  const name = `danmaku-bench-probe-${process.pid}`;
  const v1 = existsSync(join(V1, 'cgroup.procs'));
  const dir = join(v1 ? V1 : V2, name);
  try {
    mkdirSync(dir);
    if (v1) writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quota));
    else writeFileSync(join(dir, 'cpu.max'), `${quota} ${PERIOD_US}`);
  } catch (err) {
    throw new Error(`--server-cpu ${cores}: no CPU quota can be set here: ${err instanceof Error ? err.message : String(err)} (root and the cgroup cpu controller are needed)`);
  } finally {
    try {
      rmdirSync(dir);
    } catch {
      // never made
    }
  }
}
