// Bad input to the chat reads (docs/protocol.md, SYNC, HISTORY, CONTACTS, READ, error codes 3,
// 12, 14, 40): each gets its documented ERROR, the connection lives on, and nobody else is
// disturbed; a flood of SYNCs is refused by the frame budget without hurting the process.

import t from 'tap';
import { Errors, CloseCodes } from '../../src/protocol/errors.js';
import { Op } from '../../src/protocol/ops.js';
import { ADMIN_SECRET, FAST } from '../helpers/cluster.js';
import { adminAt, ChatConn, errorOf, inboxPush, pollUntil, syncAll } from '../helpers/chat.js';
import { startServer } from '../helpers/server.js';

const codeOf = async (p: Promise<unknown>) => (await errorOf(p))?.code ?? 'no error';

/** [SYNC, rid, {cursor: <uint64 n>}] with the cursor as MessagePack uint64 (0xcf), as Go or Java would write it. */
function syncWithUint64Cursor(rid: number, n: bigint): Buffer {
  const u64 = Buffer.alloc(8);
  u64.writeBigUInt64BE(n);
  return Buffer.concat([Buffer.from([0x93, Op.Sync, rid, 0x81, 0xa6]), Buffer.from('cursor'), Buffer.from([0xcf]), u64]);
}

t.test('chat bad input - SYNC, HISTORY, CONTACTS and READ with bad fields get ERROR 3, foreign groups 14; the connection lives on', async (t) => {
  const srv = await startServer({ ADMIN_SECRET, ...FAST });
  t.teardown(() => srv.stop());
  const api = adminAt(() => srv.adminPort, ADMIN_SECRET);
  t.equal((await api('PUT', '/api/groups/ours', { members: ['alice', 'bob'] })).status, 201);
  t.equal((await api('PUT', '/api/groups/theirs', { members: ['carol'] })).status, 201);
  const bystander = await ChatConn.open(srv.url, srv.token('bystander'));
  t.teardown(() => bystander.close());
  const c = await ChatConn.open(srv.url, srv.token('alice'));
  t.teardown(() => c.close());
  t.equal((await c.request(Op.Msg, { g: 'ours', x: 'hello' })).op, Op.Ack);

  const bad = Errors.BadField.code;
  const day = 24 * 3600_000;
  const cases: [string, number, unknown, number][] = [
    ['SYNC cursor -1', Op.Sync, { cursor: -1 }, bad],
    ['SYNC cursor 1.5', Op.Sync, { cursor: 1.5 }, bad],
    ['SYNC cursor a string', Op.Sync, { cursor: '100' }, bad],
    ['SYNC cursor nil', Op.Sync, { cursor: null }, bad],
    ['SYNC cursor 2^60 (a float)', Op.Sync, { cursor: 2 ** 60 }, bad],
    ['SYNC cursor 2^53 (one past the largest)', Op.Sync, { cursor: 2 ** 53 }, bad],
    ['SYNC cursor two days ahead: no version this server gave', Op.Sync, { cursor: Date.now() + 2 * day }, bad],
    ['SYNC limit 0', Op.Sync, { limit: 0 }, bad],
    ['SYNC limit 201', Op.Sync, { limit: 201 }, bad],
    ['SYNC limit 1e9', Op.Sync, { limit: 1e9 }, bad],
    ['SYNC body not a map', Op.Sync, [1, 2], bad],
    ['HISTORY without g or to', Op.History, {}, bad],
    ['HISTORY with both g and to', Op.History, { g: 'ours', to: 'bob' }, bad],
    ['HISTORY bad group id', Op.History, { g: 'no.dots' }, bad],
    ['HISTORY bad uid', Op.History, { to: 'a b' }, bad],
    ['HISTORY before 0', Op.History, { g: 'ours', before: 0 }, bad],
    ['HISTORY before -5', Op.History, { g: 'ours', before: -5 }, bad],
    ['HISTORY before 1.5', Op.History, { g: 'ours', before: 1.5 }, bad],
    ['HISTORY before 2^60', Op.History, { g: 'ours', before: 2 ** 60 }, bad],
    ['HISTORY limit 21', Op.History, { g: 'ours', limit: 21 }, bad],
    ['HISTORY limit 0', Op.History, { g: 'ours', limit: 0 }, bad],
    ['HISTORY of a group alice is not in', Op.History, { g: 'theirs' }, Errors.NotMember.code],
    ['HISTORY of a group that does not exist', Op.History, { g: 'nowhere' }, Errors.NotMember.code],
    ['CONTACTS limit 101', Op.Contacts, { limit: 101 }, bad],
    ['CONTACTS limit 0', Op.Contacts, { limit: 0 }, bad],
    ['CONTACTS limit "5"', Op.Contacts, { limit: '5' }, bad],
    ['READ without s', Op.Read, { g: 'ours' }, bad],
    ['READ s -1', Op.Read, { g: 'ours', s: -1 }, bad],
    ['READ s 1.5', Op.Read, { g: 'ours', s: 1.5 }, bad],
    ['READ s a string', Op.Read, { g: 'ours', s: '1' }, bad],
    ['READ s 2^60', Op.Read, { g: 'ours', s: 2 ** 60 }, bad],
    ['READ without g or to', Op.Read, { s: 1 }, bad],
    ['READ of a group alice is not in', Op.Read, { g: 'theirs', s: 1 }, Errors.NotMember.code],
    ['READ of a group that does not exist', Op.Read, { g: 'nowhere', s: 1 }, Errors.NotMember.code],
  ];
  for (const [name, op, body, code] of cases) t.equal(await codeOf(c.request(op, body)), code, name);

  // A 64-bit integer beyond 2^53, as another language's library writes it: refused, with the rid.
  const from = c.frames.length;
  c.sendRaw(syncWithUint64Cursor(77, 1n << 60n));
  const err = await c.frame((f) => f.rid === 77, 5000, from);
  t.same([err.op, err.body.code], [Op.Error, bad], 'SYNC cursor uint64 2^60: ERROR 3 with its rid');
  const small = c.frames.length;
  c.sendRaw(syncWithUint64Cursor(78, 0n));
  t.equal((await c.frame((f) => f.rid === 78, 5000, small)).op, Op.Inbox, 'SYNC cursor uint64 0: an ordinary integer');

  // What is allowed: a conversation with anyone (empty), READ of it, nil bodies, the page maxima.
  t.match((await c.request(Op.History, { to: 'nobody-yet' })).body, { to: 'nobody-yet', more: false, d: [] }, 'HISTORY with a user never written to: an empty page');
  t.match((await c.request(Op.Read, { to: 'nobody-yet', s: 5 })).body, { to: 'nobody-yet', read: 0, unread: 0 }, 'READ of an empty conversation: nothing to read');
  t.equal((await c.request(Op.Contacts, null)).op, Op.Recent, 'CONTACTS with a nil body');
  t.equal((await c.request(Op.Sync, null)).op, Op.Inbox, 'SYNC with a nil body');
  t.equal((await c.request(Op.Sync, { cursor: 0, limit: 200 })).op, Op.Inbox, 'SYNC limit 200');
  t.equal((await c.request(Op.History, { g: 'ours', limit: 20, before: Number.MAX_SAFE_INTEGER })).op, Op.Messages, 'HISTORY limit 20, before 2^53-1');
  t.equal((await c.request(Op.Contacts, { limit: 100 })).op, Op.Recent, 'CONTACTS limit 100');
  t.equal((await c.request(Op.Ping, null)).op, Op.Pong, 'the connection still works');
  t.equal((await bystander.request(Op.Ping, null)).op, Op.Pong, 'the bystander is undisturbed');
  t.equal((await syncAll(bystander, 0)).messages.length, 0, 'and its inbox is its own');
});

