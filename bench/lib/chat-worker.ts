// One load-generator thread of the chat scenario: plays its share of the group members. Online
// members send MSG (open loop, each with a client id) and receive their group's MESSAGEs live;
// probes also poll SYNC (the storage lag by sampling); offline members connect during the run
// with `since=0` and read their whole inbox (the INBOX push, then SYNC pages, gunzip and
// decode), then keep syncing. Every message is recorded by (group, seq), per user and per
// channel (live, inbox), and its server `id` is checked to be the same wherever that (group,
// seq) shows up: duplicates by seq with one id per seq are duplicates by id. Every member
// acknowledges the MESSAGE ids it receives with RECEIVED, batched per connection (unless told
// not to), and counts those frames and their bytes. Reports to the main thread on request;
// docs/protocol.md, "Offline inbox and history" and "Acknowledging pushes".

import { parentPort, workerData } from 'node:worker_threads';
import { gunzipSync } from 'node:zlib';
import { Packr } from 'msgpackr';
import WebSocket from 'ws';
import type { ChatSnapshot, ChatUserSpec, ChatVerifyPart, ChatWorkerInit, ToChatWorker } from './chat-messages.js';
import { Histogram } from './histogram.js';
import { PendingReplies } from './pending.js';
import { Errors } from '../../src/protocol/errors.js';
import { ReceivedAcks } from './acks.js';
import { Kind, Op } from './protocol.js';
import { SeqSet } from './seq-set.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });
const init = workerData as ChatWorkerInit;

/** A MESSAGE body (docs/protocol.md, "MESSAGE"). */
interface Message {
  g?: string;
  s: number;
  t: number;
  id?: string;
}

interface User {
  readonly spec: ChatUserSpec;
  readonly index: number;
  ws: WebSocket | null;
  open: boolean;
  /** closed by the server (or the network) after it opened */
  lost: boolean;
  lastSent: number;
  /** what arrived live, and what arrived through the inbox (push and SYNC) */
  readonly live: SeqSet;
  readonly inbox: SeqSet;
  cursor: number;
  /** rid of the SYNC awaiting its reply (0: none) */
  syncRid: number;
  syncTimer: NodeJS.Timeout | null;
  connectedAt: number;
  caughtUp: boolean;
  /** the final check waits for the next INBOX that says no more */
  finalDone: ((ok: boolean) => void) | null;
  syncFailed: boolean;
  /** MESSAGE ids to acknowledge with RECEIVED (null: this run does not acknowledge) */
  acks: ReceivedAcks | null;
}

const readers = (u: User) => u.spec.role !== 'online';
const users: User[] = init.users.map((spec, index) => ({ spec, index, ws: null, open: false, lost: false, lastSent: 0, live: new SeqSet(), inbox: new SeqSet(), cursor: 0, syncRid: 0, syncTimer: null, connectedAt: 0, caughtUp: false, finalDone: null, syncFailed: false, acks: null }));
for (const u of users) u.acks = init.ackDelayMs === null ? null : new ReceivedAcks(init.ackDelayMs, (frame, ids) => sendAck(u, frame, ids));
const pending = new PendingReplies(init.replyTimeoutMs);
const syncs = new Map<number, User>();
const acked = new Map<string, SeqSet>();
/** the id first seen for each (group, seq) */
const ids = new Map<string, Map<number, string>>();
let rid = 1;
let sendNo = 0;
let connectFailed = 0;
let woken = 0;
let stopping = false;
/** the server answered RECEIVED with ERROR 2 unknown_op (it has no push ACKs): acks stop */
let acksRefused = false;

const interval = () => ({
  offered: 0,
  ack: new Histogram(),
  refused: {} as Record<string, number>,
  timeouts: 0,
  late: 0,
  live: 0,
  liveDelay: new Histogram(),
  liveDuplicates: 0,
  liveResent: 0,
  ackFrames: 0,
  ackIds: 0,
  ackBytes: 0,
  inboxMessages: 0,
  inboxDuplicates: 0,
  inboxFrames: 0,
  syncErrors: {} as Record<string, number>,
  probeLag: new Histogram(),
  catchUp: new Histogram(),
  catchUpMessages: 0,
  idConflicts: 0,
  unsequenced: 0,
  unread: 0,
});
let stats = interval();
const closeCodes: Record<string, number> = {};

function send(u: User, frame: unknown[]): void {
  if (!u.open || !u.ws) return;
  u.lastSent = Date.now();
  u.ws.send(packr.pack(frame));
}

