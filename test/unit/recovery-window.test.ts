// The room recovery window (src/store/history/window.ts): what its floors promise is what a
// resuming client is told ("recovered"), so they are checked against a model of every item
// ever added, on random traffic, as well as on small cases.

import t from 'tap';
import { newEpoch, RecoveryWindow, type WindowItem, type WindowLimits } from '../../src/store/history/window.js';
import { mulberry32 } from '../../bench/lib/prng.js';

const T0 = 1_700_000_000_000;
const item = (seq: number, t = T0, keep = false): WindowItem => ({ seq, t, keep, data: Buffer.from(`i${seq}`) });
const seqs = (items: readonly WindowItem[]) => items.map((i) => i.seq);
const limits = (l: Partial<WindowLimits> = {}): WindowLimits => ({ size: 100, ageMs: 60_000, keepSize: 100, keepAgeMs: 600_000, ...l });

t.test('recovery window - epochs are 11 base64url characters, each new', async (t) => {
  const a = newEpoch();
  t.match(a, /^[A-Za-z0-9_-]{11}$/);
  t.not(newEpoch(), a);
});

t.test('recovery window - each class is trimmed by its own count, oldest seq first; the floors follow', async (t) => {
  const w = new RecoveryWindow(limits({ size: 2, keepSize: 5 }), 'e1');
  for (let s = 1; s <= 10; s++) w.add(item(s, T0, s === 3 || s === 6), T0);
  t.same(seqs(w.items(T0)), [3, 6, 9, 10], 'two ordinary items, every gift');
  t.equal(w.floor, 8, 'the highest seq that left');
  t.equal(w.keepFloor, 0, 'no never-shed item left');
  t.equal(w.lastSeq, 10);
  for (let s = 11; s <= 16; s++) w.add(item(s, T0, true), T0);
  t.same(seqs(w.items(T0)), [9, 10, 12, 13, 14, 15, 16], 'five never-shed items');
  t.equal(w.keepFloor, 11);
  t.equal(w.floor, 11, 'a never-shed item leaving raises the floor too');
});

t.test('recovery window - each class is trimmed by its own age', async (t) => {
  const w = new RecoveryWindow(limits({ ageMs: 1_000, keepAgeMs: 5_000 }), 'e1');
  w.add(item(1, T0, true), T0);
  w.add(item(2, T0), T0);
  w.add(item(3, T0 + 500), T0 + 500);
  t.same(seqs(w.items(T0 + 1_200)), [1, 3], 'the old ordinary item left, the gift stays');
  t.equal(w.floor, 2);
  t.same(seqs(w.items(T0 + 6_000)), [], 'all gone');
  t.same([w.floor, w.keepFloor, w.lastSeq], [3, 1, 3]);
  t.same(seqs(w.items(T0 + 6_000)), [], 'trimming again changes nothing');
  t.equal(w.floor, 3);
});

t.test('recovery window - an expired item waits for a younger one with a lower seq to leave (one boundary)', async (t) => {
  const w = new RecoveryWindow(limits({ ageMs: 1_000 }), 'e1');
  w.add(item(1, T0 + 800), T0 + 800);
  w.add(item(2, T0), T0 + 800); // reached this window late, with an older t
  t.same(seqs(w.items(T0 + 1_100)), [1, 2], 'seq 2 is due, but seq 1 is not');
  t.equal(w.floor, 0);
  t.same(seqs(w.items(T0 + 1_900)), [], 'both leave once the low end is due');
  t.equal(w.floor, 2);
});

t.test('recovery window - items out of seq order are held in seq order; a seq is held once', async (t) => {
  const w = new RecoveryWindow(limits(), 'e1');
  for (const s of [1, 3, 2, 5, 4]) w.add(item(s), T0);
  w.add(item(3, T0, true), T0);
  w.add(item(4), T0);
  t.same(seqs(w.items(T0)), [1, 2, 3, 4, 5]);
  t.equal(w.size, 5);
  t.notOk(w.items(T0)[2]!.keep, 'the first item of a seq is kept');
});