t.test('chat - without `since` in the URL a signed-in connection gets no INBOX push', async (t) => {
  const srv = await startServer({ ADMIN_SECRET, ...FAST });
  t.teardown(() => srv.stop());
  const c = await ChatConn.open(srv.url, srv.token('viewer'));
  t.teardown(() => c.close());
  // A push asked for at connect would be on its way before this request (the same path).
  const reply = await c.request(Op.Sync, { limit: 1 });
  t.equal(reply.op, Op.Inbox, 'the SYNC is answered');
  t.same(c.frames.filter((f) => f.op === Op.Inbox && f.rid === 0), [], 'no INBOX with rid 0 came');
});

t.test('chat bad input - a bad `since` in the URL gets ERROR 3 with rid 0 instead of the INBOX push', async (t) => {
  const srv = await startServer({ ADMIN_SECRET, ...FAST });
  t.teardown(() => srv.stop());
  const token = srv.token('dora');
  for (const since of ['abc', '-1', '1.5', '1e3', '0x10', '99999999999999999', '9007199254740993', String(Date.now() + 2 * 24 * 3600_000)]) {
    const c = await ChatConn.open(srv.url, token, since);
    const err = await errorOf(inboxPush(c));
    t.equal(err?.code, Errors.BadField.code, `since=${since}: ERROR 3`);
    t.equal(c.frames.filter((f) => f.op === Op.Inbox).length, 0, 'no INBOX push');
    t.equal((await c.request(Op.Ping, null)).op, Op.Pong, 'the connection stays open');
    c.close();
  }
  const ok = await ChatConn.open(srv.url, token, '0');
  t.match(await inboxPush(ok), { n: 0, cursor: 0, more: false }, 'since=0 on an empty inbox: an empty push, cursor 0');
  ok.close();
});

