// One load-generator thread: opens its share of the connections (from several 127.x source
// addresses), joins rooms, sends at the planned rates, and measures what arrives: delivery
// delay from each item's server time, frames and items per second, duplicates by sequence
// number, gifts, shed counts and room isolation; the replies to its SENDs (ACK latency,
// ERRORs by code, timeouts) and which seqs were acknowledged, for loss by seq (loss.ts).
// Reports to the main thread on request.
// With `resume` (resume.ts), a connection the server closes (or loses: a gateway killed) comes
// back on the next URL and JOINs with `since` and `epoch`; the JOINED replay is de-duplicated
// by seq, and what it adds counts as recovered; the outcome and the time from the loss to the
// JOINED are measured. Members of chat groups (group-chat) acknowledge MESSAGE ids with
// RECEIVED (acks.ts), and with `inbox`, when they come back, read what they missed from their
// inbox: SYNC from their cursor until no more, and again on each UNREAD push (the client
// contract, docs/protocol.md "Delivery guarantees").
// Like any well-behaved client it sends PING every WELCOME.heartbeat ms (docs/protocol.md,
// "Heartbeat"): a quiet viewer that does not is closed with 4001 after WELCOME.idleTimeout.

import { parentPort, workerData } from 'node:worker_threads';
import { gunzipSync } from 'node:zlib';
import { Packr } from 'msgpackr';
import WebSocket from 'ws';
import { ReceivedAcks } from './acks.js';
import { Histogram } from './histogram.js';
import { ackedLossPart, deliveryPart, lossOf, type Sent } from './loss.js';
import { PendingReplies } from './pending.js';
import { Kind, Op, TYPICAL_TEXT } from './protocol.js';
import { joinBody, outcomeOf, positionAfter, reconnectDelayMs, type RoomPosition } from './resume.js';
import { messageId } from './run-id.js';
import { frameHead, scanBatch } from './scan.js';
import { SeqSet } from './seq-set.js';
import type { ConnSpec, SendPlan, ToWorker, WorkerInit } from './worker-messages.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

interface Conn {
  ws: WebSocket | null;
  /** its TCP socket, and how many of the bytes read from it were reported (wire bytes) */
  socket: { readonly bytesRead: number } | null;
  wireReported: number;
  spec: ConnSpec;
  /** its place in the thread's list: its first URL and its source address */
  index: number;
  /** the URL it is (or was last) connected to: init.urls[url % init.urls.length] */
  url: number;
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
  /** joined, and not closed since */
  open: boolean;
  /** joined once: it counts among the connections (and comes back when closed, with resume) */
  joined: boolean;
  /** lost its connection during the run at least once */
  moved: boolean;
  /** the room's epoch and the highest seq held, for a JOIN with `since` (resume.ts) */
  pos: RoomPosition | null;
  /** when its connection was lost, while it is coming back (0: it is not) */
  lostAt: number;
  /** failed attempts to come back since it was lost */
  attempts: number;
  /** GOAWAY's reconnectMs on the current connection (a drain moves it): the wait before coming back; null: none came */
  goAway: number | null;
  /** WELCOME.heartbeat (ms), and when this connection last sent a frame */
  heartbeat: number;
  lastSent: number;
  /** MESSAGE ids to acknowledge (a member of a chat group; created at its first MESSAGE) */
  acks: ReceivedAcks | null;
  /** the inbox: its cursor, the SYNC awaiting its INBOX (0: none), and whether to SYNC again after it */
  cursor: number;
  syncRid: number;
  syncAgain: boolean;
  /** the final check waits for the SYNC that says no more */
  synced: ((ok: boolean) => void) | null;
}

/** How long the first MESSAGE id waits for others before a RECEIVED goes: the reference client's. */
const ACK_DELAY_MS = 200;

const init = workerData as WorkerInit;
const conns: Conn[] = [];
const pending = new PendingReplies(init.replyTimeoutMs ?? 0);
/** what this thread's SENDs got acknowledged: seqs per room, and ACKs with seq 0 */
const acked = { seqs: new Map<string, SeqSet>(), unsequenced: {} as Record<string, number>, gifts: new Map<string, SeqSet>() };
let rid = 1;
/** the run is over: closed connections stay closed */
let stopping = false;

