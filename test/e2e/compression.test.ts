// Compressed egress (COMPRESSION=shared, src/gateway/compression.ts) with real `ws` clients
// against the real server process: negotiation per connection, and room frames that decode
// intact through the extension.

import t from 'tap';
import { Packr } from 'msgpackr';
import WebSocket from 'ws';
import { Kind } from '../../src/protocol/kinds.js';
import { Op } from '../../src/protocol/ops.js';
import { startServer, waitFor, type RunningServer } from '../helpers/server.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

interface Item {
  s: number;
  x?: string;
}

/** A viewer on a bare `ws` client: what it negotiated, the frames it decoded, and the bytes on the wire. */
interface Viewer {
  readonly ws: WebSocket;
  readonly extensions: string | undefined;
  readonly frames: [number, number, Record<string, unknown>][];
  /** bytes of the decoded (inflated) messages */
  payloadBytes: number;
  /** bytes read from the TCP socket since the upgrade's answer */
  wireBytes(): number;
}

async function viewer(url: string, perMessageDeflate: boolean): Promise<Viewer> {
  const ws = new WebSocket(url, { perMessageDeflate });
  ws.binaryType = 'nodebuffer';
  const frames: Viewer['frames'] = [];
  let extensions: string | undefined;
  let readAtOpen = 0;
  let socket: { bytesRead: number } | null = null;
  ws.on('upgrade', (res) => {
    extensions = res.headers['sec-websocket-extensions'];
    socket = res.socket;
  });
  const v: Viewer = {
    ws,
    get extensions() {
      return extensions;
    },
    frames,
    payloadBytes: 0,
    wireBytes: () => (socket?.bytesRead ?? 0) - readAtOpen,
  };
  ws.on('message', (data: Buffer) => {
    v.payloadBytes += data.length;
    frames.push(packr.unpack(data) as [number, number, Record<string, unknown>]);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => {
      readAtOpen = socket?.bytesRead ?? 0;
      resolve();
    });
    ws.once('error', reject);
  });
  await waitFor(() => frames.some((f) => f[0] === Op.Welcome), 5000, 'WELCOME');
  return v;
}

async function join(v: Viewer, room: string, rid: number): Promise<Record<string, unknown>> {
  v.ws.send(packr.pack([Op.Join, rid, { room }]));
  await waitFor(() => v.frames.some((f) => f[0] === Op.Joined && f[1] === rid), 5000, 'JOINED');
  return v.frames.find((f) => f[0] === Op.Joined && f[1] === rid)![2];
}

const batchItems = (v: Viewer): Item[] => v.frames.filter((f) => f[0] === Op.Batch).flatMap((f) => f[2].d as Item[]);

/** `n` danmaku with repetitive texts (as chat is), from one signed-in sender, all acknowledged. */
async function sendDanmaku(srv: RunningServer, room: string, n: number): Promise<string[]> {
  const sender = await srv.connect('sender');
  await sender.join(room);
  const texts = Array.from({ length: n }, (_, i) => `${i} 666666 what a play, what a play ${'哈'.repeat(i % 20)}`.trim());
  await Promise.all(texts.map((x, i) => sender.send({ k: Kind.Danmaku, x, id: `c-${i}` })));
  sender.close();
  return texts;
}

const LOAD = { USER_MESSAGE_RATE: '10000', USER_MESSAGE_BURST: '10000', CONN_FRAME_RATE: '10000', CONN_FRAME_BURST: '10000', ROOM_DISPLAY_CAP: '100000' };

t.test('compression - shared: negotiated with a client that offers it; BATCH items and a big replay arrive intact and smaller on the wire', async (t) => {
  const srv = await startServer({ ...LOAD, COMPRESSION: 'shared', REPLAY_SIZE: '300' });
  t.teardown(() => srv.stop());
  const live = await viewer(srv.url, true);
  t.teardown(() => live.ws.close());
  t.match(live.extensions, /^permessage-deflate/, `negotiated: ${live.extensions}`);
  t.match(live.extensions, /server_no_context_takeover/, 'the shared compressor keeps no window between messages');
  await join(live, 'deflate', 1);
  const texts = await sendDanmaku(srv, 'deflate', 300);
  await waitFor(() => batchItems(live).length >= 300, 10_000, 'every item live');
  const items = batchItems(live);
  t.same(items.map((i) => i.s), Array.from({ length: 300 }, (_, i) => i + 1), 'every seq once, in order');
  t.same(items.map((i) => i.x), texts, 'texts intact');
  t.ok(live.wireBytes() < live.payloadBytes * 0.6, `wire ${live.wireBytes()} B for ${live.payloadBytes} B of frames`);

  // A late viewer's JOINED replays all 300 (tens of KB: past uWS's small-message fast path).
  const late = await viewer(srv.url, true);
  t.teardown(() => late.ws.close());
  const joined = await join(late, 'deflate', 1);
  const replay = joined.replay as Item[];
  t.ok(late.payloadBytes > 20_000, `a big JOINED (${late.payloadBytes} B)`);
  t.same(replay.map((i) => i.x), texts, 'the replay decodes intact');
  t.ok(late.wireBytes() < late.payloadBytes * 0.6, `replay on the wire: ${late.wireBytes()} B for ${late.payloadBytes} B`);
});

t.test('compression - shared: a client that does not offer it gets the same frames uncompressed', async (t) => {
  const srv = await startServer({ ...LOAD, COMPRESSION: 'shared' });
  t.teardown(() => srv.stop());
  const plain = await viewer(srv.url, false);
  const deflated = await viewer(srv.url, true);
  t.teardown(() => (plain.ws.close(), deflated.ws.close()));
  t.equal(plain.extensions, undefined, 'no extension when none was offered');
  await join(plain, 'mixed', 1);
  await join(deflated, 'mixed', 1);
  const [plainWire, plainPayload, deflatedWire] = [plain.wireBytes(), plain.payloadBytes, deflated.wireBytes()];
  const texts = await sendDanmaku(srv, 'mixed', 50);
  await waitFor(() => batchItems(plain).length >= 50 && batchItems(deflated).length >= 50, 10_000, 'every item to both');
  t.same(batchItems(plain).map((i) => i.x), texts, 'uncompressed viewer: items intact');
  t.same(batchItems(deflated).map((i) => i.x), texts, 'compressed viewer: the same items');
  const [pw, pp, dw] = [plain.wireBytes() - plainWire, plain.payloadBytes - plainPayload, deflated.wireBytes() - deflatedWire];
  t.ok(pw >= pp, `uncompressed: ${pw} B on the wire for ${pp} B of frames`);
  t.ok(dw < pw * 0.6, `compressed ${dw} B against uncompressed ${pw} B`);
});

t.test('compression - off (the default): not negotiated even when offered', async (t) => {
  const srv = await startServer(LOAD);
  t.teardown(() => srv.stop());
  const v = await viewer(srv.url, true);
  t.teardown(() => v.ws.close());
  t.equal(v.extensions, undefined, 'no permessage-deflate');
  await join(v, 'off', 1);
  const texts = await sendDanmaku(srv, 'off', 20);
  await waitFor(() => batchItems(v).length >= 20, 10_000, 'every item');
  t.same(batchItems(v).map((i) => i.x), texts);
});
