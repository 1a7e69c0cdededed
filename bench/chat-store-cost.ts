// chat-store-cost: what the Redis chat store's write path costs, measured on its own (not a
// harness scenario): group messages of --members recipients over --groups groups applied in
// batches of --batch records, against a redis-server of its own on a free loopback port (no
// persistence). Prints records/s, Redis commands per record (INFO commandstats delta), Redis
// CPU per record (INFO cpu delta), the writer's CPU, then the memory of one stored message
// (50 characters of text) and of one user's inbox of 1,000 entries.
//   node dist/bench/chat-store-cost.js [--records 20000] [--groups 50] [--members 100]
//     [--users 0 (0: groups x members, disjoint)] [--batch 1000] [--chunk-entries 100000]

import { parseArgs } from 'node:util';
import { createLogger } from '../src/log.js';
import { encode } from '../src/protocol/codec.js';
import { closeRedis, connectRedis, type RedisObserver } from '../src/redis/client.js';
import { keys } from '../src/redis/keys.js';
import type { StoredRecord } from '../src/store/chat/index.js';
import { DEFAULT_CHUNK, RedisChatStore } from '../src/store/chat/redis.js';
import { redisInfo, startRedis } from './lib/services.js';

const quiet: RedisObserver = { redisCommand: () => undefined, redisConnected: () => undefined, redisEvent: () => undefined };
const TEXT = 'x'.repeat(50);

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '20000' },
    groups: { type: 'string', default: '50' },
    members: { type: 'string', default: '100' },
    users: { type: 'string', default: '0' },
    batch: { type: 'string', default: '1000' },
    'chunk-entries': { type: 'string', default: String(DEFAULT_CHUNK.entries) },
  },
});
const RECORDS = Number(values.records);
const GROUPS = Number(values.groups);
const MEMBERS = Number(values.members);
const USERS = Number(values.users) || GROUPS * MEMBERS;
const BATCH = Number(values.batch);

/** Sum of calls over every command but INFO, and used CPU seconds, from INFO. */
async function counters(port: number): Promise<{ calls: number; cpu: number; memory: number }> {
  const stats = (await redisInfo(port, 'commandstats')) ?? '';
  let calls = 0;
  for (const m of stats.matchAll(/^cmdstat_([a-z|_-]+):calls=(\d+)/gm)) if (m[1] !== 'info') calls += Number(m[2]);
  const cpu = (await redisInfo(port, 'cpu')) ?? '';
  const num = (name: string, text: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(text)?.[1] ?? NaN);
  const mem = (await redisInfo(port, 'memory')) ?? '';
  return { calls, cpu: num('used_cpu_sys', cpu) + num('used_cpu_user', cpu), memory: num('used_memory', mem) };
}

function message(g: string, s: number, u: string, t: number, id: string): Uint8Array {
  return encode({ g, s, u, n: u, t, x: TEXT, id });
}

