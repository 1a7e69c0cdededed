import t from 'tap';
import { defaultPublicUrl, Entry, ENTRY_CACHE_MS, entryList, entryWeight, lagLimitMs, MAX_WEIGHT } from '../../src/gateway/entry.js';
import { createLogger } from '../../src/log.js';
import type { GatewayLoad } from '../../src/registry/index.js';

const log = createLogger('silent');

const gw = (id: string, more: Partial<GatewayLoad> = {}): GatewayLoad => ({
  id,
  url: `ws://${id}.example:9001/`,
  connections: 0,
  maxConnections: 1_000,
  lagMs: 0,
  outboundBytes: 0,
  open: true,
  draining: false,
  at: 0,
  ...more,
});

t.test('entry - weight: the free share of the cap times the lag factor, out of 1000', async (t) => {
  t.equal(entryWeight({ connections: 0, maxConnections: 1_000, lagMs: 0 }, 200), MAX_WEIGHT, 'empty and calm: the most');
  t.equal(entryWeight({ connections: 250, maxConnections: 1_000, lagMs: 0 }, 200), 750, 'a quarter full');
  t.equal(entryWeight({ connections: 250, maxConnections: 1_000, lagMs: 50 }, 200), 563, '750 * (1 - 50/200) = 562.5, rounded');
  t.equal(entryWeight({ connections: 1_000, maxConnections: 1_000, lagMs: 0 }, 200), 0, 'full: 0');
  t.equal(entryWeight({ connections: 1_200, maxConnections: 1_000, lagMs: 0 }, 200), 0, 'over the cap: 0, never negative');
  t.equal(entryWeight({ connections: 0, maxConnections: 1_000, lagMs: 200 }, 200), 0, 'lag at the limit: 0');
  t.equal(entryWeight({ connections: 0, maxConnections: 1_000, lagMs: 5_000 }, 200), 0, 'lag over the limit: 0, never negative');
  t.equal(entryWeight({ connections: 999, maxConnections: 1_000, lagMs: 0 }, 200), 1, 'one place left');
  t.equal(entryWeight({ connections: 9_994, maxConnections: 10_000, lagMs: 0 }, 200), 1, '0.6 rounds up');
  t.equal(entryWeight({ connections: 9_996, maxConnections: 10_000, lagMs: 0 }, 200), 0, '0.4 rounds down: listed no more');
});

t.test('entry - weight without a cap halves at 1000 connections and never reaches 0', async (t) => {
  t.equal(entryWeight({ connections: 0, maxConnections: 0, lagMs: 0 }, 200), 1_000);
  t.equal(entryWeight({ connections: 1_000, maxConnections: 0, lagMs: 0 }, 200), 500);
  t.equal(entryWeight({ connections: 3_000, maxConnections: 0, lagMs: 0 }, 200), 250);
  t.equal(entryWeight({ connections: 100_000, maxConnections: 0, lagMs: 0 }, 200), 10);
  t.equal(entryWeight({ connections: 1_000, maxConnections: 0, lagMs: 100 }, 200), 250, 'times the lag factor as with a cap');
  let last = Infinity;
  for (let n = 0; n <= 50_000; n += 500) {
    const w = entryWeight({ connections: n, maxConnections: 0, lagMs: 0 }, 200);
    t.ok(w <= last, `${n}: ${w} not above ${last}`);
    last = w;
  }
});

t.test('entry - L is ADMIT_MAX_LAG_MS, or 200 ms when that is off', async (t) => {
  t.equal(lagLimitMs(500), 500);
  t.equal(lagLimitMs(0), 200);
  t.equal(entryWeight({ connections: 0, maxConnections: 0, lagMs: 250 }, lagLimitMs(500)), 500);
  t.equal(entryWeight({ connections: 0, maxConnections: 0, lagMs: 250 }, lagLimitMs(0)), 0);
});

