// Mute, ban, MODERATE, the word filter and the review queue end to end in standalone mode
// (docs/moderation.md): a real server process, clients on the wire protocol, the admin API.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { RequestFailed, type DanmakuClient, type ServerFrame } from '../../src/client/client.js';
import { Errors } from '../../src/protocol/errors.js';
import { Op } from '../../src/protocol/ops.js';
import { FAST, items } from '../helpers/cluster.js';
import { adminAt } from '../helpers/chat.js';
import { metricValue, sleep, startServer, waitFor } from '../helpers/server.js';

t.setTimeout(120_000);

const ADMIN_SECRET = 'test-admin-secret-0123456789';

async function failure(p: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RequestFailed) return err.frame.body;
    throw err;
  }
  throw new Error('expected an ERROR frame');
}

function lefts(c: DanmakuClient): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  c.on('frame', (f: ServerFrame) => {
    if (f.op === Op.Left && f.rid === 0) out.push(f.body);
  });
  return out;
}

t.test('moderation (standalone) - mute, ban, MODERATE, filter reject/mask/hold, review queue, auto-mute', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'danmaku-filter-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'lists.json');
  writeFileSync(file, JSON.stringify({ lists: [{ name: 'bad', action: 'reject', words: ['badword'] }, { name: 'soft', action: 'mask', words: ['darn'] }, { name: 'review', action: 'hold', words: ['link'] }] }));
  const srv = await startServer({ ADMIN_SECRET, ...FAST, FILTER_FILE: file, FILTER_AUTOMUTE_HITS: '3', FILTER_AUTOMUTE_MS: '60000' });
  t.teardown(() => srv.stop());
  const api = adminAt(() => srv.adminPort, ADMIN_SECRET);
  const [alice, bob, mod, viewer] = await Promise.all([srv.connect('alice'), srv.connect('bob'), srv.connect('mod', { roles: ['moderator'] }), srv.connect('viewer')]);
  t.teardown(() => [alice, bob, mod, viewer].forEach((c) => c.close()));
  for (const c of [alice, bob, mod, viewer]) await c.join('r1');
  const seen = items(viewer, 'r1');

  await t.test('mute via the admin API: SEND gets ERROR 22 with retryMs, then unmute', async (t) => {
    const r = await api('POST', '/api/moderation/mutes', { u: 'alice', room: 'r1', ms: 30_000, reason: 'spam' });
    t.equal(r.status, 200);
    const e = await failure(alice.send({ k: 1, x: 'hello' }));
    t.equal(e.code, Errors.Muted.code);
    t.equal(e.reason, 'muted');
    t.ok(typeof e.retryMs === 'number' && e.retryMs > 25_000 && e.retryMs <= 30_000, `retryMs ${String(e.retryMs)}`);
    t.equal((await api('GET', '/api/moderation/mutes')).body.mutes instanceof Array, true);
    t.equal((await api('DELETE', '/api/moderation/mutes/alice?room=r1')).status, 200);
    t.equal((await api('DELETE', '/api/moderation/mutes/alice?room=r1')).status, 404, 'lifted already');
    const ack = await alice.send({ k: 1, x: 'hello again' });
    t.equal(ack.op, Op.Ack);
  });

  await t.test('ban: a member is removed with LEFT banned, JOIN gets ERROR 16 with retryMs', async (t) => {
    const left = lefts(bob);
    const r = await api('POST', '/api/moderation/bans', { u: 'bob', room: 'r1', ms: 20_000 });
    t.equal(r.status, 200);
    await waitFor(() => left.length > 0, 1000, 'LEFT banned');
    t.equal(left[0]!.room, 'r1');
    t.equal(left[0]!.reason, 'banned');
    t.ok(typeof left[0]!.until === 'number');
    const e = await failure(bob.join('r1'));
    t.equal(e.code, Errors.Banned.code);
    t.ok(typeof e.retryMs === 'number' && (e.retryMs as number) <= 20_000);
    t.equal((await bob.join('r2')).op, Op.Joined, 'other rooms are open');
    t.equal((await api('DELETE', '/api/moderation/bans/bob?room=r1')).status, 200);
    t.equal((await bob.join('r1')).op, Op.Joined);
  });

  await t.test('MODERATE: a moderator mutes; a viewer gets ERROR 13; bad fields ERROR 3', async (t) => {
    const e13 = await failure(viewer.request(Op.Moderate, { a: 'mute', u: 'alice', room: 'r1' }));
    t.equal(e13.code, Errors.Forbidden.code);
    const e3 = await failure(mod.request(Op.Moderate, { a: 'mute', u: 'alice' }));
    t.equal(e3.code, Errors.BadField.code, 'a moderator must name the room');
    const e3b = await failure(mod.request(Op.Moderate, { a: 'mute', u: 'alice', room: 'r1', ms: -5 }));
    t.equal(e3b.code, Errors.BadField.code);
    const ok = await mod.request(Op.Moderate, { a: 'mute', u: 'alice', room: 'r1', ms: 5_000, why: 'calm down' });
    t.equal(ok.op, Op.Moderated);
    t.same([ok.body.a, ok.body.u, ok.body.room], ['mute', 'alice', 'r1']);
    t.ok(typeof ok.body.until === 'number');
    t.equal((await failure(alice.send({ k: 1, x: 'hi' }))).code, Errors.Muted.code);
    const un = await mod.request(Op.Moderate, { a: 'unmute', u: 'alice', room: 'r1' });
    t.equal(un.op, Op.Moderated);
    t.equal((await alice.send({ k: 1, x: 'free' })).op, Op.Ack);
  });

  await t.test('filter: reject (17), mask (published masked), hold (18) then approve publishes with a new seq', async (t) => {
    t.equal((await failure(alice.send({ k: 1, x: 'a BadWord here' }))).code, Errors.ContentRejected.code);
    const masked = await alice.send({ k: 1, x: 'oh darn it' });
    t.equal(masked.op, Op.Ack);
    await waitFor(() => seen.some((i) => i.s === masked.body.s), 2000, 'the masked item');
    t.equal(seen.find((i) => i.s === masked.body.s)!.x, 'oh **** it');
    const held = await failure(alice.send({ k: 1, x: 'see my link' }));
    t.equal(held.code, Errors.HeldForReview.code);
    const list = await api('GET', '/api/moderation/held');
    const h = (list.body.held as { id: string; u: string }[]).find((x) => x.u === 'alice')!;
    t.ok(h, 'held item listed');
    const approved = await api('POST', `/api/moderation/held/${h.id}/approve`);
    t.equal(approved.status, 200);
    await waitFor(() => seen.some((i) => i.x === 'see my link'), 2000, 'the approved item');
    t.ok((seen.find((i) => i.x === 'see my link')!.s) > (masked.body.s as number), 'a new seq');
    t.equal((await api('POST', `/api/moderation/held/${h.id}/approve`)).status, 404, 'taken once');
    t.equal((await failure(alice.send({ k: 1, x: 'another link' }))).code, Errors.HeldForReview.code);
    const h2 = ((await api('GET', '/api/moderation/held')).body.held as { id: string }[])[0]!;
    t.equal((await api('POST', `/api/moderation/held/${h2.id}/reject`)).status, 200);
  });

  await t.test('display names: masked, never refused', async (t) => {
    const fan = await srv.connect('darnfan');
    t.teardown(() => fan.close());
    await fan.join('r1');
    const ack = await fan.send({ k: 1, x: 'hi all' });
    await waitFor(() => seen.some((i) => i.s === ack.body.s), 2000, 'the item');
    t.equal((seen.find((i) => i.s === ack.body.s) as unknown as { n: string }).n, '****fan');
  });

  await t.test('auto-mute after FILTER_AUTOMUTE_HITS hits (3: two holds above and one reject already counted)', async (t) => {
    // alice: 1 reject + 2 holds = 3 hits in r1 -> muted by now
    const e = await failure(alice.send({ k: 1, x: 'clean text' }));
    t.equal(e.code, Errors.Muted.code);
    t.ok(typeof e.retryMs === 'number' && (e.retryMs as number) > 50_000);
    const mutes = (await api('GET', '/api/moderation/mutes')).body.mutes as { uid: string; source: string }[];
    t.ok(mutes.some((m) => m.uid === 'alice' && m.source === 'auto'));
  });

  await t.test('word lists: PUT takes effect, bad lists 400, DELETE', async (t) => {
    t.equal((await api('PUT', '/api/moderation/lists/extra', { action: 'reject', words: ['zzzq'] })).status, 200);
    t.equal((await failure(mod.send({ k: 1, x: 'zzzq!' }))).code, Errors.ContentRejected.code);
    t.equal((await api('PUT', '/api/moderation/lists/BAD NAME', { action: 'reject', words: ['x'] })).status, 400);
    t.equal((await api('PUT', '/api/moderation/lists/extra2', { action: 'nuke', words: ['x'] })).status, 400);
    t.equal((await api('DELETE', '/api/moderation/lists/extra')).status, 200);
    t.equal((await mod.send({ k: 1, x: 'zzzq!' })).op, Op.Ack);
  });

  const m = await srv.metrics();
  t.ok(metricValue(m, 'danmaku_moderation_actions_total', { action: 'mute', source: 'admin' }) >= 1);
  t.ok(metricValue(m, 'danmaku_moderation_actions_total', { action: 'mute', source: 'auto' }) >= 1);
  t.ok(metricValue(m, 'danmaku_moderation_actions_total', { action: 'approve', source: 'admin' }) >= 1);
  t.ok(metricValue(m, 'danmaku_filter_verdicts_total', { action: 'reject' }) >= 1);
  t.ok(metricValue(m, 'danmaku_filter_verdicts_total', { action: 'mask' }) >= 1);
  t.ok(srv.logs.some((l) => l.audit === 'ban' && l.uid === 'bob' && l.room === 'r1'), 'audit log line');
  t.equal(srv.logs.filter((l) => Number(l.level) >= 50).length, 0, 'nothing logged at error level');
  await sleep(0);
});

