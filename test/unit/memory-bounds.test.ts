// Standalone memory stays bounded: a long-running server with many short-lived rooms must not
// keep a replay window and a sequence counter per room for ever, and forgetting a counter must
// never let a scope's numbers go back.

import t from 'tap';
import { MemoryRoomHistory } from '../../src/store/history/memory.js';
import { MemorySequencer } from '../../src/store/sequence/memory.js';

const item = (seq: number) => ({ seq, t: Date.now(), keep: false, data: Buffer.from(`item-${seq}`) });
const held = async (h: MemoryRoomHistory, room: string) => (await h.window(room)).items.map((i) => i.seq);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('memory bounds - 10,000 short-lived rooms leave at most the room cap of windows and counters', async (t) => {
  const history = new MemoryRoomHistory({ maxRooms: 100 });
  const sequencer = new MemorySequencer({ maxScopes: 100 });
  for (let i = 0; i < 10_000; i++) {
    const room = `r${i}`;
    for (let j = 0; j < 3; j++) await history.append(room, item(await sequencer.next(`room:${room}`)));
  }
  t.equal(history.size, 100, 'windows');
  t.equal(sequencer.size, 100, 'counters');
  t.equal((await history.window('r9999')).items.length, 3, 'the most recent rooms are kept');
  t.same(await held(history, 'r0'), [], 'the least recently written were forgotten');
});

t.test('memory bounds - windows and counters idle for the expiry are forgotten', async (t) => {
  const history = new MemoryRoomHistory({ idleMs: 40 });
  const sequencer = new MemorySequencer({ idleMs: 40 });
  for (let i = 0; i < 50; i++) await history.append(`r${i}`, item(await sequencer.next(`room:r${i}`)));
  await history.append('busy', item(await sequencer.next('room:busy')));
  const before = await history.epoch('busy');
  await sleep(60);
  t.same(await history.epoch('r1'), null, 'an idle window is gone before it is swept');
  t.same(await held(history, 'r1'), [], 'and reads empty');
  await history.append('busy', item(await sequencer.next('room:busy')));
  t.equal(history.size, 1, 'idle windows are swept by the next write');
  t.equal(history.readSize, 1, 'r1, read since, has a new epoch apart from the windows with items');
  t.equal(sequencer.size, 1, 'idle counters are swept by the next number');
  t.same(await held(history, 'busy'), [2], 'the window restarted after its idle expiry, as in Redis');
  t.not(await history.epoch('busy'), before, 'with a new epoch');
});

t.test('memory bounds - a forgotten scope resumes above its last number, never at 1', async (t) => {
  const sequencer = new MemorySequencer({ maxScopes: 1 });
  const first: number[] = [];
  for (let i = 0; i < 500; i++) first.push(await sequencer.next('room:a'));
  t.same(first, Array.from({ length: 500 }, (_, i) => i + 1), 'a scope starts at 1, without gaps');
  t.equal(await sequencer.next('room:b'), 1, 'a new scope starts at 1 while nothing of its bucket was forgotten');
  t.equal(sequencer.size, 1, 'room:a was forgotten');
  const later: number[] = [];
  for (let round = 0; round < 20; round++) {
    later.push(await sequencer.next('room:a'));
    await sequencer.next(`other-${round}`); // forgets room:a again
  }
  t.ok(later[0]! > 500, `room:a resumes above 500 (${later[0]})`);
  t.ok(later.every((n, i) => i === 0 || n > later[i - 1]!), `strictly increasing across forgetting: ${later.join(' ')}`);
});
