import t from 'tap';
import { encodeItem } from '../../src/protocol/items.js';
import { Kind } from '../../src/protocol/kinds.js';
import { RESTORE_CONCURRENCY } from '../../src/gateway/room-hub.js';
import type { RoomHistory, RoomWindowSnapshot, WindowItem } from '../../src/store/history/index.js';
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

/** A store whose window() fails while `down` is set, counting the reads under way at once. */
function flaky(inner: RoomHistory) {
  const h = {
    down: false,
    reads: 0,
    inFlight: 0,
    maxInFlight: 0,
    append: (room: string, it: WindowItem) => inner.append(room, it),
    get: (room: string, seq: number) => inner.get(room, seq),
    epoch: async (room: string) => {
      if (h.down) throw new Error('Redis down');
      return inner.epoch(room);
    },
    window: async (room: string): Promise<RoomWindowSnapshot> => {
      h.reads++;
      h.inFlight++;
      h.maxInFlight = Math.max(h.maxInFlight, h.inFlight);
      try {
        await new Promise((r) => setTimeout(r, 2));
        if (h.down) throw new Error('Redis down');
        return await inner.window(room);
      } finally {
        h.inFlight--;
      }
    },
  };
  return h;
}

t.test('rooms - a refill whose read failed stays owed from the seq of the reconnect, and is done by the next read', async (t) => {
  const inner = new MemoryRoomHistory();
  for (const s of [1, 2, 3]) await inner.append('r', item(s));
  const history = flaky(inner);
  const { hub, sent: bodies } = testHub({ history, sequencer: { current: async () => 3 } });
  const sent = () => bodies.filter((b) => b.d).flatMap((b) => b.d!.map((d) => d.s));
  const room = await hub.acquire('r');
  hub.join(room);
  // The bus was down while 4 and 5 were published; Redis blips too when it comes back.
  for (const s of [4, 5]) await inner.append('r', item(s));
  history.down = true;
  await hub.roomsRestored();
  t.ok(room.owed, 'the refill is owed');
  t.equal(room.owed?.from, 3, 'from the lastSeq at the reconnect');
  // Live traffic goes on and raises lastSeq past the missed items.
  await inner.append('r', item(6));
  hub.roomMessage('r', item(6).data, false);
  hub.flush(room);
  t.equal(room.lastSeq, 6);
  history.down = false;
  await hub.storeRestored();
  hub.flush(room);
  t.same(sent(), [6, 4, 5], 'the missed items come once the store is back, and the live one is not sent twice');
  t.equal(room.owed, null, 'nothing owed any more');
  hub.leave(room);
});

t.test('rooms - an owed refill is retried by a timer when nothing else reads the window', async (t) => {
  const inner = new MemoryRoomHistory();
  await inner.append('r', item(1));
  const history = flaky(inner);
  const { hub, sent: bodies } = testHub({ history });
  const room = await hub.acquire('r');
  hub.join(room);
  await inner.append('r', item(2));
  history.down = true;
  await hub.roomsRestored();
  history.down = false;
  await new Promise((r) => setTimeout(r, 1_200)); // the first retry: 1 s after the failure
  hub.flush(room);
  t.same(bodies.filter((b) => b.d).flatMap((b) => b.d!.map((d) => d.s)), [2], 'refilled by the retry');
  t.equal(room.owed, null);
  hub.leave(room);
});

t.test('rooms - after a bus reconnect the windows are read 16 rooms at a time', async (t) => {
  const history = flaky(new MemoryRoomHistory());
  const { hub } = testHub({ history });
  const rooms = await Promise.all(Array.from({ length: 40 }, (_, i) => hub.acquire(`r${i}`)));
  for (const r of rooms) hub.join(r);
  history.reads = 0;
  history.maxInFlight = 0;
  await hub.roomsRestored();
  t.equal(history.reads, 40, 'every room read');
  t.equal(history.maxInFlight, RESTORE_CONCURRENCY, 'never more at once than the cap');
  for (const r of rooms) hub.leave(r);
});

t.test('rooms - a window read already under way when the bus comes back does not settle the refill with its older snapshot', async (t) => {
  const inner = new MemoryRoomHistory();
  await inner.append('r', item(1));
  // The next window() takes its snapshot at once and answers only when released; epoch() fails,
  // so that storeRestored() reads the window (the read that is under way at the reconnect).
  let held: ((release: () => void) => void) | null = null;
  const history: RoomHistory = {
    append: (r, i) => inner.append(r, i),
    get: (r, s) => inner.get(r, s),
    epoch: async () => {
      throw new Error('Redis blip');
    },
    window: async (r) => {
      const snap = await inner.window(r);
      const hold = held;
      if (hold === null) return snap;
      held = null;
      await new Promise<void>((release) => hold(release));
      return snap;
    },
  };
  const { hub, sent: bodies } = testHub({ history });
  const room = await hub.acquire('r');
  hub.join(room);
  let release: () => void = () => undefined;
  held = (r) => {
    release = r;
  };
  const older = hub.storeRestored(); // its read snapshots the window now: item 1 only
  await new Promise((r) => setImmediate(r));
  await inner.append('r', item(2)); // published while the bus was down: never sent live
  const restored = hub.roomsRestored(); // the debt, and a read chained behind the one under way
  release();
  await Promise.all([older, restored]);
  hub.flush(room);
  t.same(bodies.filter((b) => b.d).flatMap((b) => b.d!.map((d) => d.s)), [2], 'the chained read refilled what the older snapshot lacked');
  t.equal(room.owed, null);
  hub.leave(room);
});
