import t from 'tap';
import { DegradeMonitor } from '../../src/gateway/degrade-monitor.js';
import { createLogger, type Logger } from '../../src/log.js';
import { DegradePolicy, LOWER_AFTER_S, MAX_LEVEL, MAX_WINDOW_MS, RAISE_AFTER_S, roomSettings, type DegradeSample } from '../../src/gateway/degrade.js';

const LIMITS = { lagMs: 200, outboundBytes: 64 << 20, cpu: 0.9 };
const CALM: DegradeSample = { lagMs: 0, outboundBytes: 0, cpu: 0.1 };
const HOT: DegradeSample = { lagMs: 0, outboundBytes: 0, cpu: 1.0 };

/** Feeds `n` samples; returns the levels after each. */
function feed(p: DegradePolicy, s: DegradeSample, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    p.sample(s);
    out.push(p.level);
  }
  return out;
}

t.test('degrade - a signal over its threshold two seconds running raises the level one step', async (t) => {
  const p = new DegradePolicy(LIMITS);
  t.equal(p.sample(HOT), null, 'one second is not enough');
  t.equal(p.level, 0);
  t.same(p.sample(HOT), { from: 0, to: 1, direction: 'up', signal: 'cpu' });
  t.equal(p.sample(HOT), null, 'the streak starts again after a step');
  t.equal(p.sample(HOT)?.to, 2);
});

t.test('degrade - one second over, one second calm, one over: no step (the seconds must run together)', async (t) => {
  const p = new DegradePolicy(LIMITS);
  for (let i = 0; i < 10; i++) {
    p.sample(HOT);
    p.sample(CALM);
  }
  t.equal(p.level, 0);
});

t.test('degrade - the level stops at 3', async (t) => {
  const p = new DegradePolicy(LIMITS);
  const levels = feed(p, HOT, 20);
  t.equal(Math.max(...levels), MAX_LEVEL);
  t.same(levels.slice(0, 2 * MAX_LEVEL), [0, 1, 1, 2, 2, 3]);
  t.equal(p.level, 3);
});

t.test('degrade - each signal raises on its own, and the step names the one furthest over', async (t) => {
  for (const [signal, s] of [
    ['lag', { ...CALM, lagMs: 250 }],
    ['outbound', { ...CALM, outboundBytes: 100 << 20 }],
    ['cpu', { ...CALM, cpu: 0.95 }],
  ] as const) {
    const p = new DegradePolicy(LIMITS);
    p.sample(s);
    t.equal(p.sample(s)?.signal, signal, signal);
  }
  const p = new DegradePolicy(LIMITS);
  const both = { lagMs: 300, outboundBytes: 0, cpu: 0.95 }; // lag 1.5x, cpu 1.06x
  p.sample(both);
  t.equal(p.sample(both)?.signal, 'lag');
});

t.test('degrade - exactly at a threshold is not over it; a threshold of 0 leaves the signal out', async (t) => {
  const p = new DegradePolicy(LIMITS);
  t.same(feed(p, { ...CALM, lagMs: 200 }, 5), [0, 0, 0, 0, 0]);
  const off = new DegradePolicy({ ...LIMITS, cpu: 0 });
  t.same(feed(off, { ...CALM, cpu: 50 }, 5), [0, 0, 0, 0, 0], 'cpu left out');
});

t.test('degrade - hysteresis: down one step after five calm seconds under 0.7x, not in between', async (t) => {
  const p = new DegradePolicy(LIMITS);
  feed(p, HOT, 6);
  t.equal(p.level, 3);
  // between 0.7x and 1x of the cpu threshold (0.63 .. 0.9): neither up nor down
  t.same(feed(p, { ...CALM, cpu: 0.8 }, 20), Array(20).fill(3), 'the band holds the level');
  const down = feed(p, CALM, LOWER_AFTER_S);
  t.same(down, [3, 3, 3, 3, 2], 'the fifth calm second steps down');
  t.same(feed(p, CALM, 2 * LOWER_AFTER_S), [2, 2, 2, 2, 1, 1, 1, 1, 1, 0], 'one step per five seconds');
  t.same(feed(p, CALM, 10), Array(10).fill(0), 'and stays at 0');
});

t.test('degrade - a second in the band breaks the calm streak; any signal at 0.7x keeps it from being calm', async (t) => {
  const p = new DegradePolicy(LIMITS);
  feed(p, HOT, RAISE_AFTER_S);
  t.equal(p.level, 1);
  feed(p, CALM, 4);
  p.sample({ ...CALM, outboundBytes: 0.75 * (64 << 20) });
  t.same(feed(p, CALM, 4), [1, 1, 1, 1], 'the streak started again');
  t.equal(feed(p, CALM, 1)[0], 0);
  const q = new DegradePolicy(LIMITS);
  feed(q, HOT, RAISE_AFTER_S);
  t.same(feed(q, { ...CALM, lagMs: 140 }, 10), Array(10).fill(1), 'lag at exactly 0.7x is not calm');
});