t.test('chat bad input - guests: every chat read is ERROR 12, and no INBOX push', async (t) => {
  const srv = await startServer({ ADMIN_SECRET, ...FAST });
  t.teardown(() => srv.stop());
  const guest = await ChatConn.open(srv.url, undefined, 0);
  t.teardown(() => guest.close());
  const code = Errors.GuestCannotSend.code;
  t.equal(await codeOf(guest.request(Op.Sync, { cursor: 0 })), code, 'SYNC');
  t.equal(await codeOf(guest.request(Op.History, { to: 'alice' })), code, 'HISTORY');
  t.equal(await codeOf(guest.request(Op.Contacts, null)), code, 'CONTACTS');
  t.equal(await codeOf(guest.request(Op.Read, { to: 'alice', s: 1 })), code, 'READ');
  t.equal(await codeOf(guest.request(Op.Msg, { to: 'alice', x: 'hi' })), code, 'MSG');
  // A push would follow WELCOME at once: once a user who connected later has had its own, the guest would have had one.
  const user = await ChatConn.open(srv.url, srv.token('alice'), 'latest');
  t.teardown(() => user.close());
  await inboxPush(user);
  t.equal((await guest.request(Op.Ping, null)).op, Op.Pong);
  t.same(guest.frames.filter((f) => f.op === Op.Inbox || (f.op === Op.Error && f.rid === 0)), [], 'the guest got no INBOX push (and no ERROR for one)');
});

t.test('chat bad input - a cursor after which entries were evicted gets ERROR 40; cursor 0 and no cursor still work', async (t) => {
  const srv = await startServer({ ADMIN_SECRET, ...FAST, INBOX_MAX: '10' });
  t.teardown(() => srv.stop());
  const sender = await ChatConn.open(srv.url, srv.token('sam'));
  t.teardown(() => sender.close());
  const reader = await ChatConn.open(srv.url, srv.token('rita'));
  t.teardown(() => reader.close());
  const send = async (from: number, to: number) => {
    for (let i = from; i <= to; i++) t.equal((await sender.request(Op.Msg, { to: 'rita', x: `m${i}`, id: `m${i}` })).op, Op.Ack);
  };
  await send(1, 3);
  const first = await pollUntil(() => syncAll(reader, 0), (r) => r.messages.length === 3, 10_000, 'the first 3 stored');
  await send(4, 30);
  await pollUntil(() => syncAll(reader, 0), (r) => r.messages.at(-1)?.x === 'm30', 10_000, 'all 30 stored');
  t.equal(await codeOf(reader.request(Op.Sync, { cursor: first.cursor })), Errors.OutOfRetention.code, 'SYNC from a cursor whose next entries were evicted: ERROR 40');
  const late = await ChatConn.open(srv.url, srv.token('rita'), first.cursor);
  t.teardown(() => late.close());
  t.equal((await errorOf(inboxPush(late)))?.code, Errors.OutOfRetention.code, 'the same cursor as since: ERROR 40 with rid 0');
  const kept = await syncAll(reader, 0);
  t.same(kept.messages.map((m) => m.x), Array.from({ length: 10 }, (_, i) => `m${21 + i}`), 'cursor 0: the 10 kept (INBOX_MAX), oldest first');
  const latest = await reader.request(Op.Sync, { limit: 5 });
  t.match(latest.body, { n: 5, more: false }, 'no cursor: the most recent 5');
  const history = await reader.request(Op.History, { to: 'sam' });
  t.equal((history.body.d as unknown[]).length, 20, 'the evicted ones are still in the history');
});

t.test('chat bad input - a flood of SYNCs is refused with ERROR 21 and closed; the process and other users are fine', async (t) => {
  const srv = await startServer({ ADMIN_SECRET, CONN_FRAME_RATE: '10', CONN_FRAME_BURST: '10', FLOOD_CLOSE_AFTER: '20' });
  t.teardown(() => srv.stop());
  const other = await ChatConn.open(srv.url, srv.token('other'));
  t.teardown(() => other.close());
  const flooder = await ChatConn.open(srv.url, srv.token('flooder'), 'latest');
  t.teardown(() => flooder.close());
  await inboxPush(flooder);
  const replies = Array.from({ length: 300 }, () => flooder.request(Op.Sync, { cursor: 0, limit: 200 }).then(() => 'inbox', (e: unknown) => (e instanceof Error && 'frame' in e ? `error ${String((e as { frame: { body: { code: number } } }).frame.body.code)}` : 'closed')));
  await pollUntil(async () => flooder.closed, (c) => c !== null, 10_000, 'the flooder closed');
  const outcomes = await Promise.all(replies);
  t.equal(flooder.closed!.code, CloseCodes.Flood.code, 'closed with 4003');
  t.ok(outcomes.filter((o) => o === 'inbox').length <= 10, `at most the burst answered (${outcomes.filter((o) => o === 'inbox').length})`);
  t.ok(outcomes.includes(`error ${Errors.Flood.code}`), 'the rest refused with ERROR 21 (then the connection closed)');
  t.equal((await other.request(Op.Sync, { cursor: 0 })).op, Op.Inbox, 'another user syncs as before');
  t.equal((await other.request(Op.Contacts, null)).op, Op.Recent);
  const again = await ChatConn.open(srv.url, srv.token('flooder'), 'latest');
  t.teardown(() => again.close());
  t.equal((await inboxPush(again)).n, 0, 'the flooder reconnects and gets its push');
  t.equal(srv.proc.exitCode, null, 'the server is running');
});
