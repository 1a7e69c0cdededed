// The overlay's density and shedding policy (src/overlay/density.ts, planner.ts), in Node:
// the density fraction of lanes, top/bottom expiry, the on-screen cap, and who is shed first.

import t from 'tap';
import { fixedBand, laneOrder, ScreenBook, usableLanes } from '../../src/overlay/density.js';
import { laneCount, Planner } from '../../src/overlay/planner.js';
import type { OverlayMode } from '../../src/overlay/types.js';

interface Tag {
  kept: boolean;
  name: string;
}
const ordinary = (name: string): Tag => ({ kept: false, name });
const gift = (name: string): Tag => ({ kept: true, name });

// 10 lanes of 30 px (pad 10): height 320
const GEOMETRY = { width: 1000, height: 320, lineHeight: 30, pad: 10 };
function planner(o: { density?: number; maxOnScreen?: number } = {}) {
  return new Planner<Tag>(GEOMETRY, { durationMs: 8000, fixedMs: 4000, maxOnScreen: o.maxOnScreen ?? 150, density: o.density ?? 1, gap: 10 });
}

t.test('density - usable lanes are the density fraction, at least one unless 0', async (t) => {
  t.equal(usableLanes(20, 1), 20);
  t.equal(usableLanes(20, 0.5), 10);
  t.equal(usableLanes(20, 0.25), 5);
  t.equal(usableLanes(20, 0.01), 1, 'a little density still shows one lane');
  t.equal(usableLanes(20, 0), 0, 'density 0 shows no ordinary danmaku');
  t.equal(usableLanes(20, 7), 20, 'clamped to 1');
  t.equal(usableLanes(20, Number.NaN), 20, 'not a number: all lanes');
  t.equal(usableLanes(0, 1), 0);
  t.same(laneOrder('scroll', 5, 3), [0, 1, 2], 'scroll from the top');
  t.same(laneOrder('top', 9, 9), [0, 1, 2], 'top from the top, in the top third');
  t.same(laneOrder('bottom', 9, 9), [8, 7, 6], 'bottom from the bottom, in the bottom third');
  t.same(laneOrder('top', 9, 2), [0, 1], 'and within the density fraction');
  t.same(laneOrder('top', 2, 2), [0], 'at least one lane');
  t.equal(fixedBand(22), 7);
  t.equal(fixedBand(0), 0);
  t.equal(laneCount(GEOMETRY), 10);
});

t.test('density - ordinary danmaku use only the density fraction of lanes; gifts use every lane', async (t) => {
  const p = planner({ density: 0.3 });
  const lanes = new Set<number>();
  let placed = 0;
  // all at the same instant: each needs a lane of its own
  for (let i = 0; i < 20; i++) {
    const r = p.place(ordinary(`d${i}`), 'scroll', 100, 0);
    if (r) {
      placed++;
      lanes.add(r.placement.lane);
    }
  }
  t.equal(placed, 3, '30% of 10 lanes');
  t.same([...lanes].sort(), [0, 1, 2], 'the top three');
  const g = p.place(gift('g'), 'scroll', 100, 0);
  t.equal(g?.placement.lane, 3, 'a gift takes a lane outside the fraction before evicting anyone');
  t.same(g?.evicted, []);
  p.setOptions({ density: 0 });
  t.equal(p.place(ordinary('x'), 'scroll', 100, 5000), null, 'density 0: none');
});

t.test('density - top and bottom comments hold their lane until they expire', async (t) => {
  const p = planner();
  const mode: OverlayMode[] = ['top', 'bottom'];
  for (const m of mode) {
    const first = p.place(ordinary(`${m}1`), m, 200, 0);
    const second = p.place(ordinary(`${m}2`), m, 200, 100);
    t.equal(first?.placement.lane, m === 'top' ? 0 : 9, `${m}: the first ${m} lane`);
    t.equal(second?.placement.lane, m === 'top' ? 1 : 8, `${m}: the next one while the first is shown`);
    t.equal(first?.placement.motion.x0, 400, 'centred');
    t.equal(first?.placement.motion.v, 0, 'still');
  }
  t.equal(p.place(ordinary('top3'), 'top', 200, 3999)?.placement.lane, 2, 'lane 0 is still taken at 3999 ms');
  t.equal(p.place(ordinary('top4'), 'top', 200, 4000)?.placement.lane, 0, 'lane 0 is free at 4000 ms');
  t.equal(p.place(ordinary('bottom3'), 'bottom', 200, 4000)?.placement.lane, 9, 'and the bottom one too');
});

