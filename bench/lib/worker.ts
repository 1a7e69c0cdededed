// One load-generator thread: opens its share of the connections (from several 127.x source
// addresses), joins rooms, sends at the planned rates, and measures what arrives: delivery
// delay from each item's server time, frames and items per second, duplicates by sequence
// number, gifts, shed counts and room isolation; the replies to its SENDs (ACK latency,
// ERRORs by code, timeouts) and which seqs were acknowledged, for loss by seq (loss.ts).
// Reports to the main thread on request.
// Like any well-behaved client it sends PING every WELCOME.heartbeat ms (docs/protocol.md,
// "Heartbeat"): a quiet viewer that does not is closed with 4001 after WELCOME.idleTimeout.

import { parentPort, workerData } from 'node:worker_threads';
import { Packr } from 'msgpackr';
import WebSocket from 'ws';
import { Histogram } from './histogram.js';
import { ackedLossPart, lossOf, type Sent } from './loss.js';
import { PendingReplies } from './pending.js';
import { Kind, Op, TYPICAL_TEXT } from './protocol.js';
import { messageId } from './run-id.js';
import { frameHead, scanBatch } from './scan.js';
import { SeqSet } from './seq-set.js';
import type { ConnSpec, SendPlan, ToWorker, WorkerInit } from './worker-messages.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

interface Conn {
  ws: WebSocket;
  spec: ConnSpec;
  room: string;
  /** rid of a pending switch; until its JOINED, frames of the old room are still expected */
  switching: number;
  seen: SeqSet;
  /** unsequenced items (seq 0) received */
  unsequenced: number;
  danmaku: number;
  shed: number;
  likes: number;
  gifts: number;
  open: boolean;
  /** WELCOME.heartbeat (ms), and when this connection last sent a frame */
  heartbeat: number;
  lastSent: number;
}

const init = workerData as WorkerInit;
const conns: Conn[] = [];
const pending = new PendingReplies(init.replyTimeoutMs ?? 0);
/** what this thread's SENDs got acknowledged: seqs per room, and ACKs with seq 0 */
const acked = { seqs: new Map<string, SeqSet>(), unsequenced: {} as Record<string, number> };
let rid = 1;

/** Figures of one reporting interval: the main thread adds them up over time. */
const interval = () => ({
  join: new Histogram(),
  delay: new Histogram(),
  ack: new Histogram(),
  items: 0,
  frames: 0,
  duplicates: 0,
  isolation: 0,
  errors: {} as Record<string, number>,
  sent: {} as Sent,
  switches: 0,
  /** SENDs (and MSGs) sent; ERROR replies to them by code; unanswered within the timeout; replies after it */
  offered: 0,
  refused: {} as Record<string, number>,
  timeouts: 0,
  late: 0,
});

const stats = {
  // Levels: connections joined, failed to, closed after joining (in all, and per close code).
  connected: 0,
  failed: 0,
  closed: 0,
  closeCodes: {} as Record<string, number>,
  ...interval(),
};

/** Every frame to the server goes through here: any frame resets the server's idle timer. */
function sendFrame(c: Conn, frame: Buffer): void {
  c.lastSent = Date.now();
  c.ws.send(frame);
}

const DEFAULT_HEARTBEAT_MS = 30_000;
let heartbeatTimer: NodeJS.Timeout | null = null;
let heartbeatTick = Infinity;

/**
 * One timer for all the thread's connections: a PING to each that has sent nothing for about
 * its heartbeat. The tick is a quarter of the shortest heartbeat (50 ms to 1 s), and a PING
 * goes out a tick early, so that no gap exceeds the heartbeat.
 */
function startHeartbeat(heartbeat: number): void {
  const tick = Math.max(50, Math.min(1000, heartbeat / 4));
  if (tick >= heartbeatTick) return;
  if (heartbeatTimer) clearInterval(heartbeatTimer);
  heartbeatTick = tick;
  heartbeatTimer = setInterval(() => {
    const now = Date.now();
    for (const c of conns) {
      if (c.open && now - c.lastSent >= c.heartbeat - tick) sendFrame(c, packr.pack([Op.Ping, rid++, null]));
    }
  }, tick);
}