/** Figures of one reporting interval: the main thread adds them up over time. */
const interval = () => ({
  join: new Histogram(),
  delay: new Histogram(),
  ack: new Histogram(),
  items: 0,
  frames: 0,
  /** bytes read from the connections' sockets (compressed where negotiated), and of the messages they carried */
  wireBytes: 0,
  payloadBytes: 0,
  duplicates: 0,
  isolation: 0,
  errors: {} as Record<string, number>,
  sent: {} as Sent,
  switches: 0,
  /** gifts from their server time `t` to their first sight, live or in a resume's replay */
  giftDelay: new Histogram(),
  /** viewers back after losing their connection: from the loss to the JOINED, and its outcome */
  resumed: 0,
  resumeTime: new Histogram(),
  /** of which from the JOIN (sent once the new connection's WELCOME came) to the JOINED */
  resumeJoin: new Histogram(),
  outcomes: {} as Record<string, number>,
  /** items a resume's replay added (not held before), and replay items already held */
  recoveredItems: 0,
  replayDuplicates: 0,
  /** attempts to come back that failed (no WELCOME or no JOINED), and senders that came back */
  dialFailures: 0,
  senderResumes: 0,
  /** unsolicited JOINED (rid 0): a room's numbering restarted under a viewer */
  epochResets: 0,
  /** when (ms since the epoch) each connection coming back had its WebSocket open (a drain's reconnect rate) */
  reconnects: [] as number[],
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
  c.ws?.send(frame);
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
      if (!c.seen.add(it.s)) {
        stats.duplicates++;
        continue;
      }
      if (it.s === 0) c.unsequenced++;
      else if (c.pos && c.switching === 0 && it.s > c.pos.lastSeq) c.pos.lastSeq = it.s;
      tally(c, it.k, it.a, it.t, now);
    }
    return;
  }
  const [op, r, body] = packr.unpack(data) as [number, number, Record<string, unknown>];
  if (op === Op.Message) {
    // A group message: counted like a danmaku of the group the connection stands for.
    if (typeof body.id === 'string') (c.acks ??= new ReceivedAcks(ACK_DELAY_MS, (frame) => c.open && (sendFrame(c, frame), true))).add(body.id);
    stats.frames++;
    stats.items++;
    stats.delay.record(now - (body.t as number));
    if (!c.seen.add(body.s as number)) stats.duplicates++;
    else c.danmaku++;
  } else if (op === Op.Inbox) {
    if (r !== 0 && r === c.syncRid) onInbox(c, body);
  } else if (op === Op.GoAway) {
    // A drain moves this connection: come back after this delay instead of the backoff (docs/protocol.md, "GOAWAY").
    c.goAway = Math.min(30_000, Math.max(0, Number(body.reconnectMs) || 0));
  } else if (op === Op.Unread) {
    // New messages for the user: one that came back and reads its inbox SYNCs again.
    if (init.inbox && c.moved) syncInbox(c);
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
      if (seq > 0 && p.kind === Kind.Gift) getOrAdd(acked.gifts, p.room).add(seq);
    }
    const s = (stats.sent[p.room] ??= { danmaku: 0, likes: 0, gifts: 0 });
    if (p.kind === Kind.Danmaku) s.danmaku++;
    else if (p.kind === Kind.Like) s.likes++;
    else s.gifts++;
  } else if (op === Op.Error) {
    if (r !== 0 && r === c.syncRid) return onSyncError(c, Number(body.code));
    const got = pending.take(r, now);
    const reason = String(body.reason);
    stats.errors[reason] = (stats.errors[reason] ?? 0) + 1;
    // By code, numerically: codes this harness does not know yet are counted all the same.
    if (got?.late) stats.late++;
    else if (got) stats.refused[String(body.code)] = (stats.refused[String(body.code)] ?? 0) + 1;
  } else if (op === Op.Joined && r === 0) {
    // Unsolicited: the room's numbering restarted (its store lost the window). A new epoch and
    // seq; the replay is the new numbering's recent items, shown as new where not held.
    stats.epochResets++;
    c.pos = positionAfter(null, body);
  } else if (op === Op.Joined && r === c.switching) {
    // A new room: its own epoch and numbering.
    c.switching = 0;
    c.pos = positionAfter(null, body);
  }
}

/** SYNC from the inbox cursor; one at a time (a request while one is out is made after it). */
function syncInbox(c: Conn): void {
  if (!c.open) return;
  if (c.syncRid !== 0) {
    c.syncAgain = true;
    return;
  }
  c.syncRid = rid++;
  c.syncAgain = false;
  sendFrame(c, packr.pack([Op.Sync, c.syncRid, { cursor: c.cursor, limit: 200 }]));
}

