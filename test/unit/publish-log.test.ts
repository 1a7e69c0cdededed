import { connect, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import * as uWS from 'uWebSockets.js';
import { PublishLog } from '../../src/gateway/publish-log.js';

const frame = (tag: number, size = 100) => {
  const b = Buffer.alloc(size);
  b[0] = tag;
  return b;
};
const turn = () => new Promise((r) => setImmediate(r));

t.test('publish log - a drop takes the frame and every later one of its room with it', async (t) => {
  const log = new PublishLog();
  const [a, b, c] = [frame(1), frame(2), frame(3)];
  log.record('r', a, 0);
  log.record('r', b, 2);
  log.record('r', c, 0);
  log.record('other', frame(9), 5);
  // What uWS hands the dropped handler: a copy of the bytes.
  const copy = (f: Buffer): ArrayBuffer => {
    const ab = new ArrayBuffer(f.length);
    new Uint8Array(ab).set(f);
    return ab;
  };
  t.same(log.lost('r', copy(a)), { frames: 3, keep: 2 }, 'the first: all three, and the gift frame among them');
  t.same(log.lost('r', copy(c)), { frames: 1, keep: 0 }, 'the last: the gift frame had been written');
  t.equal(log.lost('r', copy(frame(4))), null, 'a frame the room did not publish (a reply)');
  t.equal(log.lost('nowhere', copy(a)), null);
  await turn();
  t.equal(log.size, 4, 'kept through one turn: the write may still be ahead');
  await turn();
  await turn();
  t.equal(log.size, 0, 'gone once the write is certainly past');
});

/**
 * A uWS server with one subscriber whose socket does not read: its buffer is over the limit.
 * What publish-log.ts relies on is checked against uWS itself, so that a new uWS that behaves
 * differently fails here.
 */
async function stalledSubscriber(t: Test) {
  const limit = 4096;
  const app = uWS.App();
  const drops: { tag: number; inPublish: boolean }[] = [];
  let inPublish = false;
  let onDrop: (msg: ArrayBuffer) => void = () => undefined;
  let opened!: (ws: uWS.WebSocket<unknown>) => void;
  const open = new Promise<uWS.WebSocket<unknown>>((r) => (opened = r));
  app.ws('/*', {
    maxBackpressure: limit,
    closeOnBackpressureLimit: false,
    idleTimeout: 0,
    open: (ws) => {
      ws.subscribe('r');
      opened(ws);
    },
    dropped: (_ws, msg) => {
      drops.push({ tag: new Uint8Array(msg)[0]!, inPublish });
      onDrop(msg);
    },
  });
  const port = await new Promise<number>((resolve, reject) => app.listen('127.0.0.1', 0, (ls) => (ls ? resolve(uWS.us_socket_local_port(ls)) : reject(new Error('listen')))));
  const socket: Socket = connect(port, '127.0.0.1');
  socket.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  socket.once('data', () => socket.pause());
  const ws = await open;
  t.teardown(() => {
    socket.destroy();
    app.close();
  });
  // Fill the kernel's buffers and then uWS's, until it stays over the limit.
  for (let i = 0; i < 5000; i++) {
    while (ws.getBufferedAmount() <= limit) ws.send(frame(0, 8000), true);
    await new Promise((r) => setTimeout(r, 5));
    if (ws.getBufferedAmount() > limit) break;
  }
  t.ok(ws.getBufferedAmount() > limit, 'the subscriber is over the limit');
  const publish = (f: Buffer) => {
    inPublish = true;
    app.publish('r', f, true);
    inPublish = false;
  };
  return { drops, publish, setOnDrop: (f: (msg: ArrayBuffer) => void) => (onDrop = f) };
}

t.test('publish log - uWS reports the first published frame it cannot queue, after publish returns, and no other', async (t) => {
  const s = await stalledSubscriber(t);
  const log = new PublishLog();
  const lost: unknown[] = [];
  s.setOnDrop((msg) => lost.push(log.lost('r', msg)));
  for (const [tag, keep] of [
    [1, 0],
    [2, 1],
    [3, 0],
  ] as const) {
    const f = frame(tag);
    log.record('r', f, keep);
    s.publish(f);
  }
  t.same(s.drops, [], 'nothing reported inside publish');
  for (let i = 0; i < 100 && s.drops.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 50));
  t.same(s.drops, [{ tag: 1, inPublish: false }], 'one report, for the first frame; the other two went without one');
  t.same(lost, [{ frames: 3, keep: 1 }], 'the log still held them when the report came, the gift among them');
});