function onFrame(c: Conn, data: Buffer): void {
  const now = Date.now();
  const head = frameHead(data);
  if (head.op === Op.Pong) return; // the answer to a heartbeat: nothing to measure
  if (head.op === Op.Batch) {
    // The hot path: read only what is measured (see scan.ts).
    stats.frames++;
    const batch = scanBatch(head.cursor);
    if (batch.room !== c.room && c.switching === 0) stats.isolation++;
    if (batch.room !== c.room) return;
    c.shed += batch.shed;
    for (const it of batch.items) {
      stats.items++;
      stats.delay.record(now - it.t);
      if (!c.seen.add(it.s)) stats.duplicates++;
      if (it.s === 0) c.unsequenced++;
      if (it.k === Kind.Danmaku) c.danmaku++;
      else if (it.k === Kind.Like) c.likes += it.a;
      else if (it.k === Kind.Gift) c.gifts++;
    }
    return;
  }
  const [op, r, body] = packr.unpack(data) as [number, number, Record<string, unknown>];
  if (op === Op.Message) {
    // A group message: counted like a danmaku of the group the connection stands for.
    stats.frames++;
    stats.items++;
    stats.delay.record(now - (body.t as number));
    if (!c.seen.add(body.s as number)) stats.duplicates++;
    c.danmaku++;
  } else if (op === Op.Ack) {
    const got = pending.take(r, now);
    if (!got) return;
    const { p, late } = got;
    if (late) stats.late++;
    else stats.ack.record(now - p.at);
    if (p.kind !== Kind.Like) {
      // Likes are summed into one item per BATCH: no seq of their own to look for.
      const seq = typeof body.s === 'number' ? body.s : 0;
      if (seq > 0) getOrAdd(acked.seqs, p.room).add(seq);
      else acked.unsequenced[p.room] = (acked.unsequenced[p.room] ?? 0) + 1;
    }
    const s = (stats.sent[p.room] ??= { danmaku: 0, likes: 0, gifts: 0 });
    if (p.kind === Kind.Danmaku) s.danmaku++;
    else if (p.kind === Kind.Like) s.likes++;
    else s.gifts++;
  } else if (op === Op.Error) {
    const got = pending.take(r, now);
    const reason = String(body.reason);
    stats.errors[reason] = (stats.errors[reason] ?? 0) + 1;
    // By code, numerically: codes this harness does not know yet are counted all the same.
    if (got?.late) stats.late++;
    else if (got) stats.refused[String(body.code)] = (stats.refused[String(body.code)] ?? 0) + 1;
  } else if (op === Op.Joined && r === c.switching) {
    c.switching = 0;
  }
}

