import t from 'tap';
import { MemoryBroker } from '../../src/bus/memory.js';
import { RoomHub } from '../../src/gateway/room-hub.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { decode } from '../../src/protocol/codec.js';
import { encodeItem } from '../../src/protocol/items.js';
import { Kind } from '../../src/protocol/kinds.js';
import { MemoryRoomHistory } from '../../src/store/history/memory.js';

const item = (s: number) => ({ seq: s, t: Date.now(), keep: false, data: encodeItem({ s, k: Kind.Danmaku, u: 'a', t: Date.now(), x: `m${s}` }) });

t.test('rooms - after a bus reconnect, items missed meanwhile are refilled from the history, once', async (t) => {
  const history = new MemoryRoomHistory();
  for (const s of [1, 2, 3]) await history.append('r', item(s));
  const sent: number[][] = [];
  const fanout = {
    publish: (_topic: string, frame: Uint8Array) => {
      const [, , body] = decode(frame) as [number, number, { d?: { s: number }[] }];
      if (body.d) sent.push(body.d.map((d) => d.s));
      return 1;
    },
  };
  const bus = new MemoryBroker().connect();
  const hub = new RoomHub(bus, { history, sequencer: { current: async () => 3 } }, fanout, { mergeMaxMessages: 64, mergeWindowMs: 1000, replaySize: 10, roomDisplayCap: 1000, maxTextLength: 100 }, new Metrics({ defaultMetrics: false }), createLogger('silent'));
  bus.attach(hub);
  const room = await hub.acquire('r');
  hub.join(room);
  t.equal(room.lastSeq, 3, 'the replay window was loaded at join');
  // While the bus was down, 4, 5 and 6 were published and stored; 6 also arrived live after the reconnect.
  for (const s of [4, 5, 6]) await history.append('r', item(s));
  hub.roomMessage('r', item(6).data, false);
  await hub.roomsRestored();
  hub.flush(room);
  t.same(sent, [[4, 5, 6]], 'the gap is filled, nothing twice, in seq order');
  await hub.roomsRestored();
  hub.flush(room);
  t.same(sent, [[4, 5, 6]], 'a second reconnect refills nothing already sent');
  hub.leave(room);
});