t.test('density - the cap sheds new ordinary danmaku; a gift over it removes the oldest ordinary ones, never a gift', async (t) => {
  const p = planner({ maxOnScreen: 4 });
  const g1 = gift('g1');
  t.ok(p.place(g1, 'scroll', 50, 0));
  const a = ordinary('a');
  const b = ordinary('b');
  const c = ordinary('c');
  t.ok(p.place(a, 'scroll', 50, 10));
  t.ok(p.place(b, 'scroll', 50, 20));
  t.ok(p.place(c, 'scroll', 50, 30));
  t.equal(p.book.size, 4);
  t.equal(p.place(ordinary('d'), 'scroll', 50, 40), null, 'at the cap: a new ordinary one is shed');
  const g2 = p.place(gift('g2'), 'scroll', 50, 50);
  t.same(g2?.evicted.map((x) => x.name), ['a'], 'a gift at the cap takes the oldest ordinary one off');
  const g3 = p.place(gift('g3'), 'scroll', 50, 60);
  t.same(g3?.evicted.map((x) => x.name), ['b'], 'then the next oldest');
  const g4 = p.place(gift('g4'), 'scroll', 50, 70);
  t.same(g4?.evicted.map((x) => x.name), ['c']);
  const g5 = p.place(gift('g5'), 'scroll', 50, 80);
  t.same(g5?.evicted, [], 'only gifts left: none is shed, the cap gives way');
  t.equal(p.book.size, 5);
  t.same([...p.book].map((x) => x.name), ['g1', 'g2', 'g3', 'g4', 'g5']);
});

t.test('density - with every lane taken, a gift evicts the lane whose blockers are fewest and oldest', async (t) => {
  const p = planner({ maxOnScreen: 1000 });
  // fill each of the 10 lanes: lane i holds one comment started at 10 * i, lane 4 two
  for (let i = 0; i < 10; i++) t.equal(p.place(ordinary(`l${i}`), 'scroll', 300, 10 * i)?.placement.lane, i);
  t.equal(p.place(ordinary('extra'), 'scroll', 300, 100), null, 'no room for one more');
  const r = p.place(gift('g'), 'scroll', 300, 100);
  t.equal(r?.placement.lane, 0, 'lane 0: one blocker, the oldest');
  t.same(r?.evicted.map((x) => x.name), ['l0']);
  // now fill every lane with gifts: a further gift waits (null), nothing kept is shed
  for (let i = 1; i < 10; i++) p.place(gift(`g${i}`), 'scroll', 300, 100);
  t.equal(p.place(gift('late'), 'scroll', 300, 100), null, 'every lane holds a gift: the caller retries later');
  t.equal([...p.book].filter((x) => !x.kept).length, 0, 'every ordinary blocker went');
  t.ok(p.place(gift('late'), 'scroll', 300, 8100), 'once they have left, it fits');
});

t.test('density - ScreenBook keeps age order and counts', async (t) => {
  const book = new ScreenBook<Tag>(2);
  const a = ordinary('a');
  book.add(a);
  book.add(gift('g'));
  t.notOk(book.roomForOrdinary());
  t.same(book.victimsForKept().map((x) => x.name), ['a']);
  t.ok(book.delete(a));
  t.notOk(book.delete(a));
  t.ok(book.roomForOrdinary());
  t.same(book.victimsForKept(), []);
});

t.test('density - top and bottom comments keep to their bands, never mid-screen; notices to the top band', async (t) => {
  const p = planner({ maxOnScreen: 1000 });
  // 10 lanes: the top band is 0-2, the bottom band 7-9
  const lanes: Record<string, number[]> = { top: [], bottom: [] };
  for (const m of ['top', 'bottom'] as const) {
    for (let i = 0; i < 6; i++) {
      const r = p.place(ordinary(`${m}${i}`), m, 200, i);
      if (r) lanes[m]!.push(r.placement.lane);
    }
  }
  t.same(lanes.top, [0, 1, 2], 'three top comments, then shed rather than mid-screen');
  t.same(lanes.bottom, [9, 8, 7]);
  const notice = p.place(gift('notice'), 'top', 200, 10);
  t.ok(notice && notice.placement.lane <= 2, 'a notice takes a top lane (evicting an ordinary one)');
  t.equal(notice?.evicted.length, 1);
});
