// The SDK's chat against the real standalone server's chat storage: the inbox synced on
// connect (from 'latest', then from a kept cursor) as 'message' events with via 'sync';
// conversations.list(), history() and markRead(); live messages once despite the SYNC that
// follows their UNREAD; MESSAGE resends (RECEIVED withheld by a long ackDelayMs) shown once;
// automatic RECEIVED (the server counts the acks and resends nothing).

import t from 'tap';
import type { DanmakuClient } from '../../src/sdk/index.js';
import { FAST } from '../helpers/cluster.js';
import { startChat } from '../helpers/chat.js';
import { metricValue, sleep, waitFor, type RunningServer } from '../helpers/server.js';
import { record, sdkClient, stateIs } from '../helpers/sdk-support.js';

t.setTimeout(90_000);

async function registered(srv: RunningServer, users: number): Promise<void> {
  await waitFor(async () => metricValue(await srv.metrics(), 'danmaku_registry_users') >= users, 5000, 'the users in the registry');
}

t.test('sdk chat - inbox synced on connect, from latest and from a kept cursor; conversations, history, markRead; live messages once', async (t) => {
  const d = await startChat('standalone', FAST);
  t.teardown(() => d.stop());
  const srv = d.gateways[0]!;
  const clients: DanmakuClient[] = [];
  t.teardown(() => clients.forEach((c) => c.close()));
  t.equal((await d.api('PUT', '/api/groups/team', { members: ['alice', 'bob'] })).status, 201);
  const bob = sdkClient(srv.url, { token: srv.token('bob') });
  clients.push(bob);
  const toAlice = bob.conversations.get({ to: 'alice' });
  t.equal(toAlice.id, 'to:alice');
  const a1 = await toAlice.send('hi alice 1');
  const a2 = await toAlice.send('hi alice 2');
  t.same([a1.s, a2.s, a1.attempts], [1, 2, 1]);
  await bob.conversations.get('g:team').send('hello team');

  // First connect: since=latest, the push carries the inbox.
  const alice = sdkClient(srv.url, { token: srv.token('alice') });
  clients.push(alice);
  const ra = record(alice);
  await waitFor(() => ra.messages.length === 3, 5000, 'the inbox');
  t.same(ra.messages.map((m) => [m.m.x, m.via]), [['hi alice 1', 'sync'], ['hi alice 2', 'sync'], ['hello team', 'sync']]);
  t.ok(alice.cursor !== null && alice.cursor > 1e12, `a cursor (${alice.cursor})`);
  t.same(ra.cursors.at(-1), alice.cursor, 'announced');
  const cursor = alice.cursor!;
  alice.close();

  await toAlice.send('while away');
  // From the kept cursor: only what came since.
  const again = sdkClient(srv.url, { token: srv.token('alice'), inboxCursor: cursor });
  clients.push(again);
  const rg = record(again);
  await waitFor(() => rg.messages.length === 1, 5000, 'the message sent while away');
  await sleep(300);
  t.same(rg.messages.map((m) => [m.m.x, m.via, m.m.u]), [['while away', 'sync', 'bob']], 'only what came after the cursor');
  t.ok(again.cursor! > cursor, 'the cursor advanced');

  const list = await again.conversations.list();
  t.equal(list.total, 4, 'four unread');
  t.equal(again.conversations.total, 4);
  const byId = new Map(list.items.map((c) => [c.id, c]));
  t.match(byId.get('to:bob'), { key: { to: 'bob' }, unread: 3, read: 0, last: { x: 'while away' } });
  t.match(byId.get('g:team'), { key: { g: 'team' }, unread: 1 });
  t.equal(list.items[0]!.id, 'to:bob', 'most recent first');

  const page = await again.conversations.get('to:bob').history({ limit: 2 });
  t.same(page.messages.map((m) => m.x), ['while away', 'hi alice 2'], 'newest first');
  t.equal(page.more, true);
  t.equal(page.trimmed, false);
  const older = await again.conversations.get({ to: 'bob' }).history({ before: page.messages.at(-1)!.s });
  t.same(older.messages.map((m) => m.x), ['hi alice 1']);
  t.equal(older.more, false);

  const unread: unknown[] = [];
  again.on('unread', (u) => unread.push(u));
  const read = await again.conversations.get('to:bob').markRead();
  t.same(read, { read: 3, unread: 0, total: 1 }, 'read up to the highest s seen');
  await waitFor(() => unread.length >= 1, 5000, 'the UNREAD push');
  t.match(unread[0], { total: 1, conversation: { to: 'bob' }, read: 3, unread: 0 });
  t.same(await again.conversations.get('g:team').markRead(), { read: 1, unread: 0, total: 0 });
  t.same(await again.conversations.get('to:nobody').markRead(), { read: 0, unread: 0, total: 0 }, 'nothing seen: everything (the server takes the largest s)');
  t.equal(again.conversations.total, 0);

  // Live: once, though the UNREAD it causes makes the client SYNC (the same message again).
  await registered(srv, 2);
  const live = await toAlice.send('live one');
  await waitFor(() => rg.messages.some((m) => m.m.x === 'live one'), 5000, 'the live message');
  await waitFor(() => again.cursor! > 0 && unread.length >= 3, 5000, 'the UNREAD of the new message');
  await sleep(500);
  t.same(rg.messages.filter((m) => m.m.x === 'live one').map((m) => m.via), ['live'], 'shown once, live');
  t.equal(rg.messages.at(-1)!.m.s, live.s);
  const ids = rg.messages.map((m) => m.m.id);
  t.equal(new Set(ids).size, ids.length, 'no message twice');
  t.same(rg.errors, []);
});

