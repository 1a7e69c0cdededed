// The overlay's lane allocation (src/overlay/lanes.ts, planner.ts), in Node: comments placed
// at random widths and times are simulated over time, and no two in one lane ever overlap or
// pass each other.

import t from 'tap';
import { apart, fixedMotion, LaneTable, scrollMotion, xAt, type Motion } from '../../src/overlay/lanes.js';
import { Planner, type Geometry } from '../../src/overlay/planner.js';
import type { OverlayMode } from '../../src/overlay/types.js';
import { mulberry32 } from '../../bench/lib/prng.js';


interface Placed {
  id: number;
  kept: boolean;
  y: number;
  h: number;
  motion: Motion;
}

/** The first time (sampled every `step` ms) two comments whose bands overlap come closer than `gap`, or null. */
function firstClash(a: Placed, b: Placed, gap: number, step = 5): number | null {
  if (a.y + a.h <= b.y || b.y + b.h <= a.y) return null;
  const from = Math.max(a.motion.t0, b.motion.t0);
  const to = Math.min(a.motion.end, b.motion.end);
  for (let time = from; time < to; time += step) {
    const ax = xAt(a.motion, time);
    const bx = xAt(b.motion, time);
    const apartNow = bx >= ax + a.motion.w + gap - 1e-6 || ax >= bx + b.motion.w + gap - 1e-6;
    if (!apartNow) return time;
  }
  return null;
}

const GAP = 18;
const geometry = (width: number, height: number): Geometry => ({ width, height, lineHeight: 31, pad: 6 });

function run(seed: number, opts: { seconds: number; perSecond: number; resizeAt?: number; giftEvery?: number }) {
  const random = mulberry32(seed);
  const planner = new Planner<{ kept: boolean; id: number }>(geometry(1280, 720), { durationMs: 8000, fixedMs: 4000, maxOnScreen: 1000, density: 1, gap: GAP });
  const placed: Placed[] = [];
  let id = 0;
  let shed = 0;
  let resized = false;
  for (let now = 0; now < opts.seconds * 1000; now += 1000 / opts.perSecond) {
    if (opts.resizeAt !== undefined && !resized && now >= opts.resizeAt) {
      planner.setGeometry({ width: 900, height: 500, lineHeight: 23, pad: 4 });
      resized = true;
    }
    const r = random();
    const mode: OverlayMode = r < 0.05 ? 'top' : r < 0.1 ? 'bottom' : 'scroll';
    const width = 20 + Math.floor(random() * 700);
    const gift = opts.giftEvery !== undefined && id % opts.giftEvery === 0;
    const tag = { kept: gift, id: id++ };
    const got = planner.place(tag, gift ? 'scroll' : mode, width, now);
    if (!got) {
      shed++;
      continue;
    }
    for (const v of got.evicted) {
      const i = placed.findIndex((p) => p.id === v.id);
      // an evicted comment leaves the stage now
      if (i >= 0) placed[i] = { ...placed[i]!, motion: { ...placed[i]!.motion, end: now } };
    }
    placed.push({ id: tag.id, kept: gift, y: got.placement.y, h: resized ? 23 : 31, motion: got.placement.motion });
    // the planner forgets comments that have left: the overlay tells it when their animation ends
    for (const p of placed) if (p.motion.end <= now) planner.remove({ kept: p.kept, id: p.id } as never);
  }
  return { placed, shed };
}

function clashes(placed: Placed[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < placed.length; i++)
    for (let j = i + 1; j < placed.length; j++) {
      const a = placed[i]!;
      const b = placed[j]!;
      if (b.motion.t0 >= a.motion.end) continue;
      const at = firstClash(a, b, GAP);
      if (at !== null) out.push(`#${a.id} and #${b.id} at t=${at.toFixed(0)}`);
    }
  return out;
}