t.test('moderation (standalone) - timed restrictions expire: a 1 s mute, then SEND passes; a 1 s ban, then JOIN succeeds', async (t) => {
  const srv = await startServer({ ADMIN_SECRET, ...FAST });
  t.teardown(() => srv.stop());
  const api = adminAt(() => srv.adminPort, ADMIN_SECRET);
  const [eve, fay] = await Promise.all([srv.connect('eve'), srv.connect('fay')]);
  t.teardown(() => [eve, fay].forEach((c) => c.close()));
  await eve.join('r7');
  t.equal((await api('POST', '/api/moderation/mutes', { u: 'eve', room: 'r7', ms: 1_000 })).status, 200);
  t.equal((await failure(eve.send({ k: 1, x: 'while muted' }))).code, Errors.Muted.code);
  await sleep(1_100);
  t.equal((await eve.send({ k: 1, x: 'after the mute' })).op, Op.Ack, 'the mute expired: SEND passes');

  t.equal((await api('POST', '/api/moderation/bans', { u: 'fay', room: 'r7', ms: 1_000 })).status, 200);
  const e = await failure(fay.join('r7'));
  t.equal(e.code, Errors.Banned.code);
  await sleep(1_100);
  const joined = await fay.join('r7');
  t.equal(joined.op, Op.Joined, 'the ban expired: JOIN succeeds');
});