t.test('entry - the list holds open gateways that are not draining, heaviest first', async (t) => {
  const list = entryList(
    [
      gw('b', { connections: 500 }),
      gw('a', { connections: 100, lagMs: 12.6 }),
      gw('full', { connections: 1_000 }),
      gw('refusing', { open: false }),
      gw('draining', { draining: true }),
      gw('c', { connections: 500 }),
      gw('lagging', { lagMs: 300 }),
    ],
    200,
  );
  t.same(
    list.map((g) => [g.id, g.weight]),
    [
      ['a', 843],
      ['b', 500],
      ['c', 500],
    ],
    '1000 * 0.9 * (1 - 12.6/200) = 843.3; equal weights by id; full, refusing, draining and lagging ones left out',
  );
  t.same(list[0], { id: 'a', url: 'ws://a.example:9001/', weight: 843, connections: 100, maxConnections: 1_000, lagMs: 13 }, 'the fields of an entry (lag in whole ms)');
  t.same(entryList([], 200), []);
});

t.test('entry - the default public URL is the host and the bound port', async (t) => {
  t.equal(defaultPublicUrl('0.0.0.0', 9001), 'ws://127.0.0.1:9001/');
  t.equal(defaultPublicUrl('::', 9001), 'ws://127.0.0.1:9001/');
  t.equal(defaultPublicUrl('10.1.2.3', 9002), 'ws://10.1.2.3:9002/');
  t.equal(defaultPublicUrl('::1', 9001), 'ws://[::1]:9001/');
  t.equal(defaultPublicUrl('gw-1.internal', 443), 'ws://gw-1.internal:443/');
  t.equal(defaultPublicUrl('gw-1.internal', 443, true), 'wss://gw-1.internal:443/', 'wss with TLS on');
});

t.test('entry - one registry read per second however many ask; a failure is a 503 with Retry-After', async (t) => {
  let now = 1_000_000;
  let reads = 0;
  let fail = false;
  let release: () => void = () => undefined;
  let gate: Promise<void> | null = null;
  const registry = {
    gateways: async () => {
      reads++;
      if (gate) await gate;
      if (fail) throw new Error('registry down');
      return [gw('a', { connections: 10 }), gw('b', { connections: 20, draining: true })];
    },
  };
  const entry = new Entry(registry, { lagLimitMs: 200, refreshMs: 5_000 }, log, () => now, () => 0);
  t.equal(entry.current(), null, 'nothing cached before the first read');
  gate = new Promise((r) => (release = r));
  const crowd = Promise.all(Array.from({ length: 100 }, () => entry.answer()));
  release();
  gate = null;
  const answers = await crowd;
  t.equal(reads, 1, '100 requests at once: one read');
  const first = answers[0]!;
  t.equal(first.status, '200 OK');
  t.equal(first.code, 200);
  t.same(JSON.parse(first.body), { gateways: [{ id: 'a', url: 'ws://a.example:9001/', weight: 990, connections: 10, maxConnections: 1_000, lagMs: 0 }], refreshMs: 5_000 });
  const headers = new Map(first.headers);
  t.equal(headers.get('Cache-Control'), 'no-store');
  t.equal(headers.get('Access-Control-Allow-Origin'), '*');
  t.match(headers.get('Content-Type'), /^application\/json/);
  t.ok(answers.every((a) => a.body === first.body), 'all the same answer');
  now += ENTRY_CACHE_MS - 1;
  t.equal(entry.current()?.body, first.body, 'cached within the second');
  await entry.answer();
  t.equal(reads, 1);
  now += 1;
  fail = true;
  const failed = await entry.answer();
  t.equal(reads, 2, 'read again after a second');
  t.equal(failed.status, '503 Service Unavailable');
  t.equal(failed.code, 503);
  t.equal(new Map(failed.headers).get('Retry-After'), '1', 'Retry-After in whole seconds');
  t.equal(new Map(failed.headers).get('Access-Control-Allow-Origin'), '*', 'a page can read the failure too');
  t.match(JSON.parse(failed.body), { error: /registry/, retryMs: 1_000 });
  fail = false;
  await entry.answer();
  t.equal(reads, 2, 'a failure is cached as long: a registry outage is not hammered');
  now += ENTRY_CACHE_MS;
  t.equal((await entry.answer()).code, 200, 'and it recovers with the registry');
  t.equal(reads, 3);
});