/** An INBOX page: the group's messages not held yet count as recovered; on while `more`. */
function onInbox(c: Conn, body: Record<string, unknown>): void {
  c.syncRid = 0;
  const n = typeof body.n === 'number' ? body.n : 0;
  const msgs = n > 0 ? (packr.unpack(gunzipSync(body.d as Uint8Array)) as Record<string, unknown>[]) : [];
  for (const m of msgs) {
    if (m.g !== c.room || typeof m.s !== 'number' || m.s <= 0) continue;
    if (!c.seen.add(m.s)) stats.replayDuplicates++;
    else {
      stats.recoveredItems++;
      c.danmaku++;
    }
  }
  if (typeof body.cursor === 'number') c.cursor = body.cursor;
  if (body.more === true || c.syncAgain) return syncInbox(c);
  const done = c.synced;
  c.synced = null;
  done?.(true);
}

function onSyncError(c: Conn, code: number): void {
  c.syncRid = 0;
  stats.errors[`sync ${code}`] = (stats.errors[`sync ${code}`] ?? 0) + 1;
  // Overloaded or unavailable: again from the same cursor. Anything else: a hole in the inbox.
  if (code === 30 || code === 31 || code === 32) return void setTimeout(() => syncInbox(c), 500);
  const done = c.synced;
  c.synced = null;
  done?.(false);
}

/** Before the final check: a member that came back reads its inbox to the end (at most 10 s). */
function finalSync(c: Conn): Promise<void> {
  if (!init.inbox || !c.moved || !c.open) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      c.synced = null;
      resolve();
    }, 10_000);
    c.synced = () => {
      clearTimeout(timer);
      resolve();
    };
    syncInbox(c);
  });
}

/** Counts a first sight of an item in the viewer's tallies (loss.ts). */
function tally(c: Conn, k: number, a: number, t: number, now: number): void {
  if (k === Kind.Danmaku) c.danmaku++;
  else if (k === Kind.Like) c.likes += a;
  else if (k === Kind.Gift) {
    c.gifts++;
    stats.giftDelay.record(now - t);
  }
}

/**
 * A JOINED that answers the JOIN of a connection coming back: the outcome, the time since the
 * loss, and the replay de-duplicated by seq. Replay items at or below the seq of the viewer's
 * first join came before it did: the margin of a replay (docs/protocol.md) can reach them.
 */
function onResumed(c: Conn, asked: RoomPosition | null, body: Record<string, unknown>, now: number, joinSent: number): void {
  if (c.spec.sender) {
    stats.senderResumes++;
    return;
  }
  stats.resumed++;
  stats.resumeTime.record(now - c.lostAt);
  stats.resumeJoin.record(now - joinSent);
  const outcome = outcomeOf(asked, body);
  stats.outcomes[outcome] = (stats.outcomes[outcome] ?? 0) + 1;
  const floor = c.pos?.joinSeq ?? 0;
  const replay = Array.isArray(body.replay) ? (body.replay as Record<string, unknown>[]) : [];
  for (const it of replay) {
    const s = typeof it.s === 'number' ? it.s : 0;
    if (s <= floor) continue;
    if (!c.seen.add(s)) {
      stats.replayDuplicates++;
      continue;
    }
    stats.recoveredItems++;
    tally(c, Number(it.k), typeof it.a === 'number' ? it.a : 1, Number(it.t), now);
  }
}

/**
 * Opens a connection for `c` and joins its room: the first time (then `first` resolves once it
 * joined or failed), or to come back after losing it (resume.ts). With resume, a lost
 * connection dials the next URL after a backoff, until the run ends.
 */
