// The moderation cache (events, version gaps, polls, listeners), the control events' codec and
// MODERATE's validation, without a server: memory store and the in-memory bus.

import t from 'tap';
import { MemoryBroker } from '../../src/bus/memory.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { ModerationActions } from '../../src/moderation/actions.js';
import { ModerationCache } from '../../src/moderation/cache.js';
import { decodeEvent, encodeEvent } from '../../src/moderation/events.js';
import { readModerate } from '../../src/logic/moderation.js';
import { ModerationApi } from '../../src/logic/moderation-api.js';
import type { Json } from '../../src/admin-http.js';
import { encode } from '../../src/protocol/codec.js';
import { Errors, ProtocolError } from '../../src/protocol/errors.js';
import { EVERYWHERE, type Restriction } from '../../src/store/moderation/index.js';
import { MemoryModerationStore } from '../../src/store/moderation/memory.js';

const log = createLogger('silent');
const meta = { by: 'admin', source: 'admin' as const, at: 1 };
const tick = () => new Promise((r) => setTimeout(r, 5));

async function setup(pollMs = 0) {
  const broker = new MemoryBroker();
  const store = new MemoryModerationStore();
  const [busA, busB] = [broker.connect(), broker.connect()];
  const a = new ModerationCache(store, busA, { pollMs }, log);
  const b = new ModerationCache(store, busB, { pollMs }, log);
  await a.start();
  await b.start();
  const actions = new ModerationActions(store, busA, a, new Metrics({ labels: {} }), log);
  return { store, a, b, actions, busB };
}

t.test('moderation cache - an action applies at once here and by the event on the other process', async (t) => {
  const { a, b, actions } = await setup();
  t.teardown(() => [a.stop(), b.stop()]);
  await actions.restrict('mute', 'u1', 'r1', Date.now() + 60_000, { by: 'm', source: 'moderator' });
  t.ok(a.muted('u1', 'r1'), 'applied here before any event');
  await tick();
  t.ok(b.muted('u1', 'r1'), 'the event reached the other process');
  t.equal(b.muted('u1', 'r2'), null, 'another room');
  t.equal(b.muted('u1', ''), null, 'chat: only a mute everywhere counts');
  await actions.restrict('mute', 'u1', EVERYWHERE, undefined, { by: 'm', source: 'admin' });
  await tick();
  t.equal(b.muted('u1', '')?.room, EVERYWHERE);
  t.equal(b.muted('u1', 'r9')?.room, EVERYWHERE, 'everywhere covers every room');
  t.ok(await actions.lift('mute', 'u1', EVERYWHERE, { by: 'm', source: 'admin' }));
  t.notOk(await actions.lift('mute', 'u1', EVERYWHERE, { by: 'm', source: 'admin' }), 'nothing to lift');
  await tick();
  t.equal(b.muted('u1', ''), null);
  t.equal(b.version, 3);
});

t.test('moderation cache - timed restrictions lapse without an event', async (t) => {
  const { a, b, actions } = await setup();
  t.teardown(() => [a.stop(), b.stop()]);
  await actions.restrict('ban', 'u1', 'r1', Date.now() + 50, { by: 'a', source: 'admin' });
  await tick();
  t.ok(b.banned('u1', 'r1'));
  await new Promise((r) => setTimeout(r, 80));
  t.equal(b.banned('u1', 'r1'), null);
});

t.test('moderation cache - bans notify listeners once, from the event or from a reload', async (t) => {
  const { store, a, b, actions } = await setup();
  t.teardown(() => [a.stop(), b.stop()]);
  const seen: Restriction[] = [];
  b.listen({ banned: (r) => seen.push(r) });
  await actions.restrict('ban', 'u1', 'r1', undefined, { by: 'a', source: 'admin' });
  await tick();
  await b.reload();
  t.same(seen.map((r) => r.uid), ['u1'], 'the reload found nothing new');
  // Written behind the bus's back (an event lost): found by the poll.
  await store.set('ban', { uid: 'u2', room: 'r1', ...meta });
  await b.poll();
  t.same(seen.map((r) => r.uid), ['u1', 'u2']);
  t.ok(b.banned('u2', 'r1'));
});