function open(spec: ConnSpec, i: number): Promise<void> {
  return new Promise((resolve) => {
    const started = Date.now();
    const url = new URL(init.urls[i % init.urls.length]!);
    if (spec.token) url.searchParams.set('token', spec.token);
    const ws = new WebSocket(url, { localAddress: init.addresses[i % init.addresses.length], perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    const c: Conn = { ws, spec, room: spec.room, switching: 0, seen: new SeqSet(), unsequenced: 0, danmaku: 0, shed: 0, likes: 0, gifts: 0, open: false, heartbeat: DEFAULT_HEARTBEAT_MS, lastSent: 0 };
    let joinRid = 0;
    let refused = false;
    ws.on('message', (data: Buffer) => {
      if (joinRid === 0) {
        // WELCOME: keep its heartbeat, join the room.
        const [op, , body] = packr.unpack(data) as [number, number, { heartbeat?: unknown } | null];
        if (op === Op.Welcome && typeof body?.heartbeat === 'number' && body.heartbeat > 0) c.heartbeat = body.heartbeat;
        startHeartbeat(c.heartbeat);
        joinRid = rid++;
        sendFrame(c, packr.pack([Op.Join, joinRid, { room: spec.room }]));
        return;
      }
      if (!c.open) {
        const [op, r] = packr.unpack(data) as [number, number];
        if (r !== joinRid) return;
        if (op !== Op.Joined) {
          refused = true;
          stats.failed++;
          ws.close();
          return resolve();
        }
        c.open = true;
        stats.connected++;
        stats.join.record(Date.now() - started);
        conns.push(c);
        return resolve();
      }
      onFrame(c, data);
    });
    ws.on('error', () => undefined);
    ws.on('close', (code: number) => {
      if (c.open) {
        stats.closed++;
        stats.closeCodes[code] = (stats.closeCodes[code] ?? 0) + 1;
      } else if (!refused) stats.failed++;
      c.open = false;
      resolve();
    });
  });
}

async function connectAll(): Promise<void> {
  const n = init.conns.length;
  const gap = n > 0 ? init.rampMs / n : 0;
  const started = Date.now();
  const opening: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const due = started + i * gap;
    if (due > Date.now() + 5) await new Promise((r) => setTimeout(r, due - Date.now()));
    opening.push(open(init.conns[i]!, i));
    if (opening.length % 500 === 0) await new Promise((r) => setImmediate(r));
  }
  await Promise.all(opening);
}

let sendTimer: NodeJS.Timeout | null = null;
let giftNo = 0;
let sendNo = 0;
let plan: SendPlan = { danmaku: 0, likes: 0, gifts: 0 };

/** Starts sending at the plan's rates; while sending, a new plan changes the rates from now on. */
function startSending(next: SendPlan): void {
  plan = next;
  if (sendTimer) return;
  const senders = conns.filter((c) => c.spec.sender);
  const budget = senders.map(() => ({ danmaku: Math.random(), likes: Math.random(), gifts: Math.random() }));
  let last = Date.now();
  sendTimer = setInterval(() => {
    const now = Date.now();
    const dt = (now - last) / 1000;
    last = now;
    senders.forEach((c, i) => {
      if (!c.open) return;
      const b = budget[i]!;
      b.danmaku += plan.danmaku * dt;
      b.likes += plan.likes * dt;
      b.gifts += plan.gifts * dt;
      const send = (op: number, kind: number, body: Record<string, unknown>) => {
        const r = rid++;
        pending.add(r, { at: now, kind, room: c.room });
        stats.offered++;
        sendFrame(c, packr.pack([op, r, body]));
      };
      for (; b.danmaku >= 1; b.danmaku--) {
        if (plan.group) send(Op.Msg, Kind.Danmaku, { g: c.room, x: TYPICAL_TEXT });
        else send(Op.Send, Kind.Danmaku, { k: Kind.Danmaku, x: TYPICAL_TEXT, id: messageId(init.run, init.worker, sendNo++) });
      }
      for (; b.likes >= 1; b.likes--) send(Op.Send, Kind.Like, { k: Kind.Like, a: 1 });
      for (; b.gifts >= 1; b.gifts--) send(Op.Send, Kind.Gift, { k: Kind.Gift, g: `w${init.worker}g${giftNo++}`, a: 1 });
    });
  }, 10);
}

let switchTimer: NodeJS.Timeout | null = null;

function startSwitching(perSecond: number, rooms: string[]): void {
  const viewers = conns.filter((c) => !c.spec.sender);
  let budget = 0;
  let last = Date.now();
  switchTimer = setInterval(() => {
    const now = Date.now();
    budget += (perSecond * (now - last)) / 1000;
    last = now;
    for (; budget >= 1; budget--) {
      const c = viewers[Math.floor(Math.random() * viewers.length)];
      if (!c?.open || c.switching !== 0) continue;
      const to = rooms[Math.floor(Math.random() * rooms.length)]!;
      if (to === c.room) continue;
      const r = rid++;
      c.switching = r;
      c.room = to;
      stats.switches++;
      sendFrame(c, packr.pack([Op.Switch, r, { room: to }]));
    }
  }, 10);
}

function getOrAdd(m: Map<string, SeqSet>, room: string): SeqSet {
  let s = m.get(room);
  if (!s) m.set(room, (s = new SeqSet()));
  return s;
}

function snapshot(): unknown {
  stats.timeouts += pending.expire(Date.now());
  const out = { ...stats, join: stats.join.encode(), delay: stats.delay.encode(), ack: stats.ack.encode(), pendingAcks: pending.size };
  Object.assign(stats, interval());
  return out;
}

/** Loss per kind over this thread's viewers that stayed open (loss.ts). */
function finish(expected: Sent): unknown {
  return lossOf(conns.filter((c) => !c.spec.sender), expected);
}

parentPort!.on('message', (msg: ToWorker) => {
  switch (msg.type) {
    case 'send':
      startSending(msg.plan);
      break;
    case 'switch':
      startSwitching(msg.perSecond, msg.rooms);
      break;
    case 'stop':
      if (sendTimer) clearInterval(sendTimer);
      if (switchTimer) clearInterval(switchTimer);
      sendTimer = switchTimer = null;
      break;
    case 'report':
      parentPort!.postMessage({ type: 'stats', stats: snapshot() });
      break;
    case 'finish':
      parentPort!.postMessage({ type: 'loss', loss: finish(msg.expected) });
      break;
    case 'acked':
      parentPort!.postMessage({ type: 'acked', acked: { seqs: Object.fromEntries([...acked.seqs].map(([room, s]) => [room, s.bits])), unsequenced: acked.unsequenced } });
      break;
    case 'verify':
      parentPort!.postMessage({ type: 'verified', loss: ackedLossPart(conns, msg.acked) });
      break;
    case 'close':
      if (heartbeatTimer) clearInterval(heartbeatTimer);
      for (const c of conns) c.ws.terminate();
      parentPort!.postMessage({ type: 'closed' });
      break;
  }
});

connectAll().then(() => parentPort!.postMessage({ type: 'ready' }));