function dial(c: Conn, first: (() => void) | null): void {
  const started = Date.now();
  const url = new URL(init.urls[c.url % init.urls.length]!);
  if (c.spec.token) url.searchParams.set('token', c.spec.token);
  const ws = new WebSocket(url, { localAddress: init.addresses[c.index % init.addresses.length], perMessageDeflate: init.deflate === true });
  ws.binaryType = 'nodebuffer';
  c.ws = ws;
  ws.on('upgrade', (res) => {
    c.socket = res.socket;
    c.wireReported = 0;
  });
  ws.on('open', () => {
    if (c.lostAt > 0) stats.reconnects.push(Date.now());
  });
  let joinRid = 0;
  let joinSent = 0;
  let asked: RoomPosition | null = null;
  let refused = false;
  let joinedHere = false;
  const settle = () => {
    first?.();
    first = null;
  };
  ws.on('message', (data: Buffer) => {
    stats.payloadBytes += data.length;
    if (joinRid === 0) {
      // WELCOME: keep its heartbeat, join the room (with `since` when coming back).
      const [op, , body] = packr.unpack(data) as [number, number, { heartbeat?: unknown } | null];
      if (op === Op.Welcome && typeof body?.heartbeat === 'number' && body.heartbeat > 0) c.heartbeat = body.heartbeat;
      startHeartbeat(c.heartbeat);
      joinRid = rid++;
      asked = c.lostAt > 0 && !init.plainRejoin ? c.pos : null;
      joinSent = Date.now();
      sendFrame(c, packr.pack([Op.Join, joinRid, joinBody(c.room, asked)]));
      return;
    }
    if (!joinedHere) {
      const [op, r, body] = packr.unpack(data) as [number, number, Record<string, unknown>];
      if (r !== joinRid) return;
      const now = Date.now();
      if (op !== Op.Joined) {
        refused = true;
        if (!c.joined) stats.failed++;
        // Coming back: rejoin plainly next time, in case it was the `since` that was refused.
        if (c.pos) c.pos = { ...c.pos, epoch: null };
        ws.close();
        return settle();
      }
      joinedHere = true;
      c.open = true;
      if (!c.joined) {
        c.joined = true;
        stats.connected++;
        stats.join.record(now - started);
        conns.push(c);
      }
      if (c.lostAt > 0) {
        onResumed(c, asked, body, now, joinSent);
        // A member reads what its group sent while it was away from its inbox.
        if (init.inbox && c.spec.token && !c.spec.sender) {
          c.syncRid = 0;
          syncInbox(c);
        }
      }
      c.pos = positionAfter(c.lostAt > 0 ? c.pos : null, body);
      c.lostAt = 0;
      c.attempts = 0;
      return settle();
    }
    onFrame(c, data);
  });
  ws.on('error', () => undefined);
  ws.on('close', (code: number) => {
    const wasOpen = c.open;
    c.open = false;
    c.acks?.cancel();
    c.switching = 0; // a SWITCH without its answer: the room it named is joined when back
    if (wasOpen) {
      stats.closed++;
      stats.closeCodes[code] = (stats.closeCodes[code] ?? 0) + 1;
    } else if (!c.joined && !refused) stats.failed++;
    settle();
    if (!init.resume || stopping || !c.joined) return;
    if (wasOpen) {
      c.moved = true;
      c.lostAt = Date.now();
      c.attempts = 0;
    } else {
      stats.dialFailures++;
      c.attempts++;
    }
    // A client after a gateway's loss goes back through the load balancer: here, the next URL;
    // after a GOAWAY, when it says, else after a backoff.
    c.url++;
    const wait = c.goAway ?? reconnectDelayMs(c.attempts);
    c.goAway = null;
    setTimeout(() => {
      if (!stopping) dial(c, null);
    }, wait);
  });
}

function open(spec: ConnSpec, i: number): Promise<void> {
  const url = init.pinViewers ? (spec.sender ? init.urls.length - 1 : 0) : i;
  const c: Conn = { ws: null, socket: null, wireReported: 0, spec, index: i, url, goAway: null, room: spec.room, switching: 0, seen: new SeqSet(), unsequenced: 0, danmaku: 0, shed: 0, likes: 0, gifts: 0, open: false, joined: false, moved: false, pos: null, lostAt: 0, attempts: 0, heartbeat: DEFAULT_HEARTBEAT_MS, lastSent: 0, acks: null, cursor: 0, syncRid: 0, syncAgain: false, synced: null };
  return new Promise((resolve) => dial(c, resolve));
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
  for (const c of conns) {
    if (!c.socket) continue;
    const read = c.socket.bytesRead;
    stats.wireBytes += read - c.wireReported;
    c.wireReported = read;
  }
  const out = { ...stats, join: stats.join.encode(), delay: stats.delay.encode(), ack: stats.ack.encode(), giftDelay: stats.giftDelay.encode(), resumeTime: stats.resumeTime.encode(), resumeJoin: stats.resumeJoin.encode(), pendingAcks: pending.size };
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
      parentPort!.postMessage({ type: 'acked', acked: { seqs: Object.fromEntries([...acked.seqs].map(([room, s]) => [room, s.bits])), unsequenced: acked.unsequenced, gifts: Object.fromEntries([...acked.gifts].map(([room, s]) => [room, s.bits])) } });
      break;
    case 'verify':
      parentPort!.postMessage({ type: 'verified', loss: ackedLossPart(conns, msg.acked) });
      break;
    case 'delivery': {
      const viewers = conns.filter((c) => !c.spec.sender);
      void Promise.all(viewers.map(finalSync)).then(() => parentPort!.postMessage({ type: 'delivered', loss: deliveryPart(viewers, msg.acked, msg.expected, init.inbox) }));
      break;
    }
    case 'close':
      stopping = true;
      if (heartbeatTimer) clearInterval(heartbeatTimer);
      for (const c of conns) c.ws?.terminate();
      parentPort!.postMessage({ type: 'closed' });
      break;
  }
});

connectAll().then(() => parentPort!.postMessage({ type: 'ready' }));