async function until(cond: () => boolean, ms = 2000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await tick();
  }
  return true;
}

t.test('moderation cache - a gap in versions triggers a reload; an event older than the state is ignored', async (t) => {
  const { store, b, busB } = await setup();
  t.teardown(() => b.stop());
  await store.set('mute', { uid: 'x', room: 'r', ...meta }); // v1, never announced
  await store.set('mute', { uid: 'y', room: 'r', ...meta }); // v2
  b.apply({ v: 2, e: 'mute', r: { uid: 'y', room: 'r', ...meta } });
  t.ok(b.muted('y', 'r'), 'enforced at once');
  t.equal(b.version, 0, 'a gap never moves the version');
  t.ok(await until(() => b.muted('x', 'r') !== null), 'the missed v1 came with the reload the gap asked for');
  t.equal(b.version, 2);
  b.apply({ v: 1, e: 'unmute', u: 'x', room: 'r' });
  t.ok(b.muted('x', 'r'), 'an event older than the state applied is ignored');
  t.ok(busB);
});

t.test('moderation cache - reloads asked for by events are coalesced (one per 100 ms)', async (t) => {
  const { store, b } = await setup();
  t.teardown(() => b.stop());
  let reads = 0;
  const snapshot = store.snapshot.bind(store);
  store.snapshot = () => {
    reads++;
    return snapshot();
  };
  for (let v = 10; v < 60; v++) b.apply({ v, e: 'unban', u: 'z', room: 'r' });
  await new Promise((r) => setTimeout(r, 50));
  t.equal(reads, 1, 'fifty gaps: one reload');
  for (let v = 60; v < 70; v++) b.apply({ v, e: 'lists' });
  await new Promise((r) => setTimeout(r, 30));
  t.equal(reads, 1, 'not before 100 ms have passed since the last');
  await new Promise((r) => setTimeout(r, 120));
  t.equal(reads, 2, 'then one more for all of them');
});

t.test('moderation cache - a forged event with a huge version does not freeze the process', async (t) => {
  const { a, b, actions } = await setup();
  t.teardown(() => [a.stop(), b.stop()]);
  b.apply({ v: Number.MAX_SAFE_INTEGER, e: 'mute', r: { uid: 'f', room: 'r', ...meta } });
  await new Promise((r) => setTimeout(r, 150));
  t.equal(b.muted('f', 'r'), null, 'the forged mute was replaced by the store\'s state');
  t.equal(b.version, 0);
  await actions.restrict('mute', 'u1', 'r1', undefined, { by: 'm', source: 'admin' });
  await b.poll();
  t.ok(b.muted('u1', 'r1'), 'a real change is applied (after the next poll at the latest)');
  t.equal(b.version, 1);
});

t.test('moderation cache - a store whose version went back (reset to 0) is believed by the poll', async (t) => {
  const { store, a, b, actions } = await setup();
  t.teardown(() => [a.stop(), b.stop()]);
  for (let i = 0; i < 5; i++) await actions.restrict('mute', `old${i}`, 'r', undefined, { by: 'm', source: 'admin' });
  await tick();
  t.equal(b.version, 5);
  // FLUSHALL, or a Redis restart without persistence: everything gone, the version back to 0.
  const raw = store as unknown as { ver: number; restrictions: Record<'mute' | 'ban', Map<string, Restriction>> };
  raw.ver = 0;
  raw.restrictions.mute.clear();
  await b.poll();
  t.equal(b.version, 0, 'the lower version accepted');
  t.equal(b.muted('old0', 'r'), null, 'the state is the store\'s');
  await store.set('mute', { uid: 'n', room: 'r', ...meta }); // v1, its event lost (or dropped as old)
  b.apply({ v: 1, e: 'mute', r: { uid: 'n', room: 'r', ...meta } });
  t.ok(b.muted('n', 'r'), 'the next event applies');
  await store.set('mute', { uid: 'n2', room: 'r', ...meta }); // v2, never announced
  await b.poll();
  t.ok(b.muted('n2', 'r'), 'a new mute is enforced after the poll');
  t.equal(b.version, 2);
});

