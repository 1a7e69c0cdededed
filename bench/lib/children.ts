// The server processes the harness started (servers, nats-server, redis-server), so that an
// interrupted run stops them: without this, Ctrl-C (SIGINT) or a SIGTERM ended the harness and
// left its cluster running, and the cgroups of --server-cpu behind. Only the harness's entry
// (bench/index.ts) installs the signal handlers; tests that start the same processes stop them
// themselves.

import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
/** What stopAll() does once a child has exited (a service's data directory removed) */
const afterExit = new Map<ChildProcess, () => void>();

/** How long the children get to exit after SIGTERM before SIGKILL. */
const STOP_MS = 3000;

/** Remembers `proc` until it exits; `cleanup` runs if stopAll() is what stopped it. */
export function track(proc: ChildProcess, cleanup?: () => void): void {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  live.add(proc);
  if (cleanup) afterExit.set(proc, cleanup);
  proc.once('exit', () => live.delete(proc));
}

/** Children still running. */
export function tracked(): number {
  return live.size;
}

/**
 * Stops every tracked child (SIGTERM, then SIGKILL after STOP_MS) and resolves once all have
 * exited, so that what waits on their exit (a cgroup's removal) has run.
 */
export async function stopAll(): Promise<void> {
  const exits = [...live].map(
    (p) =>
      new Promise<void>((resolve) => {
        const done = () => {
          try {
            afterExit.get(p)?.();
          } catch {
            // a directory already gone
          }
          afterExit.delete(p);
          resolve();
        };
        if (p.exitCode !== null || p.signalCode !== null) return done();
        p.once('exit', done);
        p.kill('SIGTERM');
      }),
  );
  const hard = setTimeout(() => {
    for (const p of live) p.kill('SIGKILL');
  }, STOP_MS);
  await Promise.all(exits);
  clearTimeout(hard);
  // The exit listeners registered before ours (limitCpu's cleanup) run in this turn: let them.
  await new Promise((r) => setTimeout(r, 50));
}

/** On SIGINT or SIGTERM: stop the children, then exit 130 (a second signal: at once, SIGKILL to the children). */
export function stopChildrenOnSignal(): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      for (const p of live) p.kill('SIGKILL');
      process.exit(130);
    }
    stopping = true;
    process.stderr.write(`\n${signal}: stopping the ${live.size} processes this run started (again to kill them at once)...\n`);
    void stopAll().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
