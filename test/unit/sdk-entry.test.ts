// The SDK's `entry` option (src/sdk/entry.ts): the weighted choice, the answer's validation, the
// list reused for its refreshMs, the fallback to `url`, and in the client: the gateway it was
// moved off or failed on is not picked next when another is listed.

import t from 'tap';
import { Entry, ENTRY_REFRESH_MS, pickGateway, readEntryList, type EntryGateway } from '../../src/sdk/entry.js';
import { FakeSocket, fakeClient, record } from '../helpers/sdk-support.js';
import { waitFor } from '../helpers/server.js';

const gws: EntryGateway[] = [
  { id: 'a', url: 'ws://a.test/', weight: 600 },
  { id: 'b', url: 'ws://b.test/', weight: 300 },
  { id: 'c', url: 'ws://c.test/', weight: 100 },
];

t.test('sdk entry - a gateway is drawn in proportion to its weight', async (t) => {
  t.equal(pickGateway(gws, null, () => 0)?.id, 'a');
  t.equal(pickGateway(gws, null, () => 0.5999)?.id, 'a');
  t.equal(pickGateway(gws, null, () => 0.6)?.id, 'b');
  t.equal(pickGateway(gws, null, () => 0.8999)?.id, 'b');
  t.equal(pickGateway(gws, null, () => 0.9)?.id, 'c');
  t.equal(pickGateway(gws, null, () => 0.999999)?.id, 'c');
  const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
  for (let i = 0; i < 10_000; i++) counts[pickGateway(gws, null)!.id]!++;
  t.ok(Math.abs(counts.a! - 6_000) < 400 && Math.abs(counts.b! - 3_000) < 400 && Math.abs(counts.c! - 1_000) < 300, `10,000 draws near 6:3:1 (${JSON.stringify(counts)})`);
  t.equal(pickGateway([], null), null, 'none listed');
});

t.test('sdk entry - the gateway to avoid is left out unless it is the only one', async (t) => {
  for (const r of [0, 0.3, 0.7, 0.99]) t.not(pickGateway(gws, 'a', () => r)?.id, 'a', `random ${r}`);
  t.equal(pickGateway(gws, 'a', () => 0)?.id, 'b', 'the others keep their proportions: b 3 to c 1');
  t.equal(pickGateway(gws, 'a', () => 0.76)?.id, 'c');
  t.equal(pickGateway([gws[0]!], 'a')?.id, 'a', 'the only one: used anyway');
});

t.test('sdk entry - an answer is read defensively', async (t) => {
  t.equal(readEntryList(null), null);
  t.equal(readEntryList({ error: 'x' }), null, 'no gateways array');
  t.equal(readEntryList('[]'), null);
  const list = readEntryList({
    gateways: [
      { id: 'a', url: 'ws://a.test/', weight: 10, connections: 3 },
      { id: 'b', url: 'http://b.test/', weight: 10 },
      { id: 'c', url: 'wss://c.test/', weight: 0 },
      { id: 'd', url: 'wss://d.test/', weight: '5' },
      { url: 'wss://e.test/', weight: 5 },
      null,
    ],
    refreshMs: 5,
  });
  t.same(list, { gateways: [{ id: 'a', url: 'ws://a.test/', weight: 10 }, { id: 'wss://e.test/', url: 'wss://e.test/', weight: 5 }], refreshMs: 1_000 }, 'unusable entries left out; refreshMs at least 1 s');
  t.equal(readEntryList({ gateways: [] })?.refreshMs, ENTRY_REFRESH_MS, 'the default refresh');
  t.equal(readEntryList({ gateways: [], refreshMs: 1e9 })?.refreshMs, 300_000, 'at most 5 min');
});

type Answer = { ok: boolean; status: number; json(): Promise<unknown> };
const answer = (body: unknown, status = 200): Answer => ({ ok: status < 300, status, json: async () => body });

t.test('sdk entry - the list is reused for its refreshMs; a failed fetch falls back to url at once', async (t) => {
  let now = 0;
  let fetches = 0;
  let next: () => Promise<Answer> = async () => answer({ gateways: gws.slice(0, 1), refreshMs: 2_000 });
  const e = new Entry('http://x.test/entry', () => (fetches++, next()), () => 0, () => now);
  t.equal(await e.pick('ws://fallback/'), 'ws://a.test/');
  now = 1_999;
  t.equal(await e.pick('ws://fallback/'), 'ws://a.test/');
  t.equal(fetches, 1, 'reused within refreshMs');
  now = 2_000;
  next = async () => answer({ error: 'registry' }, 503);
  t.equal(await e.pick('ws://fallback/'), 'ws://fallback/', 'a 503: the fallback');
  t.equal(fetches, 2);
  t.equal(e.problem, 'answered 503');
  now += ENTRY_REFRESH_MS - 1;
  t.equal(await e.pick('ws://fallback/'), 'ws://fallback/', 'not asked again for a while');
  t.equal(fetches, 2);
  t.equal(await e.pick(null), 'ws://a.test/', 'without a fallback: the last list, however old');
  now += 1;
  next = async () => {
    throw new TypeError('fetch failed');
  };
  t.equal(await e.pick('ws://fallback/'), 'ws://fallback/', 'a network error: the fallback');
  t.equal(e.problem, 'fetch failed');
  now += ENTRY_REFRESH_MS;
  next = async () => answer({ gateways: [], refreshMs: 1_000 });
  t.equal(await e.pick('ws://fallback/'), 'ws://fallback/', 'an empty list: the fallback');
  t.equal(await e.pick(null), null, 'and without one: nothing');
  t.equal(e.problem, 'lists no gateway');
});