t.test('degrade - the steps a level takes for a room, cumulative, and level 0 as configured', async (t) => {
  const base = { mergeWindowMs: 50, mergeMaxMessages: 64, roomDisplayCap: 60 };
  t.same(roomSettings(base, 0), { level: 0, mergeWindowMs: 50, mergeMaxMessages: 64, displayCap: 60, sumLikes: false, onlineEvery: 1 });
  t.same(roomSettings(base, 1), { level: 1, mergeWindowMs: 100, mergeMaxMessages: 128, displayCap: 60, sumLikes: true, onlineEvery: 2 });
  t.same(roomSettings(base, 2), { level: 2, mergeWindowMs: 200, mergeMaxMessages: 256, displayCap: 30, sumLikes: true, onlineEvery: 2 });
  t.same(roomSettings(base, 3), { level: 3, mergeWindowMs: 400, mergeMaxMessages: 512, displayCap: 15, sumLikes: true, onlineEvery: 2 });
  t.equal(roomSettings({ ...base, mergeWindowMs: 200 }, 3).mergeWindowMs, MAX_WINDOW_MS, 'x8 of 200 ms is capped at 1 s');
  t.equal(roomSettings({ ...base, mergeWindowMs: 2000 }, 3).mergeWindowMs, 2000, 'a window configured above 1 s is kept, never narrowed');
  t.equal(roomSettings({ ...base, mergeWindowMs: 0 }, 3).mergeWindowMs, 0, 'no merging configured: none added');
  t.equal(roomSettings({ ...base, roomDisplayCap: 2 }, 3).displayCap, 1, 'the cap never reaches 0');
});

t.test('degrade monitor - the CPU share comes from the CPU and wall clock deltas; the gauges are set every tick; steps are counted and logged', async (t) => {
  let cpuUs = 5_000_000; // CPU time before the monitor: not counted
  let wallUs = 1_000_000_000;
  const second = (cpuShare: number) => {
    wallUs += 1_000_000;
    cpuUs += cpuShare * 1_000_000;
  };
  const states: [number, number][] = [];
  const steps: string[] = [];
  const levels: number[] = [];
  let hotRooms = 2;
  const rooms = {
    degrade: (level: number, minMembers: number) => {
      levels.push(level);
      t.equal(minMembers, 500);
      return level > 0 ? hotRooms : 0;
    },
  };
  const observer = { degradeStep: (d: 'up' | 'down', s: string) => steps.push(`${d}:${s}`), degradeState: (level: number, n: number) => states.push([level, n]) };
  const logged: Record<string, unknown>[] = [];
  const log = { info: (fields: Record<string, unknown>) => logged.push(fields) } as unknown as Logger;
  const opts = { degrade: true, degradeLagMs: 0, degradeOutboundBytes: 0, degradeCpu: 0.9, degradeMinMembers: 500 };
  const m = new DegradeMonitor(rooms, () => ({ lagMs: 500, outboundBytes: 1 << 30 }), opts, observer, log, { cpuUs: () => cpuUs, wallUs: () => wallUs });
  second(0.5);
  m.tick();
  t.same(states, [[0, 0]], 'level 0, gauges set on the first tick');
  second(0.95);
  m.tick();
  t.same(states.at(-1), [0, 0], 'one second over 0.9 is not a step; the gauges are set again');
  second(0.95);
  m.tick();
  t.same(states.at(-1), [1, 2], 'two seconds over 0.9 (0.95 of a core each): level 1, two hot rooms');
  t.same(steps, ['up:cpu'], 'cpu raised it (lag and outbound are left out at 0)');
  t.match(logged, [{ level: 1, from: 0, signal: 'cpu', cpu: 0.95, rooms: 2 }]);
  // 1.8 s of CPU over 2 s of wall (a tick that came late) is 0.9: not over
  wallUs += 2_000_000;
  cpuUs += 1_800_000;
  m.tick();
  t.same(states.at(-1), [1, 2]);
  hotRooms = 3;
  second(0.1);
  m.tick();
  t.same(states.at(-1), [1, 3], 'unchanged level, new room count: the gauge follows');
  t.equal(states.length, 5, 'a gauge update on every tick');
  t.same(levels, [0, 0, 1, 1, 1], 'the level applied to the rooms on every tick');
  t.equal(steps.length, 1);
  t.equal(m.level, 1);
  second(0.1);
  m.tick();
  second(0.1);
  m.tick();
  second(0.1);
  m.tick();
  second(0.1);
  m.tick();
  t.same(steps, ['up:cpu', 'down:none'], 'five calm seconds (0.1 < 0.63): down');
  t.same(states.at(-1), [0, 0]);
});

t.test('degrade monitor - DEGRADE=off starts no timer', async (t) => {
  const rooms = { degrade: () => 0 };
  const observer = { degradeStep: () => undefined, degradeState: () => undefined };
  const opts = { degrade: false, degradeLagMs: 200, degradeOutboundBytes: 0, degradeCpu: 0.9, degradeMinMembers: 500 };
  const m = new DegradeMonitor(rooms, () => ({ lagMs: 0, outboundBytes: 0 }), opts, observer, createLogger('silent'));
  m.start();
  t.equal((m as unknown as { timer: unknown }).timer, null);
  m.stop();
});
