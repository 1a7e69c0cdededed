// Main-thread figures from a Chromium trace (devtools.timeline), for the overlay bench. On a
// shared machine the Long Tasks API reports wall time, and a task that ran 5 ms of CPU but
// waited 300 ms for a core counts as a 300 ms long task; the trace has each task's thread
// CPU time (tdur) too, which says what the page itself cost.

export interface TraceEvent {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  tdur?: number;
  args?: { name?: string };
}

export interface MainThreadFigures {
  /** seconds the trace covers */
  seconds: number;
  /** main-thread CPU per second of tasks, ms (1000 = one core busy) */
  cpuMsPerS: number;
  /** tasks over 50 ms of wall time, and those over 50 ms of CPU */
  longWall: number;
  longCpu: number;
  maxTaskCpuMs: number;
  /** per second: layouts, style recalculations, commits to the compositor, and their ms */
  layoutsPerS: number;
  layoutMsPerS: number;
  styleMsPerS: number;
  commitMsPerS: number;
}

const LONG_MS = 50;

export function mainThreadFigures(events: TraceEvent[]): MainThreadFigures {
  const mains = new Set(events.filter((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain').map((e) => `${e.pid}:${e.tid}`));
  const main = events.filter((e) => e.ph === 'X' && mains.has(`${e.pid}:${e.tid}`) && e.dur !== undefined);
  if (main.length === 0) return { seconds: 0, cpuMsPerS: 0, longWall: 0, longCpu: 0, maxTaskCpuMs: 0, layoutsPerS: 0, layoutMsPerS: 0, styleMsPerS: 0, commitMsPerS: 0 };
  let from = Infinity;
  let to = -Infinity;
  for (const e of main) {
    from = Math.min(from, e.ts);
    to = Math.max(to, e.ts + e.dur!);
  }
  const seconds = (to - from) / 1e6;
  // top-level tasks only: a RunTask nested in another is already counted in it
  const tasks = main.filter((e) => e.name === 'RunTask').sort((a, b) => a.ts - b.ts);
  const top: TraceEvent[] = [];
  let end = -Infinity;
  for (const t of tasks) {
    if (t.ts >= end) {
      top.push(t);
      end = t.ts + t.dur!;
    }
  }
  const sum = (name: string, f: (e: TraceEvent) => number) => main.filter((e) => e.name === name).reduce((a, e) => a + f(e), 0);
  const ms = (e: TraceEvent) => (e.dur ?? 0) / 1000;
  const cpu = (e: TraceEvent) => (e.tdur ?? e.dur ?? 0) / 1000;
  return {
    seconds,
    cpuMsPerS: top.reduce((a, e) => a + cpu(e), 0) / seconds,
    longWall: top.filter((e) => ms(e) > LONG_MS).length,
    longCpu: top.filter((e) => cpu(e) > LONG_MS).length,
    maxTaskCpuMs: top.reduce((a, e) => Math.max(a, cpu(e)), 0),
    layoutsPerS: main.filter((e) => e.name === 'Layout').length / seconds,
    layoutMsPerS: sum('Layout', ms) / seconds,
    styleMsPerS: sum('UpdateLayoutTree', ms) / seconds,
    commitMsPerS: sum('Commit', ms) / seconds,
  };
}