t.test('recovery window - recent(n): the last n items of both classes, oldest first', async (t) => {
  const w = new RecoveryWindow(limits(), 'e1');
  for (let s = 1; s <= 10; s++) w.add(item(s, T0, s % 4 === 0), T0);
  t.same(seqs(w.recent(3, T0)), [8, 9, 10]);
  t.same(seqs(w.recent(6, T0)), [5, 6, 7, 8, 9, 10]);
  t.same(seqs(w.recent(50, T0)), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  t.same(w.recent(0, T0), []);
});

t.test('recovery window - after(since): everything above since, and what arrived around it within the margin', async (t) => {
  const w = new RecoveryWindow(limits(), 'e1');
  const ts = [0, 100, 1_000, 1_950, 2_000, 1_990, 2_500]; // seq i+1 at T0 + ts[i]
  ts.forEach((dt, i) => w.add(item(i + 1, T0 + dt), T0 + 3_000));
  t.same(seqs(w.after(5, 50, T0 + 3_000)), [4, 5, 6, 7], 'seq 4 (t within 50 ms of seq 5) is sent again, the client drops it by seq');
  t.same(seqs(w.after(5, 0, T0 + 3_000)), [5, 6, 7], 'margin 0: items with a t at or after the since item');
  t.same(seqs(w.after(7, 600, T0 + 3_000)), [4, 5, 6, 7], 'since at the top: only the margin');
  t.same(seqs(w.after(99, 0, T0 + 3_000)), [7], 'since above everything: the item at since is the highest held');
  t.same(seqs(w.after(0, 1_000, T0 + 3_000)), [1, 2, 3, 4, 5, 6, 7], 'since 0: everything');
  const low = new RecoveryWindow(limits({ size: 3 }), 'e1');
  for (let s = 1; s <= 6; s++) low.add(item(s, T0 + s), T0);
  t.same(seqs(low.after(2, 1_000, T0)), [4, 5, 6], 'since below the window: no item to measure the margin from, everything held');
  const late = new RecoveryWindow(limits(), 'e1');
  for (let s = 2; s <= 51; s++) late.add(item(s, T0 + s * 100), T0);
  late.add(item(1, T0 + 5_090), T0); // a low seq that arrived late: behind 49 older items
  t.same(seqs(late.after(51, 20, T0)), [1, 51], 'the scan back reaches a late low seq within the margin');
  t.same(seqs(late.after(50, 0, T0)), [1, 50, 51], 'the since item, what arrived after it, what follows');
});

t.test('recovery window - a window rebuilt from a snapshot keeps its floors; reset starts a new life', async (t) => {
  const w = new RecoveryWindow(limits(), 'e1', 40, 30);
  t.same([w.floor, w.keepFloor, w.lastSeq], [40, 30, 40]);
  w.add(item(41), T0);
  w.add(item(42, T0, true), T0);
  w.reset('e2');
  t.same([w.epoch, w.floor, w.keepFloor, w.lastSeq, w.size], ['e2', 0, 0, 0, 0]);
  t.same(w.items(T0), []);
});

t.test('recovery window - sizes 0 keep nothing of that class and raise the floors at once', async (t) => {
  const w = new RecoveryWindow(limits({ size: 0 }), 'e1');
  w.add(item(1), T0);
  w.add(item(2, T0, true), T0);
  t.same(seqs(w.items(T0)), [2]);
  t.same([w.floor, w.keepFloor], [1, 0]);
});


t.test('recovery window - on random traffic the floors never claim an item that is gone', async (t) => {
  let checks = 0;
  for (let run = 0; run < 40; run++) {
    try {
      checks += randomRun(run);
    } catch (err) {
      t.fail((err as Error).message); // the first broken promise of the run
    }
  }
  t.equal(checks, 40 * 600, `${checks} steps checked (every run ran its course)`);
});

/** One run of random traffic; throws at the first broken promise. */
function randomRun(run: number): number {
  const rnd = mulberry32(run + 1);
  const lim = limits({ size: 1 + Math.floor(rnd() * 40), ageMs: 200 + Math.floor(rnd() * 2_000), keepSize: Math.floor(rnd() * 30), keepAgeMs: 2_500 + Math.floor(rnd() * 5_000) });
  const w = new RecoveryWindow(lim, 'e');
  const added: WindowItem[] = [];
  const pending: WindowItem[] = []; // items that arrive a little late, out of seq order
  let [now, next, floor, keepFloor, steps] = [T0, 1, 0, 0, 0];
  for (; steps < 600; steps++) {
    now += Math.floor(rnd() * 40);
    const fresh = item(next++, now - Math.floor(rnd() * 30), rnd() < 0.25);
    if (rnd() < 0.2) pending.push(fresh);
    else {
      w.add(fresh, now);
      added.push(fresh);
    }
    if (pending.length > 0 && rnd() < 0.3) {
      const late = pending.splice(Math.floor(rnd() * pending.length), 1)[0]!;
      w.add(late, now);
      added.push(late);
    }
    const at = `run ${run} step ${steps}:`;
    const held = w.items(now);
    const heldSeqs = new Set(seqs(held));
    for (let i = 1; i < held.length; i++) check(held[i]!.seq > held[i - 1]!.seq, `${at} not sorted`);
    for (const a of added) {
      check(a.seq <= w.floor || heldSeqs.has(a.seq), `${at} seq ${a.seq} above floor ${w.floor} is gone`);
      check(!a.keep || a.seq <= w.keepFloor || heldSeqs.has(a.seq), `${at} gift ${a.seq} above keepFloor ${w.keepFloor} is gone`);
    }
    const o = held.filter((i) => !i.keep);
    const k = held.filter((i) => i.keep);
    check(o.length <= lim.size && k.length <= lim.keepSize, `${at} over a count`);
    check(!o[0] || o[0].t >= now - lim.ageMs, `${at} the oldest ordinary item is due`);
    check(!k[0] || k[0].t >= now - lim.keepAgeMs, `${at} the oldest gift is due`);
    check(w.floor >= floor && w.keepFloor >= keepFloor && w.keepFloor <= w.floor, `${at} floors ${w.floor}/${w.keepFloor} after ${floor}/${keepFloor}`);
    [floor, keepFloor] = [w.floor, w.keepFloor];
    check(w.lastSeq === Math.max(0, ...seqs(added)), `${at} lastSeq`);
    // A client that saw everything up to a random seq resumes.
    const since = Math.floor(rnd() * next);
    const margin = Math.floor(rnd() * 150);
    const after = w.after(since, margin, now);
    check(seqs(after).join() === seqs(linearAfter(held, since, margin)).join(), `${at} after(${since}, ${margin}) is not the scan of every item`);
    check(seqs(w.keptAfter(since, now)).join() === seqs(k.filter((i) => i.seq > since)).join(), `${at} keptAfter(${since})`);
    const got = new Set(seqs(after));
    for (const s of heldSeqs) check(s <= since || got.has(s), `${at} after(${since}) left out ${s}`);
    if (since >= w.floor) for (const a of added) check(a.seq <= since || got.has(a.seq), `${at} recovered from ${since} but ${a.seq} is missing`);
  }
  return steps;
}

/** after() as its contract says it, scanning every held item. */
function linearAfter(all: readonly WindowItem[], since: number, marginMs: number): WindowItem[] {
  let at: WindowItem | undefined;
  for (const i of all) if (i.seq <= since) at = i;
  if (!at) return [...all];
  const from = at.t - marginMs;
  return all.filter((i) => i.seq > since || i.t >= from);
}

function check(ok: boolean, problem: string): void {
  if (!ok) throw new Error(problem);
}