t.test('sdk chat - RECEIVED: acknowledged automatically (no resend); withheld past PUSH_ACK_TIMEOUT_MS, the resends are shown once', async (t) => {
  const d = await startChat('standalone', { ...FAST, PUSH_ACK_TIMEOUT_MS: '400', PUSH_RESEND_INTERVAL_MS: '200', PUSH_RESENDS: '2' });
  t.teardown(() => d.stop());
  const srv = d.gateways[0]!;
  const sam = sdkClient(srv.url, { token: srv.token('sam') });
  const amy = sdkClient(srv.url, { token: srv.token('amy'), ackDelayMs: 50 });
  t.teardown(() => [sam, amy].forEach((c) => c.close()));
  const rm = record(amy);
  await Promise.all([stateIs(sam, 'open'), stateIs(amy, 'open')]);
  await registered(srv, 2);
  await sam.conversations.get({ to: 'amy' }).send('acknowledged');
  // The sender's connection gets its own message live too: two pushes, both acknowledged.
  await waitFor(async () => metricValue(await srv.metrics(), 'danmaku_push_acked_total') >= 2, 5000, 'the RECEIVED');
  await sleep(1200); // past the ack timeout and both resends, were there any
  let m = await srv.metrics();
  t.equal(metricValue(m, 'danmaku_push_acked_total'), 2, 'acknowledged (by amy and by sam)');
  t.equal(metricValue(m, 'danmaku_push_resends_total'), 0, 'not resent');
  t.same(rm.messages.map((x) => [x.m.x, x.via]), [['acknowledged', 'live']]);
  amy.close();

  const wendy = sdkClient(srv.url, { token: srv.token('wendy'), ackDelayMs: 5000 });
  t.teardown(() => wendy.close());
  const rw = record(wendy);
  await stateIs(wendy, 'open');
  await registered(srv, 2);
  await sam.conversations.get({ to: 'wendy' }).send('resent');
  await waitFor(async () => metricValue(await srv.metrics(), 'danmaku_push_resends_total') >= 2, 5000, 'the resends');
  await sleep(500);
  m = await srv.metrics();
  t.equal(metricValue(m, 'danmaku_push_resends_total'), 2, 'sent to wendy three times in all (sam acknowledged its copy)');
  t.same(rw.messages.map((x) => [x.m.x, x.via]), [['resent', 'live']], 'shown once');
});

t.test('sdk chat - a burst of MSGs over the rate limit is stored in call order', async (t) => {
  const d = await startChat('standalone', { ...FAST, USER_MESSAGE_RATE: '20', USER_MESSAGE_BURST: '3' });
  t.teardown(() => d.stop());
  const srv = d.gateways[0]!;
  const bob = sdkClient(srv.url, { token: srv.token('bob') });
  t.teardown(() => bob.close());
  const conv = bob.conversations.get({ to: 'alice' });
  const acks = await Promise.all(Array.from({ length: 30 }, (_, i) => conv.send(`dm ${i}`)));
  const seqs = acks.map((a) => a.s);
  t.ok(acks.some((a) => a.attempts > 1), 'rate-limited on the way');
  t.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!), `strictly increasing in call order: ${seqs.join(' ')}`);
  const page = await conv.history({ limit: 20 });
  t.same(page.messages.map((m) => m.x), Array.from({ length: 20 }, (_, i) => `dm ${29 - i}`), 'the history in call order');
});

t.test('sdk chat - ERROR 40 out_of_retention on SYNC: an error event, then a SYNC without a cursor (the most recent)', async (t) => {
  const d = await startChat('standalone', { ...FAST, INBOX_MAX: '10', INBOX_PUSH_SIZE: '0' });
  t.teardown(() => d.stop());
  const srv = d.gateways[0]!;
  const bob = sdkClient(srv.url, { token: srv.token('bob') });
  t.teardown(() => bob.close());
  const toAlice = bob.conversations.get({ to: 'alice' });
  await toAlice.send('first');
  // No INBOX push (INBOX_PUSH_SIZE 0): the client SYNCs requestTimeoutMs after WELCOME.
  const alice = sdkClient(srv.url, { token: srv.token('alice'), requestTimeoutMs: 300 });
  const ra = record(alice);
  await waitFor(() => ra.messages.length === 1, 5000, 'the first message, synced');
  const cursor = alice.cursor!;
  alice.close();
  for (let i = 0; i < 15; i++) await toAlice.send(`away ${i}`); // the inbox keeps 10: entries after the cursor are evicted
  const again = sdkClient(srv.url, { token: srv.token('alice'), requestTimeoutMs: 300, inboxCursor: cursor });
  t.teardown(() => again.close());
  const rg = record(again);
  await waitFor(() => rg.messages.length === 10, 5000, 'the most recent messages');
  t.match(rg.errors, [{ name: 'RequestError', code: 40, reason: 'out_of_retention' }], 'one error event');
  t.same(rg.messages.map((m) => [m.m.x, m.via]), Array.from({ length: 10 }, (_, i) => [`away ${i + 5}`, 'sync']));
  t.ok(again.cursor! > cursor, 'the cursor moved on');
});