/** A RECEIVED frame (acks.ts) to the user's connection, counted; false when it is gone. */
function sendAck(u: User, frame: Buffer, ids: number): boolean {
  if (!u.open || !u.ws) return false;
  stats.ackFrames++;
  stats.ackIds += ids;
  stats.ackBytes += frame.length;
  u.lastSent = Date.now();
  u.ws.send(frame);
  return true;
}

function idCheck(m: Message): void {
  if (!m.g || !m.id || m.s <= 0) return;
  let byGroup = ids.get(m.g);
  if (!byGroup) ids.set(m.g, (byGroup = new Map()));
  const had = byGroup.get(m.s);
  if (had === undefined) byGroup.set(m.s, m.id);
  else if (had !== m.id) stats.idConflicts++;
}

function sync(u: User): void {
  if (u.syncTimer) clearTimeout(u.syncTimer);
  u.syncTimer = null;
  if (!u.open || u.syncRid !== 0) return;
  const r = rid++;
  u.syncRid = r;
  syncs.set(r, u);
  send(u, [Op.Sync, r, { cursor: u.cursor, limit: 200 }]);
}

function syncLater(u: User, ms: number): void {
  if (u.syncTimer || stopping) return;
  u.syncTimer = setTimeout(() => {
    u.syncTimer = null;
    sync(u);
  }, ms);
}

function onInbox(u: User, body: { d: Uint8Array; n: number; cursor: number; more: boolean }, now: number): void {
  stats.inboxFrames++;
  const msgs = body.n > 0 ? (packr.unpack(gunzipSync(body.d)) as Message[]) : [];
  for (const m of msgs) {
    stats.inboxMessages++;
    if (m.s === 0) {
      stats.unsequenced++;
      continue;
    }
    if (!u.inbox.add(m.s)) {
      stats.inboxDuplicates++;
      continue;
    }
    idCheck(m);
    // A probe has read its inbox from the start: every entry it sees for the first time was
    // just written (up to one poll interval ago).
    if (u.spec.role === 'probe') stats.probeLag.record(now - m.t);
  }
  u.cursor = body.cursor;
  if (body.more) return sync(u);
  if (!u.caughtUp) {
    u.caughtUp = true;
    if (u.spec.role === 'offline') {
      stats.catchUp.record(now - u.connectedAt);
      stats.catchUpMessages += u.inbox.size;
    }
  }
  if (u.finalDone) {
    const done = u.finalDone;
    u.finalDone = null;
    return done(true);
  }
  // Offline members, once caught up, read live like the others unless told to keep syncing.
  const poll = u.spec.role === 'probe' ? init.probePollMs : init.syncPollMs;
  if (poll > 0) syncLater(u, poll);
}

function onSyncError(u: User, code: number): void {
  stats.syncErrors[code] = (stats.syncErrors[code] ?? 0) + 1;
  // Overloaded or unavailable: try again from the same cursor. Anything else (40
  // out_of_retention, a bad cursor) means this user's inbox stream has a hole.
  if (code === 30 || code === 31 || code === 32) return void setTimeout(() => sync(u), 500);
  u.syncFailed = true;
  if (u.finalDone) {
    const done = u.finalDone;
    u.finalDone = null;
    done(false);
  }
}