async function main(): Promise<void> {
  const server = await startRedis();
  const redis = await connectRedis({ url: server.url, name: 'bench', observer: quiet, log: createLogger('silent'), commandTimeoutMs: 30_000 });
  try {
    const k = keys('bench:');
    const store = new RedisChatStore({ redis, keys: k, observer: quiet }, {}, { entries: Number(values['chunk-entries']) });
    // members of group i: users i*MEMBERS.. modulo USERS (disjoint when USERS = GROUPS x MEMBERS)
    const members = Array.from({ length: GROUPS }, (_, g) => Array.from({ length: MEMBERS }, (_, j) => `user${(g * MEMBERS + j) % USERS}`));
    const seqs = new Array<number>(GROUPS).fill(0);
    const t0 = Date.now();
    const records: StoredRecord[] = [];
    for (let i = 0; i < RECORDS; i++) {
      const g = i % GROUPS;
      const s = ++seqs[g]!;
      const r = members[g]!;
      const u = r[i % MEMBERS]!;
      const id = `id${i}`.padEnd(16, '_');
      records.push({ c: `group:g${g}`, s, id, t: t0 + i, u, m: message(`g${g}`, s, u, t0 + i, id), r });
    }
    const before = await counters(server.port);
    const cpu0 = process.cpuUsage();
    const start = process.hrtime.bigint();
    let applied = 0;
    for (let i = 0; i < records.length; i += BATCH) applied += (await store.apply(records.slice(i, i + BATCH), Date.now())).applied;
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const cpu1 = process.cpuUsage(cpu0);
    const after = await counters(server.port);
    if (process.env.CHAT_BENCH_STATS) console.log(await redisInfo(server.port, "commandstats"));
    const perRecord = (x: number) => (x / RECORDS).toFixed(2);
    console.log(`write: ${RECORDS} records x ${MEMBERS} recipients, ${GROUPS} groups, ${USERS} users, batches of ${BATCH}, chunks <= ${values['chunk-entries']} entries: applied ${applied}`);
    console.log(`  ${Math.round(RECORDS / seconds)} records/s (${seconds.toFixed(2)} s)`);
    console.log(`  Redis commands/record: ${perRecord(after.calls - before.calls)}`);
    console.log(`  Redis CPU: ${(after.cpu - before.cpu).toFixed(2)} s = ${((1e6 * (after.cpu - before.cpu)) / RECORDS).toFixed(1)} µs/record`);
    console.log(`  writer CPU: ${((cpu1.user + cpu1.system) / 1e6).toFixed(2)} s = ${((cpu1.user + cpu1.system) / RECORDS).toFixed(1)} µs/record`);
    console.log(`  used_memory delta: ${((after.memory - before.memory) / 1e6).toFixed(1)} MB (${Math.round((after.memory - before.memory) / RECORDS)} B/record)`);

    // memory: 10,000 messages in one history (r = []), then one inbox of 1,000 entries
    const N = 10_000;
    const m0 = await counters(server.port);
    const hist = Array.from({ length: N }, (_, i) => ({ c: 'group:mem', s: i + 1, id: `m${i}`.padEnd(16, '_'), t: t0 + i, u: 'someone', m: message('mem', i + 1, 'someone', t0 + i, `m${i}`.padEnd(16, '_')), r: [] as string[] }));
    for (let i = 0; i < N; i += BATCH) await store.apply(hist.slice(i, i + BATCH), Date.now());
    const m1 = await counters(server.port);
    const sample = hist[0]!.m.byteLength;
    console.log(`memory: one message (${sample} bytes encoded, 50 chars of text) in history: ${Math.round((m1.memory - m0.memory) / N)} B (used_memory delta / ${N}); MEMORY USAGE of the key / ${N}: ${Math.round(Number(await redis.call('MEMORY', 'USAGE', k.chatHistory('group:mem'), 'SAMPLES', '0')) / N)} B`);
    const inbox = Array.from({ length: 1000 }, (_, i) => ({ c: 'dm:a|b', s: i + 1, id: `d${i}`.padEnd(16, '_'), t: t0 + i, u: 'a', m: message('x', i + 1, 'a', t0 + i, 'x'), r: ['b'] }));
    await store.apply(inbox, Date.now());
    const ib = Number(await redis.call('MEMORY', 'USAGE', k.chatInbox('b'), 'SAMPLES', '0'));
    // the same inbox written one entry per apply: 1,000 segments (the worst case)
    for (let i = 0; i < 1000; i++) await store.apply([{ ...inbox[i]!, c: 'dm:a|c', r: ['c'] }], Date.now());
    const one = Number(await redis.call('MEMORY', 'USAGE', k.chatInbox('c'), 'SAMPLES', '0'));
    console.log(`memory: one inbox of 1,000 entries written one per apply: ${one} B (${(one / 1000).toFixed(1)} B/entry)`);
    console.log(`memory: one inbox of 1,000 entries written in one apply: ${ib} B (${(ib / 1000).toFixed(1)} B/entry), state string ${await redis.call('MEMORY', 'USAGE', k.chatInboxState('b'))} B, contacts ${await redis.call('MEMORY', 'USAGE', k.chatContacts('b'))} B`);
  } finally {
    await closeRedis(redis);
    await server.dispose();
  }
}

await main();