t.test('moderation cache - list changes reach listeners (once per change), through the store', async (t) => {
  const { a, b, actions } = await setup();
  t.teardown(() => [a.stop(), b.stop()]);
  const got: number[] = [];
  b.listen({ listsChanged: (l) => got.push(l.length) });
  await actions.putList({ name: 'x', action: 'reject', words: ['w'] }, { by: 'a', source: 'admin' });
  await new Promise((r) => setTimeout(r, 20));
  await b.reload();
  t.same(got, [1]);
  t.same(b.lists.map((l) => l.name), ['x']);
});

t.test('control events - encode/decode round trip; junk is dropped', async (t) => {
  const r: Restriction = { uid: 'u', room: 'r', until: 5e12, by: 'm', source: 'moderator', reason: 'why', at: 7 };
  t.same(decodeEvent(encodeEvent({ v: 3, e: 'ban', r })), { v: 3, e: 'ban', r });
  t.same(decodeEvent(encodeEvent({ v: 4, e: 'unmute', u: 'u', room: '*' })), { v: 4, e: 'unmute', u: 'u', room: '*' });
  t.same(decodeEvent(encodeEvent({ v: 5, e: 'lists' })), { v: 5, e: 'lists' });
  for (const junk of [new Uint8Array([0xc1]), encode([1]), encode({ v: 'x', e: 'lists' }), encode({ v: 1, e: 'mute', u: 'bad uid', room: 'r' }), encode({ v: 1, e: 'ban', u: 'u', room: 'a.b' }), encode({ v: 1, e: 'nuke', u: 'u', room: 'r' }), encode({ v: 1, e: 'mute', u: 'u', room: 'r', until: 'soon' })]) {
    t.equal(decodeEvent(junk), null);
  }
});

t.test('MODERATE - validation: fields, scopes, roles', async (t) => {
  const bad = (body: unknown, admin = false) => {
    try {
      readModerate(body, admin);
      return false;
    } catch (err) {
      return err instanceof ProtocolError && err.entry === Errors.BadField;
    }
  };
  t.same(readModerate({ a: 'mute', u: 'x', room: 'r', ms: 1000, why: 'w' }, false), { a: 'mute', u: 'x', room: 'r', ms: 1000, why: 'w' });
  t.same(readModerate({ a: 'mute', u: 'x' }, true), { a: 'mute', u: 'x' }, 'an admin may mute everywhere');
  t.ok(bad({ a: 'mute', u: 'x' }), 'a moderator must name the room');
  t.ok(bad({ a: 'ban', u: 'x' }, true), 'a ban needs a room even for an admin');
  t.ok(bad({ a: 'unmute', u: 'x', room: 'r', ms: 5 }), 'ms only with mute or ban');
  for (const body of [null, [], 'x', { a: 'kick', u: 'x', room: 'r' }, { a: 'mute', u: '', room: 'r' }, { a: 'mute', u: 'x', room: 'r.1' }, { a: 'mute', u: 'x', room: 'r', ms: 0 }, { a: 'mute', u: 'x', room: 'r', ms: 1.5 }, { a: 'mute', u: 'x', room: 'r', why: 'w'.repeat(201) }, { a: 'mute', u: 'x', room: 'r', extra: 1 }]) {
    t.ok(bad(body, true), JSON.stringify(body));
  }
});

