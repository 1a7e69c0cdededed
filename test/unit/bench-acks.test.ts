// The harness's RECEIVED batching (bench/lib/acks.ts): ids of one turn go together, at most 100
// per frame; a closed connection's queued ids are forgotten.

import { Packr } from 'msgpackr';
import t from 'tap';
import { ReceivedAcks } from '../../bench/lib/acks.js';
import { Op } from '../../bench/lib/protocol.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });
const turn = () => new Promise((r) => setImmediate(r));

t.test('bench acks - the ids of one turn go in frames of at most 100', async (t) => {
  const frames: [number, number, { ids: string[] }][] = [];
  const acks = new ReceivedAcks(0, (frame, n) => {
    const f = packr.unpack(frame) as [number, number, { ids: string[] }];
    t.equal(f[2].ids.length, n, 'the count given with the frame');
    frames.push(f);
    return true;
  });
  for (let i = 0; i < 250; i++) acks.add(`m${i}`);
  t.equal(frames.length, 0, 'nothing before the end of the turn');
  await turn();
  t.same(frames.map((f) => [f[0], f[1], f[2].ids.length]), [[Op.Received, 0, 100], [Op.Received, 0, 100], [Op.Received, 0, 50]]);
  t.same(frames.flatMap((f) => f[2].ids), Array.from({ length: 250 }, (_, i) => `m${i}`), 'every id once, in order');
});

t.test('bench acks - cancel forgets; a connection gone stops the frames', async (t) => {
  let sent = 0;
  const acks = new ReceivedAcks(0, () => (sent++, false));
  acks.add('a');
  acks.cancel();
  await turn();
  t.equal(sent, 0, 'cancelled before the turn ended');
  for (let i = 0; i < 150; i++) acks.add(`m${i}`);
  acks.flush();
  t.equal(sent, 1, 'the first frame found the connection gone: no second');
});
