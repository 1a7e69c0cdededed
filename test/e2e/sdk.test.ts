// The SDK (src/sdk) against the real server, standalone: connect, join, send and receive its
// own danmaku, gifts and likes through the room; a guest watches but cannot send; join()
// validates and switches rooms.

import t from 'tap';
import { createClient, Kind, RequestError, type DanmakuClient } from '../../src/sdk/index.js';
import { FAST } from '../helpers/cluster.js';
import { startServer, waitFor } from '../helpers/server.js';
import { record, sdkClient, stateIs, texts } from '../helpers/sdk-support.js';

t.setTimeout(60_000);

t.test('sdk - without a WebSocket (none passed, no global one) the constructor says what to pass', async (t) => {
  // Node 22+ has a global WebSocket: take it away for the check, whatever this Node has.
  const g = globalThis as { WebSocket?: unknown };
  const had = Object.getOwnPropertyDescriptor(g, 'WebSocket');
  if (had) {
    t.teardown(() => void Object.defineProperty(g, 'WebSocket', had));
    delete g.WebSocket;
  }
  t.equal(g.WebSocket, undefined);
  t.throws(() => createClient({ url: 'ws://127.0.0.1:1' }), /no WebSocket: pass opts\.WebSocket/);
});

t.test('sdk - connect, join, send and receive its own danmaku, gift and like; a guest watches but cannot send', async (t) => {
  const srv = await startServer(FAST);
  t.teardown(() => srv.stop());
  const clients: DanmakuClient[] = [];
  t.teardown(() => clients.forEach((c) => c.close()));
  const alice = sdkClient(srv.url, { token: srv.token('alice') });
  const guest = sdkClient(srv.url);
  clients.push(alice, guest);
  const ra = record(alice);
  const rg = record(guest);
  await stateIs(alice, 'open');
  t.equal(alice.welcome?.uid, 'alice');
  t.equal(alice.welcome?.guest, false);
  const info = await alice.join('lobby');
  t.match(info, { room: 'lobby', resumed: false, reset: false, replayed: 0 });
  t.ok(info.epoch.length > 0, 'an epoch');
  t.equal(info.online, 1);
  t.equal(alice.room, 'lobby');
  const ginfo = await guest.join('lobby');
  t.equal(ginfo.room, 'lobby');
  t.equal(guest.welcome?.guest, true);

  const ack = await alice.send('hello', { color: '#ff0000', mode: 'top' });
  t.match(ack, { dup: false, attempts: 1 });
  t.ok(ack.s > 0, `seq ${ack.s}`);
  t.match(ack.id, /^[A-Za-z0-9]{8}-1$/, 'a generated id');
  const gift = await alice.gift('rose', 3);
  const like = await alice.like(2);
  t.ok(gift.s > ack.s && like.s > gift.s, 'seqs in order');
  await waitFor(() => ra.items.length >= 3 && rg.items.length >= 3, 5000, 'the items in the room');
  const own = ra.items.find((i) => i.item.s === ack.s)!;
  t.match(own.item, { k: Kind.Danmaku, x: 'hello', c: 0xff0000, m: 1, u: 'alice' });
  t.same(own.meta, { room: 'lobby', replay: false });
  t.match(rg.items.find((i) => i.item.s === gift.s)?.item, { k: Kind.Gift, g: 'rose', a: 3 });
  t.match(rg.items.find((i) => i.item.s === like.s)?.item, { k: Kind.Like, a: 2 });
  t.same(texts(rg), ['hello'], 'the guest saw the danmaku once');

  const refused = await guest.send('me too').catch((e: unknown) => e);
  t.ok(refused instanceof RequestError, 'a RequestError');
  t.match(refused, { code: 12, reason: 'guest_cannot_send' });
  const contacts = await guest.conversations.list().catch((e: unknown) => e);
  t.match(contacts, { code: 12 }, 'nor read an inbox');

  // A late joiner gets the replay: marked as such, once.
  const bob = sdkClient(srv.url, { token: srv.token('bob') });
  clients.push(bob);
  const rb = record(bob);
  const binfo = await bob.join('lobby');
  t.equal(binfo.replayed, 2, 'the danmaku and the gift (likes are not replayed)');
  t.same(rb.items.map((i) => [i.item.s, i.meta.replay]), [[ack.s, true], [gift.s, true]]);

  // Bad input is refused before it is sent.
  await t.rejects(alice.join('no spaces'), { code: 10 });
  await t.rejects(alice.send('x', { color: 'red' }), TypeError);
  const invalid = await alice.send('').catch((e: unknown) => e);
  t.match(invalid, { code: 3, reason: 'bad_field' }, 'an empty text: the server says bad_field');

  // Switching rooms: the old room's items stop, sends go to the new room.
  const sw = await alice.join('other');
  t.equal(sw.room, 'other');
  t.equal(alice.room, 'other');
  const before = ra.items.length;
  await bob.send('only in lobby');
  const inOther = await alice.send('in other');
  await waitFor(() => ra.items.some((i) => i.item.s === inOther.s && i.meta.room === 'other'), 5000, 'the item in the new room');
  t.equal(ra.items.slice(before).filter((i) => i.meta.room === 'lobby').length, 0, 'nothing of the old room after the switch');
  await alice.leave();
  t.equal(alice.room, null);
  await t.rejects(alice.send('nowhere'), { code: 11 });
  t.equal(typeof (await alice.ping()), 'number');
  t.same(ra.errors, [], 'no error events');
  alice.close();
  t.equal(alice.state, 'closed');
  await t.rejects(alice.ping(), { name: 'ClientClosedError' });
});