function onFrame(u: User, data: Buffer): void {
  const now = Date.now();
  const [op, r, body] = packr.unpack(data) as [number, number, Record<string, unknown>];
  switch (op) {
    case Op.Message: {
      const m = body as unknown as Message;
      // Every id received is acknowledged, even one already held: the earlier RECEIVED may be lost.
      if (u.acks && !acksRefused && typeof m.id === 'string') u.acks.add(m.id);
      if (m.s > 0 && u.live.has(m.s)) {
        // Seen before: a resend of an unacknowledged push carries its id again (one id per seq
        // is checked by idCheck); anything else is a duplicate.
        if (m.id !== undefined) stats.liveResent++;
        else stats.liveDuplicates++;
        idCheck(m);
        return;
      }
      stats.live++;
      stats.liveDelay.record(now - m.t);
      if (m.s === 0) stats.unsequenced++;
      else {
        u.live.add(m.s);
        idCheck(m);
      }
      return;
    }
    case Op.Ack: {
      const got = pending.take(r, now);
      if (!got) return;
      if (got.late) stats.late++;
      else stats.ack.record(now - got.p.at);
      const s = typeof body.s === 'number' ? body.s : 0;
      if (s > 0) {
        let set = acked.get(got.p.room);
        if (!set) acked.set(got.p.room, (set = new SeqSet()));
        set.add(s);
      }
      return;
    }
    case Op.Inbox: {
      if (r !== 0) {
        if (syncs.get(r) !== u) return;
        syncs.delete(r);
        u.syncRid = 0;
      }
      // Online members ask for no connect push (no `since`): they read live.
      if (readers(u)) onInbox(u, body as unknown as { d: Uint8Array; n: number; cursor: number; more: boolean }, now);
      return;
    }
    case Op.Error: {
      const code = Number(body.code);
      if (r === 0 && code === Errors.UnknownOp.code) {
        // RECEIVED goes with rid 0: a server of before push ACKs does not know it. Stop acking.
        acksRefused = true;
        stats.syncErrors[code] = (stats.syncErrors[code] ?? 0) + 1;
        return;
      }
      if (r === 0 || syncs.get(r) === u) {
        if (r !== 0) {
          syncs.delete(r);
          u.syncRid = 0;
        }
        if (readers(u)) onSyncError(u, code);
        else stats.syncErrors[code] = (stats.syncErrors[code] ?? 0) + 1;
        return;
      }
      const got = pending.take(r, now);
      if (got?.late) stats.late++;
      else if (got) stats.refused[String(code)] = (stats.refused[String(code)] ?? 0) + 1;
      return;
    }
    case Op.Unread:
      stats.unread++;
      return;
    default:
      return; // PONG
  }
}

function connect(u: User): Promise<void> {
  return new Promise((resolve) => {
    const url = new URL(init.urls[u.index % init.urls.length]!);
    url.searchParams.set('token', u.spec.token);
    // Inbox readers read their inbox from the oldest entry; the others ask for no push.
    if (readers(u)) url.searchParams.set('since', '0');
    u.connectedAt = Date.now();
    const ws = new WebSocket(url, { localAddress: init.addresses[u.index % init.addresses.length], perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    u.ws = ws;
    ws.on('message', (data: Buffer) => {
      if (!u.open) {
        const [op] = packr.unpack(data) as [number];
        if (op !== Op.Welcome) return;
        u.open = true;
        return resolve();
      }
      onFrame(u, data);
    });
    ws.on('error', () => undefined);
    ws.on('close', (code: number) => {
      if (u.open) {
        u.lost = !stopping;
        closeCodes[code] = (closeCodes[code] ?? 0) + 1;
      } else connectFailed++;
      u.open = false;
      u.acks?.cancel();
      if (u.finalDone) u.finalDone(false);
      u.finalDone = null;
      resolve();
    });
  });
}

async function connectAll(rampMs: number): Promise<void> {
  const first = users.filter((u) => u.spec.role !== 'offline');
  const gap = first.length > 0 ? rampMs / first.length : 0;
  const started = Date.now();
  const opening: Promise<void>[] = [];
  for (let i = 0; i < first.length; i++) {
    const due = started + i * gap;
    if (due > Date.now() + 5) await new Promise((r) => setTimeout(r, due - Date.now()));
    opening.push(connect(first[i]!));
  }
  await Promise.all(opening);
}

function wake(from: number, spreadMs: number): void {
  const asleep = users.filter((u) => u.spec.role === 'offline');
  asleep.forEach((u, i) => {
    const at = from + (asleep.length > 1 ? (i * spreadMs) / (asleep.length - 1) : 0);
    setTimeout(() => {
      if (stopping) return;
      woken++;
      void connect(u);
    }, Math.max(0, at - Date.now()));
  });
}

let sendTimer: NodeJS.Timeout | null = null;
let perSender = 0;

function startSending(rate: number): void {
  perSender = rate;
  if (rate <= 0) {
    if (sendTimer) clearInterval(sendTimer);
    sendTimer = null;
    return;
  }
  if (sendTimer) return;
  const senders = users.filter((u) => u.spec.sender);
  const budget = senders.map(() => Math.random());
  let last = Date.now();
  sendTimer = setInterval(() => {
    const now = Date.now();
    const dt = (now - last) / 1000;
    last = now;
    senders.forEach((u, i) => {
      if (!u.open) return;
      for (budget[i]! += perSender * dt; budget[i]! >= 1; budget[i]!--) {
        const r = rid++;
        pending.add(r, { at: now, kind: Kind.Danmaku, room: u.spec.group });
        stats.offered++;
        send(u, [Op.Msg, r, { g: u.spec.group, x: init.text, id: `${init.run}-c${init.worker}-${sendNo++}` }]);
      }
    });
  }, 10);
}

/** A PING to every open connection quiet for 5 s: the server's idle timeout never comes near. */
const heartbeat = setInterval(() => {
  const now = Date.now();
  for (const u of users) if (u.open && now - u.lastSent > 5000) send(u, [Op.Ping, rid++, null]);
}, 1000);

function snapshot(): ChatSnapshot {
  stats.timeouts += pending.expire(Date.now());
  const s = stats;
  stats = interval();
  return {
    connected: users.filter((u) => u.open).length,
    failed: connectFailed,
    closed: users.filter((u) => u.lost).length,
    closeCodes,
    pendingAcks: pending.size,
    woken,
    caughtUp: users.filter((u) => u.spec.role === 'offline' && u.caughtUp).length,
    ...s,
    ack: s.ack.encode(),
    liveDelay: s.liveDelay.encode(),
    probeLag: s.probeLag.encode(),
    catchUp: s.catchUp.encode(),
  };
}

/** Syncs `u` until an INBOX says no more (the one awaited, if a SYNC is out); false on failure or after 120 s. */
function finalSync(u: User): Promise<boolean> {
  if (!u.open || u.syncFailed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      u.finalDone = null;
      resolve(false);
    }, 120_000);
    u.finalDone = (ok) => {
      clearTimeout(timer);
      resolve(ok);
    };
    if (u.syncRid === 0) sync(u);
  });
}

