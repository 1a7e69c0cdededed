import t from 'tap';
import { encodeItem } from '../../src/protocol/items.js';
import { Kind } from '../../src/protocol/kinds.js';
import { MemoryRoomHistory } from '../../src/store/history/memory.js';
import { testHub } from '../helpers/rooms.js';

const item = (s: number) => ({ seq: s, t: Date.now(), keep: false, data: encodeItem({ s, k: Kind.Danmaku, u: 'a', t: Date.now(), x: `m${s}` }) });

t.test('rooms - after a bus reconnect, items missed meanwhile are refilled from the history, once', async (t) => {
  const history = new MemoryRoomHistory();
  for (const s of [1, 2, 3]) await history.append('r', item(s));
  const { hub, sent: bodies } = testHub({ history, sequencer: { current: async () => 3 } });
  const sent = () => bodies.filter((b) => b.d).map((b) => b.d!.map((d) => d.s));
  const room = await hub.acquire('r');
  hub.join(room);
  t.equal(room.lastSeq, 3, 'the replay window was loaded at join');
  // While the bus was down, 4, 5 and 6 were published and stored; 6 also arrived live after the reconnect.
  for (const s of [4, 5, 6]) await history.append('r', item(s));
  hub.roomMessage('r', item(6).data, false);
  await hub.roomsRestored();
  hub.flush(room);
  t.same(sent(), [[4, 5, 6]], 'the gap is filled, nothing twice, in seq order');
  await hub.roomsRestored();
  hub.flush(room);
  t.same(sent(), [[4, 5, 6]], 'a second reconnect refills nothing already sent');
  hub.leave(room);
});