t.test('admin API - a failed approval is put back with its idempotency key: a retry is a duplicate', async (t) => {
  const { store, a, b, actions } = await setup();
  t.teardown(() => [a.stop(), b.stop()]);
  const keys: unknown[] = [];
  const names: unknown[] = [];
  let fail = true;
  const api = new ModerationApi({
    actions,
    backend: {
      roomItem: async (_room: string, body: Json) => {
        keys.push(body.key);
        names.push(body.n);
        if (fail) return { status: 503, body: { error: 'bus did not confirm' } };
        return { status: 200, body: { s: 1, t: 2 } };
      },
    } as never,
    logic: { send: async () => ({ e: 31, m: 'x' }) } as never,
    name: (_n: string, uid: string) => uid,
    log,
  });
  const id = await store.hold({ at: 1, o: 20, u: 'u', n: 'n', r: [], room: 'r', b: { k: 1, x: 'held text' }, lists: ['l'] });
  const route = (name: string) => api.routes.find((r) => r[2] === name)![3];
  const first = await route('held_approve')([id!], {}, new URLSearchParams());
  t.equal(first[0], 503);
  const [again] = await store.held(10);
  t.ok(again, 'put back');
  t.not(again!.id, id);
  fail = false;
  const second = await route('held_approve')([again!.id], {}, new URLSearchParams());
  t.equal(second[0], 200);
  t.same(keys, [`held-${id}`, `held-${id}`], 'the same key both times');
  t.same(names, ['u', 'u'], 'the display name as the filter has it');
});

t.test('admin API - unknown body keys and query parameters are refused (400 naming the key)', async (t) => {
  const { a, b, actions } = await setup();
  t.teardown(() => [a.stop(), b.stop()]);
  const api = new ModerationApi({ actions, backend: {} as never, logic: {} as never, log });
  const call = async (name: string, params: string[], body: Json, query = '') => {
    try {
      return (await api.routes.find((r) => r[2] === name)![3](params, body, new URLSearchParams(query)))[0];
    } catch (err) {
      return `${(err as { status?: number }).status} ${(err as Error).message}`;
    }
  };
  t.match(await call('mute_set', [], { u: 'x', rom: 'r' }), /^400 .*"rom"/, 'a misspelt room is not "everywhere"');
  t.equal(actions.cache.muted('x', ''), null, 'nothing was muted');
  t.equal(await call('mute_set', [], { u: 'x' }), 200, 'no room: everywhere');
  t.match(await call('mute_delete', ['x'], {}, 'rooom=r'), /^400 .*"rooom"/);
  t.match(await call('held_list', [], {}, 'limt=5'), /^400 .*"limt"/);
  t.match(await call('held_approve', ['1'], { bye: 'm' }), /^400 .*"bye"/);
  t.match(await call('mute_list', [], {}, 'x=1'), /^400 .*"x"/);
});

t.test('actions - a stored change is audited even when the broadcast throws', async (t) => {
  const { store, a, b } = await setup();
  t.teardown(() => [a.stop(), b.stop()]);
  const bus = { broadcast: () => { throw new Error('bus down'); }, confirm: async () => {} } as never;
  const actions = new ModerationActions(store, bus, a, new Metrics({ labels: {} }), log);
  const audits: string[] = [];
  const audited = actions.audited.bind(actions);
  actions.audited = (action, actor, fields) => {
    audits.push(action);
    audited(action, actor, fields);
  };
  await t.rejects(actions.restrict('ban', 'u9', 'r', undefined, { by: 'a', source: 'admin' }), /bus down/);
  t.equal((await store.snapshot()).bans.length, 1, 'stored');
  t.same(audits, ['ban'], 'and audited');
});

t.test('MODERATE - a bus that does not confirm answers ERROR 30', async (t) => {
  const { store, a, b } = await setup();
  t.teardown(() => [a.stop(), b.stop()]);
  const { BusTimeoutError } = await import('../../src/bus/index.js');
  const { ContentModeration } = await import('../../src/logic/moderation.js');
  const bus = { broadcast: () => {}, confirm: async () => { throw new BusTimeoutError('confirm'); } } as never;
  const actions = new ModerationActions(store, bus, a, new Metrics({ labels: {} }), log);
  const mod = new ContentModeration(actions, { filterAutomuteHits: 0, filterAutomuteWindowMs: 60_000, filterAutomuteMs: 60_000 } as never, new Metrics({ labels: {} }), log);
  const err = await mod.moderate({ o: 24, u: 'm', n: 'm', r: ['moderator'], room: '', at: Date.now(), b: { a: 'mute', u: 'x', room: 'r' } } as never).catch((e: unknown) => e);
  t.ok(err instanceof ProtocolError && err.entry === Errors.Unavailable, 'ERROR 30');
});