t.test('sdk entry - a fetch without an answer is given up after 3 s', async (t) => {
  const e = new Entry('http://x.test/entry', (_u, init) => new Promise((_r, reject) => init.signal.addEventListener('abort', () => reject(new Error('aborted')))));
  const started = Date.now();
  t.equal(await e.pick('ws://fallback/'), 'ws://fallback/');
  t.ok(Date.now() - started >= 2_900, 'after the timeout');
  t.equal(e.problem, 'no answer within 3000 ms');
});

t.test('sdk client - with entry: connects to a listed gateway, and after a close to another one', async (t) => {
  const real = globalThis.fetch;
  t.teardown(() => (globalThis.fetch = real));
  const asked: string[] = [];
  globalThis.fetch = (async (u: string) => {
    asked.push(String(u));
    return answer({ gateways: [{ id: 'gw-x', url: 'ws://x.test/', weight: 1_000 }, { id: 'gw-y', url: 'ws://y.test/', weight: 1 }], refreshMs: 60_000 });
  }) as typeof fetch;
  const c = fakeClient({ url: undefined, entry: 'http://entry.test/entry', token: 'T' });
  t.teardown(() => c.close());
  await waitFor(() => FakeSocket.all.length === 1, 1000, 'a socket');
  const hosts = () => FakeSocket.all.map((s) => new URL(s.url).host);
  const first = hosts()[0]!;
  t.ok(first === 'x.test' || first === 'y.test', `a listed gateway (${first})`);
  t.equal(new URL(FakeSocket.all[0]!.url).searchParams.get('token'), 'T', 'the token on it as on any URL');
  FakeSocket.all[0]!.accept();
  for (let i = 1; i <= 6; i++) {
    FakeSocket.all.at(-1)!.serverClose(i % 2 ? 1012 : 1006);
    await waitFor(() => FakeSocket.all.length === i + 1, 1000, `reconnect ${i}`);
  }
  const seen = hosts();
  for (let i = 1; i < seen.length; i++) t.not(seen[i], seen[i - 1], `connect ${i + 1} avoids the gateway of connect ${i}`);
  t.same(asked, ['http://entry.test/entry'], 'one fetch: the list reused for its refreshMs');
});

t.test('sdk client - with entry and url: the url when the entry fails; neither is an error', async (t) => {
  const real = globalThis.fetch;
  t.teardown(() => (globalThis.fetch = real));
  globalThis.fetch = (async () => {
    throw new TypeError('fetch failed');
  }) as typeof fetch;
  const c = fakeClient({ entry: 'http://entry.test/entry' });
  t.teardown(() => c.close());
  await waitFor(() => FakeSocket.all.length === 1, 1000, 'a socket');
  t.equal(new URL(FakeSocket.all[0]!.url).host, 'a.test', 'the first url');
  const alone = fakeClient({ url: undefined, entry: 'http://entry.test/entry' });
  t.teardown(() => alone.close());
  const r = record(alone);
  await waitFor(() => r.states.some((s) => s.state === 'reconnecting'), 1000, 'a retry');
  t.match(r.states.find((s) => s.state === 'reconnecting')!.detail, { reason: 'entry: fetch failed' }, 'no url: retried with backoff, the reason said');
  t.equal(FakeSocket.all.length, 0, 'no socket');
  t.throws(() => fakeClient({ url: [] }), TypeError);
  t.throws(() => fakeClient({ url: undefined }), TypeError);
});

t.test('sdk client - with entry: a listed URL the page cannot open is avoided, not a failure', async (t) => {
  const real = globalThis.fetch;
  t.teardown(() => (globalThis.fetch = real));
  globalThis.fetch = (async () => answer({ gateways: [{ id: 'bad', url: 'ws://[bad/', weight: 1_000 }, { id: 'good', url: 'ws://good.test/', weight: 1 }], refreshMs: 60_000 })) as unknown as typeof fetch;
  FakeSocket.all = [];
  const c = fakeClient({ url: undefined, entry: 'http://entry.test/entry' });
  t.teardown(() => c.close());
  const r = record(c);
  await waitFor(() => FakeSocket.all.some((s) => new URL(s.url).host === 'good.test'), 5000, 'a socket to the other gateway');
  t.notOk(r.states.some((s) => s.state === 'failed'), 'never failed');
});
