// The contract every RoomHistory implementation passes (memory and Redis).

import type { Test } from 'tap';
import type { RoomHistory } from '../../src/store/history/index.js';
import type { Fixture } from './fixture.js';

const item = (seq: number) => ({ seq, data: Buffer.from(`item-${seq}`) });

export function historyContract(t: Test, make: (opts: { replaySize: number }) => Promise<Fixture<RoomHistory>>): void {
  t.test('history - keeps the most recent items of each room, oldest first', async (t) => {
    const f = await make({ replaySize: 3 });
    t.teardown(() => f.close());
    const h = await f.instance();
    for (let i = 1; i <= 5; i++) await h.append('r1', item(i));
    await h.append('r2', item(100));
    const got = await h.recent('r1', 3);
    t.same(got.map((i) => i.seq), [3, 4, 5]);
    t.same(Buffer.from(got[0]!.data).toString(), 'item-3');
    t.same((await h.recent('r1', 2)).map((i) => i.seq), [4, 5]);
    t.same((await h.recent('r2', 3)).map((i) => i.seq), [100]);
    t.same(await h.recent('empty', 3), []);
  });

  t.test('history - items appended out of seq order by two instances are read in seq order', async (t) => {
    const f = await make({ replaySize: 3 });
    t.teardown(() => f.close());
    const [a, b] = [await f.instance(), await f.instance()];
    for (const s of [1, 3, 2, 5]) await (s % 2 ? a : b).append('r', item(s));
    await b.append('r', item(4));
    t.same((await a.recent('r', 10)).map((i) => i.seq), [3, 4, 5], 'at most the window, sorted');
  });

  t.test('history - a window of 0 keeps nothing', async (t) => {
    const f = await make({ replaySize: 0 });
    t.teardown(() => f.close());
    const h = await f.instance();
    await h.append('r', item(1));
    t.same(await h.recent('r', 10), []);
  });
}
