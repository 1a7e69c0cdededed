// The contract every RoomHistory implementation passes (memory and Redis).

import type { Test } from 'tap';
import type { RoomHistory } from '../../src/store/history/index.js';
import type { WindowLimits } from '../../src/store/history/window.js';
import type { Fixture } from './fixture.js';

const item = (seq: number) => ({ seq, t: Date.now(), keep: false, data: Buffer.from(`item-${seq}`) });

export function historyContract(t: Test, make: (limits: WindowLimits) => Promise<Fixture<RoomHistory>>): void {
  t.test('history - keeps the most recent items of each room, by seq', async (t) => {
    const f = await make({ size: 3, ageMs: 60_000, keepSize: 3, keepAgeMs: 60_000 });
    t.teardown(() => f.close());
    const h = await f.instance();
    for (let i = 1; i <= 5; i++) await h.append('r1', item(i));
    await h.append('r2', item(100));
    const got = await h.window('r1');
    t.same(got.items.map((i) => i.seq), [3, 4, 5]);
    t.same(Buffer.from(got.items[0]!.data).toString(), 'item-3');
    t.same((await h.window('r2')).items.map((i) => i.seq), [100]);
  });
}
