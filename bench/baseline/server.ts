// The same-run baseline: a bare uWebSockets.js broadcast server that does only the transport
// part of a scenario, speaking just enough of docs/protocol.md for the load generator (JOIN,
// SWITCH, LEAVE, SEND, PING). No auth, no validation, no rate limits, no logic service, no
// display cap; room items are merged per room only when a merge window is given. What our
// server costs beyond this is the price of everything it does besides moving bytes.
//
// node dist/bench/baseline/server.js [--port 0] [--merge-window-ms 50] [--merge-max 64]

import { parseArgs } from 'node:util';
import { Packr } from 'msgpackr';
import * as uWS from 'uWebSockets.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

interface Room {
  seq: number;
  pending: Record<string, unknown>[];
  timer: NodeJS.Timeout | null;
}

interface Conn {
  room: string | null;
}

export interface BaselineOptions {
  readonly host: string;
  readonly port: number;
  /** 0: every item is sent at once in a BATCH of one */
  readonly mergeWindowMs: number;
  readonly mergeMax: number;
}

/** Starts the baseline server; resolves to its port. */
export function startBaseline(opts: BaselineOptions): Promise<{ port: number; close(): void }> {
  const rooms = new Map<string, Room>();
  const app = uWS.App();
  const flush = (id: string, room: Room) => {
    if (room.timer) clearTimeout(room.timer);
    room.timer = null;
    if (room.pending.length === 0) return;
    const items = room.pending;
    room.pending = [];
    // Same frame shape as the server's BATCH, encoded once per flush for every recipient.
    app.publish(`room/${id}`, packr.pack([30, 0, { r: id, s: 0, d: items }]), true);
  };
  app.ws<Conn>('/*', {
    maxPayloadLength: 64 * 1024,
    maxBackpressure: 256 * 1024,
    closeOnBackpressureLimit: false,
    idleTimeout: 0,
    upgrade: (res, req, ctx) => {
      res.upgrade<Conn>({ room: null }, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), ctx);
    },
    open: (ws) => {
      ws.send(packr.pack([3, 0, { uid: 'baseline', name: 'baseline', guest: false, gateway: 'baseline', heartbeat: 30_000, idleTimeout: 75_000, maxFrame: 4096 }]), true);
    },
    message: (ws, message) => {
      let frame: [number, number, Record<string, unknown> | null];
      try {
        frame = packr.unpack(new Uint8Array(message)) as typeof frame;
      } catch {
        return;
      }
      const [op, rid, body] = frame;
      const st = ws.getUserData();
      switch (op) {
        case 1:
          ws.send(packr.pack([2, rid, { t: Date.now() }]), true);
          return;
        case 10:
        case 12: {
          const id = String(body?.room ?? '');
          if (st.room) ws.unsubscribe(`room/${st.room}`);
          st.room = id;
          if (!rooms.has(id)) rooms.set(id, { seq: 0, pending: [], timer: null });
          ws.subscribe(`room/${id}`);
          ws.send(packr.pack([11, rid, { room: id, online: 0, seq: rooms.get(id)!.seq, replay: [] }]), true);
          return;
        }
        case 13:
          if (st.room) ws.unsubscribe(`room/${st.room}`);
          ws.send(packr.pack([14, rid, { room: st.room }]), true);
          st.room = null;
          return;
        case 22: {
          // MSG to a group: the baseline's members JOIN the group as a room; publish to it.
          const id = String(body?.g ?? '');
          const room = rooms.get(id);
          if (!room) return;
          const t = Date.now();
          ws.send(packr.pack([21, rid, { s: ++room.seq, t }]), true);
          app.publish(`room/${id}`, packr.pack([32, 0, { g: id, s: room.seq, u: 'b', n: 'b', t, x: body?.x }]), true);
          return;
        }
        case 20: {
          if (!st.room) return;
          const id = st.room;
          const room = rooms.get(id)!;
          const t = Date.now();
          const item = { s: ++room.seq, u: 'b', n: 'b', t, ...(body ?? {}) };
          ws.send(packr.pack([21, rid, { s: room.seq, t }]), true);
          room.pending.push(item);
          if (opts.mergeWindowMs === 0 || room.pending.length >= opts.mergeMax) flush(id, room);
          else room.timer ??= setTimeout(() => flush(id, room), opts.mergeWindowMs);
          return;
        }
        default:
          return;
      }
    },
  });
  return new Promise((resolve, reject) => {
    app.listen(opts.host, opts.port, (socket) => {
      if (!socket) return reject(new Error(`baseline: cannot listen on ${opts.port}`));
      resolve({ port: uWS.us_socket_local_port(socket), close: () => app.close() });
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' }, 'merge-window-ms': { type: 'string', default: '50' }, 'merge-max': { type: 'string', default: '64' } } });
  const { port, close } = await startBaseline({ host: values.host!, port: Number(values.port), mergeWindowMs: Number(values['merge-window-ms']), mergeMax: Number(values['merge-max']) });
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port, pid: process.pid })}\n`);
  process.on('SIGTERM', () => {
    close();
    process.exit(0);
  });
}
