// The contract every ChatStore passes (memory and Redis). Time is a fake `now` passed to
// every call: retention is tested by moving it days ahead, never by sleeping.

import type { Test } from 'tap';
import { decode, encode } from '../../src/protocol/codec.js';
import { OutOfRetentionError, type ChatStore, type ChatStoreLimits, type StoredRecord } from '../../src/store/chat/index.js';
import type { Fixture } from './fixture.js';

const T0 = 1_700_000_000_000;
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** A record of conv `c` from `u` to `r`, its message body encoded as the logic would. */
function rec(c: string, s: number, u: string, r: readonly string[], t = T0, id = `${c}#${s}`): StoredRecord {
  const target = c.startsWith('group:') ? { g: c.slice(6) } : { to: r.find((x) => x !== u) ?? u };
  return { c, s, id, t, u, r, m: encode({ ...target, s, u, n: u, t, x: `${u} says ${s} in ${c}`, id }) };
}

/** The fields of a stored message the tests look at. */
const body = (m: Uint8Array) => decode(m) as { s: number; x: string; id: string };
const seqsOf = (items: readonly Uint8Array[]) => items.map((m) => body(m).s);

export function chatContract(t: Test, make: (limits?: Partial<ChatStoreLimits>) => Promise<Fixture<ChatStore>>): void {
  t.test('chat - apply stores each message once, inbox entries and contacts per recipient; a replay changes nothing', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [a, b] = [await f.instance(), await f.instance()];
    const g = ['u1', 'u2', 'u3'];
    const batch = [rec('group:g1', 1, 'u1', g, T0 + 1), rec('group:g1', 2, 'u1', g, T0 + 2), rec('dm:u1|u2', 1, 'u2', ['u1', 'u2'], T0 + 3), rec('group:g1', 3, 'u3', g, T0 + 4)];
    const first = await a.apply(batch, T0 + 10);
    t.same({ ...first, unreadChanged: first.unreadChanged.sort() }, { applied: 4, skipped: 0, evicted: 0, inboxWrites: 11, unreadChanged: ['u1', 'u2'] }, 'u3 wrote after what it got: read');
    t.same(await b.apply(batch, T0 + 20), { applied: 0, skipped: 4, evicted: 0, inboxWrites: 0, unreadChanged: [] }, 'replayed on another instance: all skipped');
    const again = await b.apply([batch[3]!, rec('group:g1', 4, 'u2', g, T0 + 30)], T0 + 30);
    t.match(again, { applied: 1, skipped: 1 }, 'a batch that is partly a replay');
    t.same(again.unreadChanged.sort(), ['u1', 'u3']);

    const inbox = await a.inbox('u2', { after: 0 }, 100, T0 + 40);
    t.same(
      inbox.items.map((i) => body(i.m).x),
      ['u1 says 1 in group:g1', 'u1 says 2 in group:g1', 'u2 says 1 in dm:u1|u2', 'u3 says 3 in group:g1', 'u2 says 4 in group:g1'],
      'in record order, nothing doubled',
    );
    const vs = inbox.items.map((i) => i.v);
    t.ok(vs.every((v, i) => i === 0 || v > vs[i - 1]!), 'versions strictly increasing');
    t.ok(vs[0]! >= T0 + 10, 'versions anchored to the time');
    t.ok(vs[4]! >= T0 + 30, 'a later call: above the clock of its call');
    t.same(inbox.cursor, vs[4]);
    t.equal(inbox.more, false);
    t.same(seqsOf((await b.history('group:g1', undefined, 20, T0 + 40)).items), [4, 3, 2, 1], 'history, newest first, once');
    t.same(seqsOf((await b.history('dm:u1|u2', undefined, 20, T0 + 40)).items), [1]);

    const { contacts, total } = await b.contacts('u1', 10, [], T0 + 40);
    t.same(
      contacts.map((c) => [c.c, c.t, c.unread, c.read]),
      [
        ['group:g1', T0 + 30, 2, 2],
        ['dm:u1|u2', T0 + 3, 1, 0],
      ],
      'most recent first; the sender has read its own messages',
    );
    t.equal(body(contacts[0]!.last!).x, 'u2 says 4 in group:g1', 'last is the last message');
    t.equal(total, 3);
    t.same((await a.inbox('u3', { after: 0 }, 100, T0 + 40)).items.length, 4, 'u3 is not in the dm');
  });

  t.test('chat - an unsequenced record gets a seq once, written into its message, also when replayed', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [a, b] = [await f.instance(), await f.instance()];
    const r = ['u1', 'u2'];
    const batch = [rec('group:z', 0, 'u1', r, T0, 'id1'), rec('group:z', 0, 'u2', r, T0 + 1, 'id2')];
    t.match(await a.apply(batch, T0 + 5), { applied: 2, skipped: 0 });
    t.match(await b.apply(batch, T0 + 6), { applied: 0, skipped: 2 }, 'the replay finds the seqs given');
    t.match(await b.apply([batch[1]!, rec('group:z', 0, 'u1', r, T0 + 2, 'id3')], T0 + 7), { applied: 1, skipped: 1 });
    const items = (await a.history('group:z', undefined, 20, T0 + 10)).items.map(body);
    t.same(
      items.map((m) => [m.s, m.id]),
      [
        [3, 'id3'],
        [2, 'id2'],
        [1, 'id1'],
      ],
      'seqs given in record order, the message re-encoded with it',
    );
    t.same(
      (await b.inbox('u2', { after: 0 }, 10, T0 + 10)).items.map((i) => body(i.m).s),
      [1, 2, 3],
    );
  });

  t.test('chat - the inbox cap evicts the oldest; a cursor before the eviction is out of retention; paging', async (t) => {
    const f = await make({ inboxMax: 5 });
    t.teardown(() => f.close());
    const [a, b] = [await f.instance(), await f.instance()];
    for (let s = 1; s <= 3; s++) await a.apply([rec('dm:u|w', s, 'w', ['u', 'w'], T0 + s)], T0 + 100);
    const res = await b.apply([4, 5, 6, 7, 8].map((s) => rec('dm:u|w', s, 'w', ['u', 'w'], T0 + s)), T0 + 100);
    t.equal(res.evicted, 6, '3 entries of each of 2 users');
    const all = await a.inbox('u', { after: 0 }, 10, T0 + 100);
    t.same(seqsOf(all.items.map((i) => i.m)), [4, 5, 6, 7, 8], 'the newest 5, oldest first');
    const v = all.items.map((i) => i.v);
    await t.rejects(a.inbox('u', { after: v[0]! - 3 }, 10, T0 + 100), OutOfRetentionError, 'a cursor before evicted entries');
    const w = await a.inbox('w', { after: 0 }, 10, T0 + 100);
    t.equal(w.items.length, 5);
    const p1 = await b.inbox('u', { after: 0 }, 2, T0 + 100);
    t.same([seqsOf(p1.items.map((i) => i.m)), p1.cursor, p1.more], [[4, 5], v[1], true]);
    const p2 = await b.inbox('u', { after: p1.cursor }, 2, T0 + 100);
    t.same([seqsOf(p2.items.map((i) => i.m)), p2.cursor, p2.more], [[6, 7], v[3], true]);
    const p3 = await b.inbox('u', { after: p2.cursor }, 2, T0 + 100);
    t.same([seqsOf(p3.items.map((i) => i.m)), p3.cursor, p3.more], [[8], v[4], false]);
    const p4 = await b.inbox('u', { after: p3.cursor }, 2, T0 + 100);
    t.same(p4, { items: [], cursor: v[4], more: false }, 'caught up: the cursor stays');
    const latest = await a.inbox('u', { latest: true }, 3, T0 + 100);
    t.same([seqsOf(latest.items.map((i) => i.m)), latest.cursor, latest.more], [[6, 7, 8], v[4], false], 'latest: the newest, oldest first');
    t.same(await a.inbox('nobody', { after: 0 }, 10, T0), { items: [], cursor: 0, more: false });
    await t.rejects(a.inbox('u', { after: T0 + 100 + 2 * DAY }, 10, T0 + 100), RangeError, 'a cursor from the future');
  });

  t.test('chat - the cursor of the last evicted entry is still good', async (t) => {
    const f = await make({ inboxMax: 2 });
    t.teardown(() => f.close());
    const a = await f.instance();
    await a.apply([1, 2].map((s) => rec('dm:u|w', s, 'w', ['u'], T0)), T0);
    const caught = (await a.inbox('u', { after: 0 }, 10, T0)).cursor;
    await a.apply([3, 4].map((s) => rec('dm:u|w', s, 'w', ['u'], T0)), T0);
    const page = await a.inbox('u', { after: caught }, 10, T0);
    t.same(seqsOf(page.items.map((i) => i.m)), [3, 4], 'exactly the two it had not seen');
  });

  t.test('chat - inbox entries age out; a cursor older than the retention is out of retention', async (t) => {
    const f = await make({ inboxRetentionMs: HOUR });
    t.teardown(() => f.close());
    const [a, b] = [await f.instance(), await f.instance()];
    await a.apply([rec('dm:u|w', 1, 'w', ['u'], T0)], T0);
    const old = await b.inbox('u', { after: 0 }, 10, T0 + MIN);
    t.equal(old.items.length, 1);
    const later = T0 + 2 * HOUR;
    t.same((await b.inbox('u', { after: 0 }, 10, later)).items, [], 'aged out');
    await t.rejects(b.inbox('u', { after: old.cursor - 1 }, 10, later), OutOfRetentionError, 'an entry after the cursor aged out');
    t.same((await b.inbox('u', { after: old.cursor }, 10, later)).items, [], 'the cursor of the aged-out entry itself lost nothing');
    await a.apply([rec('dm:u|w', 2, 'w', ['u'], later)], later);
    const fresh = await b.inbox('u', { after: 0 }, 10, later);
    t.same(seqsOf(fresh.items.map((i) => i.m)), [2]);
    t.ok(fresh.cursor > later - 1, 'versions restart above the clock');
    t.same((await b.inbox('u', { after: fresh.cursor }, 10, later + MIN)).items, []);
    await t.rejects(b.inbox('stranger', { after: later - 2 * HOUR }, 10, later), OutOfRetentionError, 'no state and a cursor older than the retention');
    t.same(await b.inbox('stranger', { after: later - MIN }, 10, later), { items: [], cursor: later - MIN, more: false });
  });

  t.test('chat - history pages backwards; trimmed past retention; a cursor past it is out of retention', async (t) => {
    const f = await make({ historyRetentionMs: DAY, inboxRetentionMs: HOUR });
    t.teardown(() => f.close());
    const [a, b] = [await f.instance(), await f.instance()];
    await a.apply(
      Array.from({ length: 45 }, (_, i) => rec('group:h', i + 1, 'u', [], T0 + i * MIN)),
      T0 + HOUR,
    );
    const p1 = await b.history('group:h', undefined, 20, T0 + HOUR);
    t.same([seqsOf(p1.items), p1.more, p1.trimmed], [Array.from({ length: 20 }, (_, i) => 45 - i), true, false]);
    const p3 = await b.history('group:h', 6, 20, T0 + HOUR);
    t.same([seqsOf(p3.items), p3.more, p3.trimmed], [[5, 4, 3, 2, 1], false, false], 'the oldest page');
    t.same(await b.history('group:none', undefined, 20, T0), { items: [], more: false, trimmed: false });
    // a day later, messages 1..5 (at T0..T0+4 min) are past retention at T0 + 1 day + 4.5 min
    const now = T0 + DAY + 4 * MIN + MIN / 2;
    await a.apply([rec('group:h', 46, 'u', [], now)], now);
    const newest = await b.history('group:h', 8, 20, now);
    t.same([seqsOf(newest.items), newest.more, newest.trimmed], [[7, 6], false, true], 'trimmed: older ones existed');
    t.same(seqsOf((await b.history('group:h', 8, 1, now)).items), [7]);
    t.match(await b.history('group:h', 8, 1, now), { more: true, trimmed: false });
    await t.rejects(b.history('group:h', 6, 20, now), OutOfRetentionError, 'everything before 6 was trimmed');
    await t.rejects(b.history('group:h', 2, 20, now), OutOfRetentionError);
    // without a write, a read past retention trims too
    await a.apply([rec('group:q', 1, 'u', [], T0), rec('group:q', 2, 'u', [], T0 + HOUR)], T0 + HOUR);
    const q = await b.history('group:q', undefined, 20, T0 + DAY + MIN);
    t.same([seqsOf(q.items), q.trimmed], [[2], true]);
    await t.rejects(b.history('group:q', 2, 20, T0 + DAY + MIN), OutOfRetentionError);
  });

  t.test('chat - contacts: order, limit, extra convs, last, unread and total; read is monotonic and clamped', async (t) => {
    const f = await make({ contactsMax: 3 });
    t.teardown(() => f.close());
    const [a, b] = [await f.instance(), await f.instance()];
    await a.apply(
      [
        rec('dm:a|u', 1, 'a', ['a', 'u'], T0 + 100),
        rec('group:g1', 1, 'x', ['x', 'u'], T0 + 200),
        rec('group:g1', 2, 'x', ['x', 'u'], T0 + 300),
        rec('group:g1', 3, 'u', ['x', 'u'], T0 + 310),
        rec('group:g1', 4, 'x', ['x', 'u'], T0 + 320),
        rec('group:g2', 1, 'x', ['x', 'u'], T0 + 200),
        rec('group:big', 1, 'x', [], T0 + 250),
        rec('group:big', 2, 'x', [], T0 + 260),
      ],
      T0 + 1000,
    );
    const now = T0 + 1000;
    const all = await b.contacts('u', 10, ['group:big'], now);
    t.same(
      all.contacts.map((c) => [c.c, c.t, c.unread, c.read, body(c.last!).s]),
      [
        ['group:g1', T0 + 320, 1, 3, 4],
        ['group:big', T0 + 260, 2, 0, 2],
        ['group:g2', T0 + 200, 1, 0, 1],
        ['dm:a|u', T0 + 100, 1, 0, 1],
      ],
    );
    t.equal(all.total, 5);
    const two = await a.contacts('u', 2, ['group:big'], now);
    t.same([two.contacts.map((c) => c.c), two.total], [['group:g1', 'group:big'], 5], 'the total covers every contact, not the page');
    t.same((await a.contacts('nobody', 10, [], now)), { contacts: [], total: 0 });
    t.same(await b.totals(['u', 'x', 'nobody'], (uid) => (uid === 'u' ? ['group:big'] : []), now), new Map([['u', 5], ['x', 0], ['nobody', 0]]));

    t.same(await a.read('u', 'group:big', 1, ['group:big'], now), { read: 1, unread: 1, total: 4 });
    t.same(await b.read('u', 'group:big', 0, ['group:big'], now), { read: 1, unread: 1, total: 4 }, 'never lowers');
    t.same(await b.read('u', 'group:big', 99, ['group:big'], now), { read: 2, unread: 0, total: 3 }, 'clamped to the last seq');
    t.same(await b.read('u', 'group:big', 2, [], now), { read: 2, unread: 0, total: 3 }, 'without extra, the total leaves the big group out');
    await a.apply([rec('group:big', 3, 'x', [], T0 + 1100)], now + 100);
    t.match(await b.contacts('u', 10, ['group:big'], now + 100), { total: 4 }, 'a new message in the big group: unread again');

    await b.apply([rec('dm:u|z', 1, 'z', ['z', 'u'], T0 + 2000)], now + 1000);
    const capped = await a.contacts('u', 10, [], now + 1000);
    t.same(capped.contacts.map((c) => c.c), ['dm:u|z', 'group:g1', 'group:g2'], 'over contactsMax: the least recent evicted');
    t.equal(capped.total, 3);
  });

  t.test('chat - membership: a new member starts unread from now; a former member stops counting the group', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const a = await f.instance();
    const g = ['u1', 'u2'];
    await a.apply([1, 2, 3].map((s) => rec('group:m', s, 'u1', g, T0 + s)), T0 + 10);
    t.match(await a.contacts('u2', 10, [], T0 + 20), { total: 3 }, 'an old member: the three messages');
    await a.membership('group:m', ['u3'], [], T0 + 20);
    await a.apply([rec('group:m', 4, 'u1', [...g, 'u3'], T0 + 30)], T0 + 40);
    t.match(await a.contacts('u3', 10, [], T0 + 50), { total: 1, contacts: [{ c: 'group:m', unread: 1, read: 3 }] }, 'the new member: only the message since joining');
    await a.membership('group:m', [], ['u2'], T0 + 60);
    t.same(await a.contacts('u2', 10, [], T0 + 70), { contacts: [], total: 0 }, 'the former member: the group left the contacts and the total');
    await a.membership('group:empty', ['u5'], ['u6'], T0 + 80);
    t.same(await a.contacts('u5', 10, [], T0 + 90), { contacts: [], total: 0 }, 'a group without messages: nothing to mark');
  });

  t.test('chat - unread and total stay consistent under concurrent applies and reads on two instances', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [a, b] = [await f.instance(), await f.instance()];
    const users = ['p0', 'p1', 'p2', 'p3', 'p4'];
    const convs = ['group:c0', 'group:c1', 'group:c2'];
    const seq = new Map<string, number>();
    const checks: Promise<void>[] = [];
    let now = T0;
    for (let round = 0; round < 30; round++) {
      now += 1000;
      const batch: StoredRecord[] = [];
      for (let i = 0; i < 4; i++) {
        const c = convs[(round + i) % convs.length]!;
        const s = (seq.get(c) ?? 0) + 1;
        seq.set(c, s);
        batch.push(rec(c, s, users[(round * 3 + i) % users.length]!, users, now));
      }
      const at = now;
      checks.push(
        (round % 2 ? a : b).apply(batch, at).then(() => undefined),
        (round % 2 ? b : a).read(users[round % users.length]!, convs[round % convs.length]!, Math.max(1, (seq.get(convs[round % convs.length]!) ?? 1) - 2), [], at).then(() => undefined),
      );
      for (const [i, uid] of users.entries()) {
        checks.push(
          (i % 2 ? a : b).contacts(uid, 100, [], at).then(({ contacts, total }) => {
            const sum = contacts.reduce((n, c) => n + c.unread, 0);
            if (sum !== total) t.fail(`${uid}: total ${total} != sum ${sum}`);
          }),
        );
      }
    }
    await Promise.all(checks);
    // settled: the derivation from read seqs and history holds exactly
    for (const uid of users) {
      const { contacts, total } = await a.contacts(uid, 100, [], now);
      let expected = 0;
      for (const c of contacts) {
        const n = seq.get(c.c)! - c.read;
        t.equal(c.unread, n, `${uid} ${c.c}`);
        expected += n;
      }
      t.equal(total, expected, `${uid} total`);
      t.equal((await b.totals([uid], () => [], now)).get(uid), total);
    }
  });
}