async function verify(all: Record<string, Uint8Array>): Promise<ChatVerifyPart> {
  const part: ChatVerifyPart = { inboxUsers: 0, inboxMissing: 0, inboxUsersMissing: 0, inboxUnacknowledged: 0, inboxExpected: 0, liveUsers: 0, liveMissing: 0, liveExpected: 0, closedUsers: 0, syncFailed: 0, example: null };
  const expected = new Map(Object.entries(all).map(([g, bits]) => [g, new SeqSet(bits)]));
  const sizes = new Map([...expected].map(([g, s]) => [g, s.size]));
  const inboxReaders = users.filter((u) => readers(u) && (u.open || u.lost));
  const synced = await Promise.all(inboxReaders.map((u) => (u.open ? finalSync(u) : Promise.resolve(false))));
  inboxReaders.forEach((u, i) => {
    if (u.lost) return void part.closedUsers++;
    if (!synced[i]) return void part.syncFailed++;
    const want = expected.get(u.spec.group);
    if (!want) return;
    part.inboxUsers++;
    part.inboxExpected += sizes.get(u.spec.group)!;
    const missing = u.inbox.missingOf(want.bits).size;
    part.inboxMissing += missing;
    if (missing > 0) {
      part.inboxUsersMissing++;
      part.example ??= `${u.spec.uid} (${u.spec.role}) misses ${missing} of ${sizes.get(u.spec.group)} acknowledged messages of ${u.spec.group} in its inbox`;
    }
    part.inboxUnacknowledged += want.missingOf(u.inbox.bits).size;
  });
  // Live delivery is best effort by contract; it is checked for the members online from the start.
  for (const u of users) {
    if (u.spec.role === 'offline') continue;
    if (u.lost) {
      part.closedUsers++;
      continue;
    }
    const want = expected.get(u.spec.group);
    if (!want || !u.open) continue;
    part.liveUsers++;
    part.liveExpected += sizes.get(u.spec.group)!;
    part.liveMissing += u.live.missingOf(want.bits).size;
  }
  return part;
}

parentPort!.on('message', (msg: ToChatWorker) => {
  switch (msg.type) {
    case 'connect':
      void connectAll(msg.rampMs).then(() => parentPort!.postMessage({ type: 'connected' }));
      break;
    case 'send':
      startSending(msg.perSender);
      break;
    case 'wake':
      wake(msg.from, msg.spreadMs);
      break;
    case 'report':
      parentPort!.postMessage({ type: 'stats', stats: snapshot() });
      break;
    case 'acked':
      parentPort!.postMessage({ type: 'acked', acked: Object.fromEntries([...acked].map(([g, s]) => [g, s.bits])) });
      break;
    case 'verify':
      void verify(msg.acked).then((part) => parentPort!.postMessage({ type: 'verified', part }));
      break;
    case 'close':
      stopping = true;
      clearInterval(heartbeat);
      if (sendTimer) clearInterval(sendTimer);
      for (const u of users) {
        if (u.syncTimer) clearTimeout(u.syncTimer);
        u.acks?.cancel();
        u.ws?.terminate();
      }
      parentPort!.postMessage({ type: 'closed' });
      break;
  }
});

parentPort!.postMessage({ type: 'ready' });
