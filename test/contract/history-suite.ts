// The contract every RoomHistory implementation passes (memory and Redis): the room recovery
// window of src/store/history/window.ts, stored.

import type { Test } from 'tap';
import type { RoomHistory } from '../../src/store/history/index.js';
import type { Intake } from '../../src/store/intake/index.js';
import type { WindowItem, WindowLimits } from '../../src/store/history/window.js';
import { sleep, type Fixture } from './fixture.js';

const item = (seq: number, keep = false, t = Date.now()): WindowItem => ({ seq, t, keep, data: Buffer.from(`item-${seq}`) });
const seqs = (items: readonly WindowItem[]) => items.map((i) => i.seq);
const limits = (l: Partial<WindowLimits> = {}): WindowLimits => ({ size: 100, ageMs: 60_000, keepSize: 100, keepAgeMs: 600_000, ...l });

/** A history and the intake whose claims its appends settle, over one backing store. */
export interface HistoryWithIntake {
  readonly history: RoomHistory;
  readonly intake: Intake;
}

export function historyContract(t: Test, make: (limits: WindowLimits) => Promise<Fixture<RoomHistory>>, withIntake: (limits: WindowLimits) => Promise<Fixture<HistoryWithIntake>>): void {
  t.test('history - an append with a claim settles it to the seq in the same step; without one, the claim is untouched', async (t) => {
    const f = await withIntake(limits({ size: 1 }));
    t.teardown(() => f.close());
    const [a, b] = [await f.instance(), await f.instance()];
    const step = (claim: string) => ({ claim, claimTtlMs: 10_000, bucket: 'u:x', rate: 1000, burst: 1000, scope: 'room:r' });
    const v = await a.intake.admit(step('x|1'));
    t.ok('seq' in v && v.seq > 0);
    const seq = (v as { seq: number }).seq;
    t.same(await b.intake.admit(step('x|1')), { inFlight: true }, 'claimed, not yet stored');
    await a.history.append('r', item(seq), { claim: 'x|1', ttlMs: 60_000 });
    t.same(await b.intake.admit(step('x|1')), { dup: seq }, 'stored and settled: a retry is a duplicate of the stored seq');
    const w = await a.intake.admit(step('x|2'));
    await Promise.all([a.history.append('r', item(seq + 1)), a.history.append('r2', item(7, true), { claim: 'x|2', ttlMs: 60_000 })]);
    t.same(await b.intake.admit(step('x|2')), { dup: 7 }, 'in a turn with other appends too');
    t.ok('seq' in w);
    t.same(await b.intake.admit(step('x|3')), { seq: (w as { seq: number }).seq + 1 }, 'other claims untouched');
    await b.intake.release('x|3');
    await a.history.append('r', item(seq + 5), { claim: 'x|4', ttlMs: 200 });
    t.same(await b.intake.admit(step('x|4')), { dup: seq + 5 }, 'settled even when the window trims the item at once');
    await sleep(300);
    t.ok('seq' in (await b.intake.admit(step('x|4'))), 'for the ttl given');
  });

  t.test('history - get answers the stored bytes of one seq, of either class, or null', async (t) => {
    const f = await make(limits({ size: 2 }));
    t.teardown(() => f.close());
    const [a, b] = [await f.instance(), await f.instance()];
    const bin = Buffer.from([0, 255, 0x31, 0xc1, 10]);
    await a.append('r', { seq: 1, t: Date.now(), keep: true, data: bin });
    for (const s of [2, 3, 4]) await a.append('r', item(s));
    t.same(Buffer.from((await b.get('r', 1))!), bin, 'a never-shed item, bytes intact');
    t.same(Buffer.from((await b.get('r', 4))!).toString(), 'item-4', 'an ordinary one');
    t.equal(await b.get('r', 2), null, 'trimmed: gone');
    t.equal(await b.get('r', 9), null, 'never stored');
    t.equal(await b.get('nowhere', 1), null, 'a room without a window');
    t.equal(await b.epoch('nowhere'), null, 'get creates nothing');
  });

  t.test('history - an epoch created by a read lives as long as a room with items (an append keeps it)', async (t) => {
    // A quiet room's viewers hold the epoch they were told; if it lapsed before the room's first
    // item, that item would start a new one and every resume would be answered epoch_changed.
    const f = await make(limits({ ageMs: 200, keepAgeMs: 300 }));
    t.teardown(() => f.close());
    const [a, b] = [await f.instance(), await f.instance()];
    const read = (await a.window('only-read')).epoch;
    const kept = (await a.window('read-then-written')).epoch;
    t.equal(await b.epoch('only-read'), read);
    await sleep(450);
    t.equal(await b.epoch('only-read'), read, 'still there past keepAgeMs');
    await b.append('read-then-written', item(1, true));
    t.equal(await b.epoch('read-then-written'), kept, 'the first append keeps the epoch joiners were told');
    t.equal((await a.window('read-then-written')).epoch, kept);
  });

  t.test('history - each class keeps its most recent items by seq; the floors rise past what left', async (t) => {
    const f = await make(limits({ size: 3, keepSize: 2 }));
    t.teardown(() => f.close());
    const h = await f.instance();
    const at = Date.now();
    for (let s = 1; s <= 8; s++) await h.append('r1', item(s, s === 2 || s === 5, at + s));
    await h.append('r2', item(100));
    let w = await h.window('r1');
    t.same(seqs(w.items), [2, 5, 6, 7, 8], 'three ordinary items, both gifts, by seq');
    t.same([w.floor, w.keepFloor], [4, 0]);
    const six = w.items[2]!;
    t.same([Buffer.from(six.data).toString(), six.t, six.keep], ['item-6', at + 6, false], 'an item comes back as it was appended');
    t.equal(w.items[1]!.keep, true);
    await h.append('r1', item(9, true));
    w = await h.window('r1');
    t.same(seqs(w.items), [5, 6, 7, 8, 9], 'the oldest gift left');
    t.same([w.floor, w.keepFloor], [4, 2], 'a gift leaving raises keepFloor; floor stays the highest that left');
    t.same(seqs((await h.window('r2')).items), [100], 'rooms are apart');
  });

  t.test('history - items appended out of seq order by two instances are read in seq order, each once', async (t) => {
    const f = await make(limits({ size: 3 }));
    t.teardown(() => f.close());
    const [a, b] = [await f.instance(), await f.instance()];
    for (const s of [1, 3, 2, 5]) await (s % 2 ? a : b).append('r', item(s));
    await b.append('r', item(4));
    await a.append('r', item(4));
    const w = await a.window('r');
    t.same(seqs(w.items), [3, 4, 5], 'at most the window, sorted, no seq twice');
    t.equal(w.floor, 2);
    t.same(await b.window('r'), w, 'both instances read the same window');
  });

  t.test('history - the appends of one turn (several rooms, both classes, binary items) all land', async (t) => {
    const f = await make(limits());
    t.teardown(() => f.close());
    const h = await f.instance();
    const bytes = (s: number) => Buffer.from([0, 255, s & 255, 0x31, 0x32, 0x33, 0xc1]);
    const writes: Promise<void>[] = [];
    for (let s = 1; s <= 90; s++) writes.push(h.append(`r${s % 3}`, { seq: s, t: Date.now(), keep: s % 5 === 0, data: bytes(s) }));
    await Promise.all(writes);
    for (let r = 0; r < 3; r++) {
      const w = await h.window(`r${r}`);
      const want = Array.from({ length: 30 }, (_, i) => i * 3 + (r === 0 ? 3 : r));
      t.same(seqs(w.items), want, `r${r}: every item, by seq`);
      t.ok(
        w.items.every((i) => Buffer.from(i.data).equals(bytes(i.seq)) && i.keep === (i.seq % 5 === 0)),
        `r${r}: bytes and classes intact`,
      );
    }
  });

  t.test('history - an epoch is created once per room, by the first append or read, and seen by every instance', async (t) => {
    const f = await make(limits());
    t.teardown(() => f.close());
    const [a, b] = [await f.instance(), await f.instance()];
    t.equal(await a.epoch('read-first'), null, 'no epoch before anything happened');
    const w = await a.window('read-first');
    t.match(w.epoch, /^[A-Za-z0-9_-]{11}$/);
    t.same([w.floor, w.keepFloor, w.items], [0, 0, []], 'an empty window');
    t.equal(await b.epoch('read-first'), w.epoch, 'the read stored it');
    t.equal((await b.window('read-first')).epoch, w.epoch, 'a second read keeps it');
    await b.append('read-first', item(1));
    t.equal((await a.window('read-first')).epoch, w.epoch, 'an append keeps it');
    await a.append('append-first', item(1));
    const e = await b.epoch('append-first');
    t.match(e, /^[A-Za-z0-9_-]{11}$/, 'an append creates it');
    t.not(e, w.epoch, 'each room its own');
    t.equal((await b.window('append-first')).epoch, e);
  });

  t.test('history - items leave by age, ordinary ones sooner than never-shed ones; a read trims', async (t) => {
    const f = await make(limits({ ageMs: 300, keepAgeMs: 60_000 }));
    t.teardown(() => f.close());
    const h = await f.instance();
    await h.append('r', item(1, false, Date.now() - 1_000));
    let w = await h.window('r');
    t.same([seqs(w.items), w.floor], [[], 1], 'an item past its age leaves at once');
    await h.append('r', item(2, true));
    await h.append('r', item(3));
    t.same(seqs((await h.window('r')).items), [2, 3]);
    await sleep(450);
    w = await h.window('r');
    t.same(seqs(w.items), [2], 'the ordinary item aged out without another append');
    t.same([w.floor, w.keepFloor], [3, 0]);
  });

  t.test('history - a size of 0 keeps nothing of that class', async (t) => {
    const f = await make(limits({ size: 0 }));
    t.teardown(() => f.close());
    const h = await f.instance();
    await h.append('r', item(1));
    await h.append('r', item(2, true));
    await h.append('r', item(3));
    const w = await h.window('r');
    t.same([seqs(w.items), w.floor, w.keepFloor], [[2], 3, 0]);
  });
}
