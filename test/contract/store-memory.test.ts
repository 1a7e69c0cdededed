// Every storage contract against the memory implementations (standalone mode).

import t from 'tap';
import { MemoryChatStore } from '../../src/store/chat/memory.js';
import { MemoryGroups } from '../../src/store/groups/memory.js';
import { MemoryRoomHistory } from '../../src/store/history/memory.js';
import { MemoryIntake } from '../../src/store/intake/memory.js';
import { MemoryDeduper, MemoryRateLimiter } from '../../src/store/limits/memory.js';
import { MemoryPresenceCounts } from '../../src/store/presence/memory.js';
import { MemorySequencer } from '../../src/store/sequence/memory.js';
import { single } from './fixture.js';
import { chatContract } from './chat-suite.js';
import { groupsContract } from './groups-suite.js';
import { historyContract } from './history-suite.js';
import { intakeContract } from './intake-suite.js';
import { limitsContract } from './limits-suite.js';
import { presenceContract } from './presence-suite.js';
import { sequenceContract } from './sequence-suite.js';

// One process: every "instance" is the same object.
historyContract(
  t,
  async (limits) => single(new MemoryRoomHistory({ limits })),
  async (limits) => {
    const sequencer = new MemorySequencer();
    const intake = new MemoryIntake(new MemoryDeduper(), new MemoryRateLimiter(), (scope) => sequencer.next(scope));
    return single({ history: new MemoryRoomHistory({ limits, claims: intake }), intake });
  },
);
sequenceContract(t, async () => single(new MemorySequencer()));
presenceContract(t, async () => single(new MemoryPresenceCounts()));
limitsContract(t, async () => single({ limiter: new MemoryRateLimiter(), deduper: new MemoryDeduper() }));
groupsContract(t, async () => single(new MemoryGroups()));
intakeContract(t, async () => {
  const sequencer = new MemorySequencer();
  return single(new MemoryIntake(new MemoryDeduper(), new MemoryRateLimiter(), (scope) => sequencer.next(scope)));
});
chatContract(t, async (limits) => single(new MemoryChatStore({ limits })));

t.test('chat - memory forgets the least recently written conversations and users beyond its caps', async (t) => {
  const store = new MemoryChatStore({ maxConvs: 3, maxUsers: 4, historyMax: 10 });
  const now = 1_700_000_000_000;
  for (let i = 0; i < 20; i++) {
    const c = `group:g${i}`;
    const recs = Array.from({ length: 15 }, (_, s) => ({ c, s: s + 1, id: `${i}-${s}`, t: now, u: `a${i}`, m: new Uint8Array([0x80]), r: [`a${i}`, `b${i}`] }));
    await store.apply(recs, now);
  }
  t.same(store.size, { convs: 3, users: 4 });
  const page = await store.history('group:g19', undefined, 100, now);
  t.same([page.items.length, page.trimmed], [10, true], 'messages per conversation capped, as if past retention');
  t.same((await store.inbox('b19', { after: 0 }, 100, now)).items.length, 10, 'inbox entries of trimmed messages are left out');
});

t.test('history - memory: windows created by reads do not evict windows that hold items, and are bounded apart', async (t) => {
  const h = new MemoryRoomHistory({ maxRooms: 2, maxReadRooms: 3 });
  await h.append('a', { seq: 1, t: Date.now(), keep: true, data: Buffer.from('gift') });
  await h.append('b', { seq: 1, t: Date.now(), keep: false, data: Buffer.from('hi') });
  const epochs = [];
  for (let i = 0; i < 10; i++) epochs.push((await h.window(`joined-${i}`)).epoch);
  t.same([h.size, h.readSize], [2, 3], 'two rooms with items, three read-created');
  t.same((await h.window('a')).items.length, 1, 'a still holds its gift');
  t.same((await h.window('b')).items.length, 1);
  t.equal(await h.epoch('joined-0'), null, 'the oldest read-created window went');
  t.equal(await h.epoch('joined-9'), epochs[9]);
  await h.append('joined-9', { seq: 1, t: Date.now(), keep: false, data: Buffer.from('x') });
  t.same([h.size, h.readSize, await h.epoch('joined-9')], [2, 2, epochs[9]], 'an append moves it to the rooms with items, with its epoch');
  await t.rejects(h.append('c', { seq: 1, t: Date.now(), keep: false, data: Buffer.from('x') }, { claim: 'u|1', ttlMs: 1000 }), /claims option/, 'a claim needs the intake');
});
