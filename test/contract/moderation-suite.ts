// The contract every ModerationStore passes (memory, Redis): versions, mutes and bans with
// expiry, word lists stored as given, the review queue, hit counters.

import type { Test } from 'tap';
import { EVERYWHERE, HELD_MAX, type ModerationStore } from '../../src/store/moderation/index.js';
import { sleep, type Fixture } from './fixture.js';

const meta = { by: 'admin', source: 'admin' as const, at: 1_700_000_000_000 };

export function moderationContract(t: Test, make: () => Promise<Fixture<ModerationStore>>): void {
  t.test('moderation - every change increments the version; a lift of nothing changes nothing', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [a, b] = [await f.instance(), await f.instance()];
    t.equal(await a.version(), 0);
    t.equal(await a.set('mute', { uid: 'u1', room: 'r1', ...meta }), 1);
    t.equal(await b.set('ban', { uid: 'u1', room: 'r1', until: Date.now() + 60_000, reason: 'spam', ...meta }), 2);
    t.equal(await a.lift('mute', 'u1', 'r2'), null, 'no mute in r2');
    t.equal(await b.version(), 2);
    t.equal(await a.lift('mute', 'u1', 'r1'), 3);
    t.equal(await a.putList({ name: 'l', action: 'reject', words: ['Bad'] }), 4);
    t.equal(await a.deleteList('nope'), null);
    t.equal(await b.deleteList('l'), 5);
    t.equal(await a.version(), 5);
  });

  t.test('moderation - snapshot holds what is in force, with its version; expired entries are left out', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [a, b] = [await f.instance(), await f.instance()];
    await a.set('mute', { uid: 'u1', room: EVERYWHERE, ...meta });
    await a.set('mute', { uid: 'u2', room: 'r1', until: Date.now() + 150, ...meta });
    await a.set('ban', { uid: 'u3', room: 'r1', until: Date.now() + 60_000, reason: 'why', ...meta });
    await a.set('mute', { uid: 'u1', room: EVERYWHERE, reason: 'replaced', ...meta });
    await a.putList({ name: 'x', action: 'mask', words: ['Ｆｏｏ', 'bar'] });
    const s = await b.snapshot();
    t.equal(s.version, 5);
    t.same(s.mutes.map((m) => [m.uid, m.room, m.reason]).sort(), [['u1', '*', 'replaced'], ['u2', 'r1', undefined]]);
    t.same(s.bans.map((m) => [m.uid, m.room, m.reason, m.source, m.by]), [['u3', 'r1', 'why', 'admin', 'admin']]);
    t.same(s.lists, [{ name: 'x', action: 'mask', words: ['Ｆｏｏ', 'bar'] }], 'lists stored as given');
    await sleep(250);
    t.same((await b.snapshot()).mutes.map((m) => m.uid), ['u1'], 'the timed mute expired');
  });

  t.test('moderation - seedLists stores lists only when there are none', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const a = await f.instance();
    t.equal(await a.seedLists([{ name: 'a', action: 'reject', words: ['w'] }]), 1);
    t.equal(await a.seedLists([{ name: 'b', action: 'reject', words: ['w'] }]), null);
    t.same((await a.snapshot()).lists.map((l) => l.name), ['a']);
  });

  t.test('moderation - held items: hold, list oldest first, take once', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [a, b] = [await f.instance(), await f.instance()];
    const item = { at: 1, o: 20, u: 'u1', n: 'U', r: [], room: 'r1', b: { k: 0, x: 'hmm' }, lists: ['h'] };
    const id1 = await a.hold(item);
    const id2 = await b.hold({ ...item, u: 'u2' });
    t.ok(id1 && id2 && id1 !== id2);
    t.same((await b.held(10)).map((h) => [h.id, h.u]), [[id1, 'u1'], [id2, 'u2']]);
    t.same((await a.held(1)).length, 1, 'limit');
    const [x, y] = await Promise.all([a.take(id1!), b.take(id1!)]);
    t.ok((x === null) !== (y === null), 'one taker wins');
    t.same((x ?? y)!, { id: id1, ...item });
    t.equal(await a.take('nope'), null);
    t.same((await a.held(10)).map((h) => h.id), [id2]);
    t.ok(HELD_MAX >= 1000);
  });

  t.test('moderation - hits count within a window, then start again', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [a, b] = [await f.instance(), await f.instance()];
    t.equal(await a.hit('u1|r1', 200), 1);
    t.equal(await b.hit('u1|r1', 200), 2, 'counted in the store: shared by every process');
    t.equal(await a.hit('u1|*', 200), 1, 'per key');
    await sleep(300);
    t.equal(await a.hit('u1|r1', 200), 1, 'the window lapsed');
    await a.clearHits('u1|r1');
    t.equal(await b.hit('u1|r1', 200), 1, 'cleared');
  });
}