t.test('lanes - a longer comment behind a short one is refused if it would catch it before it leaves', async (t) => {
  const lanes = new LaneTable<string>(1, 10);
  const short = scrollMotion(0, 1280, 50, 8000);
  lanes.occupy(0, short, 'short');
  t.notOk(lanes.fits(0, scrollMotion(100, 1280, 50, 8000)), 'the tail ahead has not entered yet (plus the gap)');
  t.ok(lanes.fits(0, scrollMotion(1000, 1280, 50, 8000)), 'same width, tail in: never closer');
  t.notOk(lanes.fits(0, scrollMotion(1000, 1280, 800, 8000)), 'faster (longer) one would catch it');
  t.ok(lanes.fits(0, scrollMotion(7000, 1280, 800, 8000)), 'late enough: the short one leaves first');
  t.ok(lanes.fits(0, scrollMotion(8000, 1280, 800, 8000)), 'the lane is empty once it has left');
});

t.test('lanes - apart() is symmetric and matches a dense time sampling', async (t) => {
  const random = mulberry32(7);
  let agree = 0;
  for (let i = 0; i < 2000; i++) {
    const mk = (): Motion =>
      random() < 0.2 ? fixedMotion(random() * 6000, 1280, 20 + random() * 600, 4000) : scrollMotion(random() * 6000, 1280, 20 + random() * 700, 8000);
    const a = mk();
    const b = mk();
    const sampled = firstClash({ id: 0, kept: false, y: 0, h: 1, motion: a }, { id: 1, kept: false, y: 0, h: 1, motion: b }, GAP, 1) === null;
    if (apart(a, b, GAP) !== apart(b, a, GAP)) t.fail('not symmetric');
    // sampling every 1 ms can miss a clash shorter than that, never see one that is not there
    if (apart(a, b, GAP) && !sampled) t.fail(`apart() missed a clash: ${JSON.stringify([a, b])}`);
    if (apart(a, b, GAP) === sampled) agree++;
  }
  t.ok(agree >= 1990, `apart() agrees with sampling (${agree}/2000)`);
});

t.test('lanes - random widths at 60/s: no comment overlaps or overtakes another in its lane (3 seeds)', async (t) => {
  for (const seed of [1, 2, 3]) {
    const { placed, shed } = run(seed, { seconds: 30, perSecond: 60 });
    t.same(clashes(placed), [], `seed ${seed}: ${placed.length} placed, ${shed} shed, no clash`);
    t.ok(placed.length > 450, `seed ${seed}: the lanes are used (${placed.length} of 1800 placed: 22 lanes, widths 20-720 px)`);
  }
});

t.test('lanes - with gifts evicting danmaku and a resize midway, still no clash', async (t) => {
  const { placed } = run(11, { seconds: 20, perSecond: 60, resizeAt: 9000, giftEvery: 30 });
  t.same(clashes(placed), [], `${placed.length} placed`);
  const gifts = placed.filter((p) => p.kept);
  t.equal(gifts.length, 40, 'every gift was placed');
});

t.test('lanes - the one ahead is never overtaken: order at entry is the order at exit', async (t) => {
  const { placed } = run(5, { seconds: 20, perSecond: 60 });
  const scroll = placed.filter((p) => p.motion.v > 0);
  let pairs = 0;
  for (const a of scroll)
    for (const b of scroll) {
      if (a === b || a.y !== b.y || b.motion.t0 <= a.motion.t0 || b.motion.t0 >= a.motion.end) continue;
      pairs++;
      const tailInAtEntry = xAt(a.motion, b.motion.t0) + a.motion.w <= 1280 - GAP + 1e-6;
      const behindWhenAheadLeaves = xAt(b.motion, a.motion.end) >= GAP - 1e-6;
      if (!tailInAtEntry || !behindWhenAheadLeaves) t.fail(`#${b.id} vs #${a.id}`);
    }
  t.ok(pairs > 500, `${pairs} lane-sharing pairs checked`);
});