t.test('moderation (standalone) - an approved chat message takes no token of the sender\'s rate limit', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'danmaku-filter-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'lists.json');
  writeFileSync(file, JSON.stringify({ lists: [{ name: 'review', action: 'hold', words: ['link'] }] }));
  const srv = await startServer({ ADMIN_SECRET, ...FAST, FILTER_FILE: file, USER_MESSAGE_RATE: '1', USER_MESSAGE_BURST: '1' });
  t.teardown(() => srv.stop());
  const api = adminAt(() => srv.adminPort, ADMIN_SECRET);
  const [gia, hal] = await Promise.all([srv.connect('gia'), srv.connect('hal')]);
  t.teardown(() => [gia, hal].forEach((c) => c.close()));
  t.equal((await failure(gia.request(Op.Msg, { to: 'hal', x: 'see my link' }))).code, Errors.HeldForReview.code);
  t.equal((await gia.request(Op.Msg, { to: 'hal', x: 'plain' })).op, Op.Ack, 'the only token of the bucket taken');
  t.equal((await failure(gia.request(Op.Msg, { to: 'hal', x: 'plain again' }))).code, Errors.RateLimited.code, 'the bucket is empty');
  const held = (await api('GET', '/api/moderation/held')).body.held as { id: string }[];
  t.equal(held.length, 1);
  const approved = await api('POST', `/api/moderation/held/${held[0]!.id}/approve`);
  t.equal(approved.status, 200, 'approved although the sender\'s bucket is empty');
});
