// The gateway's rooms: which rooms have local members, the bus subscription of each
// (interest-based: subscribed while the room has local members or joiners), the merge buffer,
// and each room's recovery window (local-room.ts): read from the store when the room is taken
// on, fed with what is sent, checked again when the store or the bus comes back.

import type { RoomBus, RoomHandler } from '../bus/index.js';
import { FailureLog, SampledLog } from '../failure-log.js';
import type { Logger } from '../log.js';
import type { Metrics, RoomStats } from '../metrics.js';
import { encodeBodyWithItems, encodeFrame, encodeFrameWithBody } from '../protocol/codec.js';
import { checkItem, readOwnItemHead, type ItemFault, type ItemHead } from '../protocol/items.js';
import { kindOf } from '../protocol/kinds.js';
import { Op } from '../protocol/ops.js';
import type { RoomHistory, RoomWindowSnapshot, WindowItem, WindowLimits } from '../store/history/index.js';
import { scopes, type Sequencer } from '../store/sequence/index.js';
import { LocalRoom, type JoinedOptions, type Resume, type WindowRead } from './local-room.js';
import { LIKE_SUM_MS, roomSettings, type RoomSettings } from './degrade.js';
import { RoomMerger } from './merger.js';
import { PublishLog, type Lost } from './publish-log.js';

export { LocalRoom, type Resume } from './local-room.js';

/** Where batch frames go: uWS topics in production, a recorder in unit tests. */
export interface Fanout {
  /** Sends `data` to every socket subscribed to `topic`; returns how many that was. */
  publish(topic: string, data: Uint8Array): number;
}

export interface RoomHubOptions {
  readonly mergeMaxMessages: number;
  readonly mergeWindowMs: number;
  readonly replaySize: number;
  readonly roomDisplayCap: number;
  readonly maxTextLength: number;
  readonly roomRecoverySize: number;
  readonly roomRecoveryMs: number;
  readonly roomRecoveryKeepSize: number;
  readonly roomRecoveryKeepMs: number;
  readonly roomRecoveryMarginMs: number;
}

/**
 * How far ahead of what a room has shown an item's seq may jump. Far more than a room sends
 * during any outage; an item beyond it (a backend's bug) would pin JOINED.seq and the replay
 * window, and stop the refill after an outage, so it is dropped.
 */
export const MAX_SEQ_JUMP = 10_000_000;

/** How long a room's epoch, once the store confirmed it, is taken as current by a resume. */
export const EPOCH_CHECK_MS = 1_000;

/** Rooms whose windows are read at once after a reconnect: a NATS restart must not send Redis every room's window in one burst. */
export const RESTORE_CONCURRENCY = 16;

/** The retry of an owed refill: 1 s after the failed read, doubling, at most this. */
const REFILL_RETRY_MAX_MS = 30_000;

/** What the rooms read from storage: the recovery window, and where the room's numbering stands. */
export interface RoomStores {
  readonly history: RoomHistory;
  readonly sequencer: Pick<Sequencer, 'current'>;
}

export class RoomHub implements RoomHandler {
  private readonly rooms = new Map<string, LocalRoom>();
  private readonly limits: WindowLimits;
  private readonly joined: JoinedOptions;
  /** the frames published to each room until uWS has written them (publish-log.ts) */
  private readonly published = new PublishLog();
  private readonly windowFailures: FailureLog;
  private readonly badItems: SampledLog;
  private readonly seqFailures: FailureLog;

  constructor(
    private readonly bus: RoomBus,
    private readonly stores: RoomStores,
    private readonly fanout: Fanout,
    private readonly opts: RoomHubOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.limits = { size: opts.roomRecoverySize, ageMs: opts.roomRecoveryMs, keepSize: opts.roomRecoveryKeepSize, keepAgeMs: opts.roomRecoveryKeepMs };
    this.joined = { replaySize: opts.replaySize, marginMs: opts.roomRecoveryMarginMs };
    this.windowFailures = new FailureLog(log, 'recovery window reads');
    this.badItems = new SampledLog(log);
    this.seqFailures = new FailureLog(log, 'room sequence reads');
    metrics.observeRooms(() => this.stats());
  }

  /**
   * Gets the room ready for a new member: subscribes the bus and reads the recovery window on
   * first use, and reads the window again if the last read failed. The caller must then call
   * join() or abandon() exactly once.
   */
  async acquire(id: string): Promise<LocalRoom> {
    let room = this.rooms.get(id);
    if (!room) {
      room = new LocalRoom(id, new RoomMerger(this.opts.roomDisplayCap, Date.now()), this.limits);
      room.mergeWindowMs = this.opts.mergeWindowMs;
      room.mergeMaxMessages = this.opts.mergeMaxMessages;
      this.rooms.set(id, room);
      room.ready = this.prepare(room);
    } else if (room.subscribed && !room.windowRead && room.reading === null) {
      room.ready = this.readWindow(room).then(() => undefined);
    }
    room.joining++;
    try {
      await room.ready;
    } catch (err) {
      this.abandon(room);
      throw err;
    }
    return room;
  }

  join(room: LocalRoom): void {
    room.joining--;
    room.members++;
  }

  abandon(room: LocalRoom): void {
    room.joining--;
    this.release(room);
  }

  leave(room: LocalRoom): void {
    room.members--;
    this.release(room);
  }

  /**
   * The JOINED reply for a member of `room`: the plain one, or with `resume` what the client
   * missed since its last seq (docs/protocol.md, "Resuming a room"). Built where the member
   * is subscribed in the same turn, so that it and the BATCH frames after it meet exactly.
   */
  joinedFrame(room: LocalRoom, rid: number, resume: Resume | null): Buffer {
    return this.joinedReply(room, rid, resume).frame;
  }

  /** joinedFrame(), with the number of items its replay holds (a resume's cost: gateway.ts). */
  joinedReply(room: LocalRoom, rid: number, resume: Resume | null): { frame: Buffer; replayed: number } {
    const now = Date.now();
    if (!resume) return { frame: room.joinedFrame(rid, this.joined, now), replayed: 0 };
    const reply = room.resumeFrame(rid, resume, this.joined, now);
    this.metrics.roomRecovery(reply.result, reply.items);
    return reply;
  }

  /**
   * Before a resume is answered: confirms the room's epoch with the store unless that was done
   * in the last EPOCH_CHECK_MS, so that a store that lost its data while this gateway stayed
   * connected to it (a flushed Redis) is not answered from a window of the old numbering.
   * Null when there is nothing to wait for: the caller answers in the same turn.
   */
  confirmEpoch(room: LocalRoom, now = Date.now()): Promise<void> | null {
    if (!room.windowRead || now - room.epochConfirmedAt < EPOCH_CHECK_MS) return null;
    room.epochCheck ??= this.checkEpoch(room, now).finally(() => (room.epochCheck = null));
    return room.epochCheck;
  }

  /** Reads the window again if the store's epoch is not the room's; never rejects. */
  private async checkEpoch(room: LocalRoom, now: number): Promise<void> {
    let epoch: string | null;
    try {
      epoch = await this.stores.history.epoch(room.id);
    } catch (err) {
      // The store cannot say: what the room holds is as good as it was a moment ago.
      this.windowFailures.failed(err, { room: room.id });
      return;
    }
    if (epoch === room.window.epoch) room.epochConfirmedAt = now; // the store said so after `now`
    else if (this.rooms.get(room.id) === room) await this.readWindow(room);
  }

  /**
   * uWS reported `dropped` not queued for a member of `room`: what went with it, counted. A
   * lost never-shed item is the caller's to act on (the connection is closed, and resumes).
   */
  framesDropped(room: LocalRoom, dropped: ArrayBuffer): Lost {
    const lost = this.published.lost(room.id, dropped) ?? { frames: 1, keep: 0 };
    this.metrics.frameDropped('backpressure', lost.frames);
    if (lost.keep > 0) this.metrics.itemsDropped('never_shed_dropped', lost.keep);
    return lost;
  }

  private release(room: LocalRoom): void {
    if (room.members > 0 || room.joining > 0 || this.rooms.get(room.id) !== room) return;
    if (room.timer) clearTimeout(room.timer);
    this.stopHold(room);
    if (room.owed?.timer) clearTimeout(room.owed.timer);
    room.owed = null;
    room.merger.clear();
    this.rooms.delete(room.id);
    this.bus.unsubscribe(room.id);
  }

  private async prepare(room: LocalRoom): Promise<void> {
    await this.bus.subscribe(room.id);
    room.subscribed = true;
    await Promise.all([this.readWindow(room), this.loadSeqBase(room)]);
  }

  /**
   * Reads the store's window into the room, after any read of it under way; never rejects.
   * Live delivery does not depend on it: when it fails, joins go ahead and claim nothing
   * (recovered false), and the next join of the room reads again. Resolves to what the read
   * found, null when it failed.
   */
  private readWindow(room: LocalRoom): Promise<WindowRead | null> {
    const read = room.reading ? room.reading.then(() => this.read(room)) : this.read(room);
    room.reading = read;
    void read.then(() => {
      if (room.reading === read) room.reading = null;
    });
    return read;
  }

  /** window reads started, for telling whether a read is older than a refill debt */
  private readsStarted = 0;

  private async read(room: LocalRoom): Promise<WindowRead | null> {
    const started = ++this.readsStarted;
    room.readStarted();
    let snap: RoomWindowSnapshot;
    try {
      snap = await this.stores.history.window(room.id);
    } catch (err) {
      this.windowFailures.failed(err, { room: room.id });
      room.readFailed();
      if (room.owed) this.retryRefill(room);
      return null;
    }
    this.windowFailures.succeeded();
    const read = room.readDone(snap, Date.now());
    if (this.rooms.get(room.id) !== room) return read; // left meanwhile: nobody to tell
    if (read.reset) this.epochReset(room, snap.epoch);
    // Whatever triggered this read, a refill owed since a bus reconnect is done now, unless the
    // read started before the debt was made (its snapshot may predate what the outage hid): a
    // read chained behind it (roomsRestored) settles it.
    if (room.owed && started > room.owed.after) this.refill(room, read);
    return read;
  }

  /**
   * Sends the members what was published while the bus was down: every item of the window
   * above the lastSeq the room had when the bus came back (after an epoch reset, nothing: the
   * JOINED of rid 0 told them), except what is waiting in the merge buffer or was sent since.
   */
  private refill(room: LocalRoom, read: WindowRead): void {
    const owed = room.owed!;
    if (owed.timer) clearTimeout(owed.timer);
    room.owed = null;
    // After an epoch reset the JOINED of rid 0 that told the members stands in for the refill:
    // its replay holds the new numbering's recent items (sent again here, they would overlap).
    if (read.reset) return;
    const from = owed.from;
    let refilled = 0;
    for (const it of room.window.after(from, 0, Date.now())) {
      if (it.seq <= from || room.merger.holds(it.seq) || read.sent.has(it.seq)) continue;
      if (owed.sent.has(it.seq)) continue;
      this.roomMessage(room.id, it.data, false, true); // storage is shared: checked like the bus
      refilled++;
    }
    this.refilled += refilled;
    if (refilled > 0) this.refilledRooms++;
  }

  /** items and rooms refilled since roomsRestored() started, for its log line */
  private refilled = 0;
  private refilledRooms = 0;

  /** The read of a room that owes a refill failed: it is tried again, backing off. */
  private retryRefill(room: LocalRoom): void {
    const owed = room.owed!;
    owed.failures++;
    if (owed.timer) return; // one retry pending is enough
    const delay = Math.min(REFILL_RETRY_MAX_MS, 1_000 * 2 ** (owed.failures - 1));
    owed.timer = setTimeout(() => {
      owed.timer = null;
      if (this.rooms.get(room.id) === room && room.owed === owed) void this.readWindow(room);
    }, delay);
    owed.timer.unref();
  }

  /**
   * The store has a new epoch for the room: its numbering restarted. Every member is told at
   * once with a JOINED of rid 0 (new epoch, recovered false): the new items come with s = 1,
   * 2, ... that a client de-duplicating by the seqs it holds would drop.
   */
  private epochReset(room: LocalRoom, epoch: string): void {
    this.metrics.roomEpochReset();
    this.log.info({ room: room.id, epoch }, 'the store has a new epoch for the room (its window was lost): the local window starts again');
    if (room.members === 0) return;
    const frame = room.resetFrame(this.joined, Date.now());
    // Counted as holding a never-shed item: a member whose buffer cannot take it would keep the
    // old epoch and drop the new numbering's items as seqs it has seen, so it is closed (4002)
    // and resumes instead.
    this.published.record(room.id, frame, 1);
    this.fanout.publish(room.topic, frame);
  }

  /** Where the room's numbering stands: the anchor of the bound on items' seqs (roomMessage). */
  private async loadSeqBase(room: LocalRoom): Promise<void> {
    try {
      room.seqBase = await this.stores.sequencer.current(scopes.room(room.id));
      this.seqFailures.succeeded();
    } catch (err) {
      // Without it the bound falls back to what the room has shown (see roomMessage).
      this.seqFailures.failed(err, { room: room.id });
    }
  }

  /**
   * The store is reachable again after losing its connection: it may have come back empty (a
   * Redis restarted without its data), with new epochs. Each room whose epoch changed, or whose
   * window could not be read, reads its window again, so that no join is told it recovered
   * from a window of a past epoch.
   */
  async storeRestored(): Promise<void> {
    await eachLimited([...this.rooms.values()], RESTORE_CONCURRENCY, async (room) => {
        if (!room.subscribed) return; // its first read is still to come
        if (room.windowRead && !room.owed) {
          try {
            if ((await this.stores.history.epoch(room.id)) === room.window.epoch) {
              room.epochConfirmedAt = Date.now();
              return;
            }
          } catch (err) {
            this.windowFailures.failed(err, { room: room.id });
          }
        }
        if (this.rooms.get(room.id) === room) await this.readWindow(room);
    });
  }

  /**
   * Bus callback after a reconnect: what was published while this gateway was cut off is in
   * each room's window in the store (items are stored before they are published); feed what
   * the members have not seen into the merge buffer, so that a gateway's outage leaves no gap
   * within the window. The read also checks the room's epoch.
   */
  async roomsRestored(): Promise<void> {
    this.refilled = 0;
    this.refilledRooms = 0;
    const rooms = [...this.rooms.values()].filter((room) => room.subscribed); // the others' first read is still to come
    // What each room owes is fixed now, before any read: a read that fails keeps it owed (a
    // later read would otherwise raise lastSeq past what was never sent).
    for (const room of rooms) {
      if (room.owed) {
        // An older debt, from a lower lastSeq, is kept, and now covers this outage too.
        room.owed.failures = 0;
        room.owed.after = this.readsStarted;
      } else room.owed = { from: room.lastSeq, sent: new Set(), after: this.readsStarted, failures: 0, timer: null };
    }
    await eachLimited(rooms, RESTORE_CONCURRENCY, async (room) => {
      if (this.rooms.get(room.id) === room && room.owed) await this.readWindow(room);
    });
    if (this.refilled > 0) this.log.info({ items: this.refilled, rooms: this.refilledRooms }, 'refilled room items missed while the bus was down');
  }

  /**
   * Bus callback: one encoded item of a room this gateway is subscribed to. `refill`: from the
   * store's window after a bus outage (held in the local window already, never sent).
   */
  roomMessage(id: string, data: Uint8Array, fromProcess: boolean, refill = false): void {
    const room = this.rooms.get(id);
    if (!room) return; // unsubscribed while the message was in flight
    let head: ItemHead;
    let bytes: Uint8Array;
    if (fromProcess) {
      // Encoded by this process's logic from validated fields: the full check and the
      // re-encoding would only cost (about 2 us an item at 20,000 items/s).
      const own = readOwnItemHead(data);
      if (!own) return this.dropItem(id, data, 'bad_item', 'not a room item');
      head = own;
      bytes = data;
    } else {
      const check = checkItem(data, this.opts.maxTextLength);
      if ('fault' in check) return this.dropItem(id, data, check.fault, check.detail);
      head = check.head;
      bytes = check.data;
    }
    // The anchor: the room's numbering in the store when this gateway took it on, or what the
    // room has shown since. Only when neither is known (the store could not be read and the
    // room has shown nothing) is an item's seq taken as it comes.
    const anchor = room.seqBase === null ? (room.lastSeq > 0 ? room.lastSeq : null) : Math.max(room.seqBase, room.lastSeq);
    if (head.seq > 0 && anchor !== null && head.seq > anchor + MAX_SEQ_JUMP) {
      return this.dropItem(id, data, 'bad_item_seq', `s ${head.seq} jumps more than ${MAX_SEQ_JUMP} past ${anchor}`);
    }
    // An item this room's window holds was sent (or shed, or replayed to joiners) already: a
    // retry answered `dup` publishes the stored copy again for viewers that never got it (its
    // first publish may have been lost), and those that did must not get it twice.
    if (!refill && head.seq > 0 && head.seq <= room.window.lastSeq && room.window.has(head.seq)) {
      this.metrics.itemsDropped('duplicate');
      return;
    }
    const n = room.merger.push({ head, data: bytes });
    if (n >= room.mergeMaxMessages || room.mergeWindowMs === 0) this.flush(room);
    else room.timer ??= setTimeout(() => this.flush(room), room.mergeWindowMs);
  }

  private dropItem(room: string, data: Uint8Array, fault: ItemFault, detail: string): void {
    this.metrics.itemsDropped(fault);
    this.badItems.warn({ room, bytes: data.length, reason: fault, detail }, 'dropped an invalid room item');
  }

  /** Sends what the room has waiting; `release`: the likes a degraded room holds too, whenever they are due. */
  flush(room: LocalRoom, release = false): void {
    if (room.timer) {
      clearTimeout(room.timer);
      room.timer = null;
    }
    if (room.merger.size === 0) return;
    const now = Date.now();
    const { kept, shed, degraded, shedItems } = room.merger.drain(now, release);
    if (room.level > 0) this.holdLikes(room, now);
    if (shed > degraded) this.metrics.itemsDropped('shed', shed - degraded);
    if (degraded > 0) this.metrics.itemsDropped('degraded', degraded);
    // What the display cap shed goes into the window all the same: a client that resumes on
    // this gateway after following the room on another (which did not shed the same items,
    // and whose BATCH shed counts it saw) must not be told it recovered without them. They
    // were never in a BATCH, so a JOINED reply and the batches after it still cannot overlap.
    const toWindow: WindowItem[] = [];
    for (const k of shedItems) {
      if (k.head.seq > 0 && kindOf(k.head.kind)?.replayed) toWindow.push({ seq: k.head.seq, t: now, keep: false, data: k.data });
    }
    if (kept.length === 0) return room.addAll(toWindow, now);
    // The window holds what was sent, so a JOINED reply built after this flush and the batches
    // that follow it never overlap.
    const items: Uint8Array[] = [];
    let keep = 0;
    for (const k of kept) {
      items.push(k.data);
      if (k.head.seq > room.lastSeq) room.lastSeq = k.head.seq;
      const kind = kindOf(k.head.kind);
      const neverShed = kind?.display === 'keep';
      if (neverShed) keep++;
      // Kinds that are not replayed (likes) stay out, and so do unsequenced items (seq 0),
      // which have no place in the window. `t` is when the item reached this window, not the
      // item's own time: the resume margin is about arrival order here (an item a logic
      // process published late arrives after higher seqs, whatever its receive time said).
      if (kind?.replayed && k.head.seq > 0) toWindow.push({ seq: k.head.seq, t: now, keep: neverShed, data: k.data });
    }
    room.addAll(toWindow, now); // one trim and one cache reset per frame, not per item
    const fields = room.onlineInBatch ? { r: room.id, s: shed, n: room.online } : { r: room.id, s: shed };
    room.onlineInBatch = false;
    const frame = encodeFrameWithBody(Op.Batch, 0, encodeBodyWithItems(fields, 'd', items));
    this.published.record(room.id, frame, keep);
    const recipients = this.fanout.publish(room.topic, frame);
    this.metrics.roomBatchSent(recipients, items.length);
    if (recipients > 0) for (const k of kept) this.metrics.itemDelivered((now - k.head.time) / 1000);
  }

  /**
   * A degraded room's merger holds likes: a flush when they are due, if no batch sends them
   * before. The timer follows the merger's due time (a new hold after a release gets its own).
   */
  private holdLikes(room: LocalRoom, now: number): void {
    const due = room.merger.heldUntil;
    if (due === room.holdDue) return;
    this.stopHold(room);
    if (due === null) return;
    room.holdDue = due;
    room.holdTimer = setTimeout(() => {
      room.holdTimer = null;
      room.holdDue = null;
      // A merge window under way sends them at its end (at most one window late): no extra frame.
      if (this.rooms.get(room.id) === room && room.timer === null) this.flush(room);
    }, Math.max(0, due - now));
  }

  private stopHold(room: LocalRoom): void {
    if (room.holdTimer) clearTimeout(room.holdTimer);
    room.holdTimer = null;
    room.holdDue = null;
  }

  /**
   * Adaptive degradation (degrade.ts): the gateway's level applies to the rooms with at least
   * `minMembers` local members; the others, and every room at level 0, run as configured.
   * Called once a second and on every level change; returns the rooms now degraded.
   */
  degrade(level: number, minMembers: number): number {
    if (level === 0 && this.degradedRooms === 0) return 0; // the common case costs nothing
    let degraded = 0;
    const now = Date.now();
    for (const room of this.rooms.values()) {
      const target = level > 0 && room.members >= minMembers ? level : 0;
      if (target > 0) degraded++;
      if (target !== room.level) this.applySettings(room, roomSettings(this.opts, target), now);
    }
    this.degradedRooms = degraded;
    return degraded;
  }

  /** rooms at a level above 0 after the last degrade() */
  private degradedRooms = 0;

  private applySettings(room: LocalRoom, s: RoomSettings, now: number): void {
    room.level = s.level;
    room.mergeWindowMs = s.mergeWindowMs;
    room.mergeMaxMessages = s.mergeMaxMessages;
    room.onlineEvery = s.onlineEvery;
    room.merger.setDegrade(s.level === 0 ? null : { capPerSec: s.displayCap, sumLikes: s.sumLikes, windowMs: s.mergeWindowMs }, LIKE_SUM_MS, now);
    if (s.level === 0 && room.holdTimer) {
      // the held likes went back to the pending items: they leave with the next batch
      this.stopHold(room);
      if (room.merger.size > 0) room.timer ??= setTimeout(() => this.flush(room), room.mergeWindowMs);
    }
  }

  /**
   * Sends what every room has waiting now, the likes a degraded room holds included, and
   * leaves each room at its level (a drain's flush: the gateway keeps serving, and its
   * degradation monitor keeps running).
   */
  flushNow(): void {
    for (const room of this.rooms.values()) this.flush(room, true);
  }

  /**
   * Shutdown: sends what every room holds, likes a degraded room holds included, and sets
   * every room back to the configuration (stop the degradation monitor first).
   */
  flushAll(): void {
    this.degrade(0, 0);
    for (const room of this.rooms.values()) this.flush(room);
  }

  /** Local member counts, for presence reports. */
  counts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const r of this.rooms.values()) if (r.members > 0) out.set(r.id, r.members);
    return out;
  }

  /**
   * Tells each room's local members its aggregated online count, when it changed (members
   * learn the current count from JOINED). A room with items waiting gets it in that BATCH
   * (`n`): one frame per member fewer, and no burst of ONLINE frames to every connection of
   * the gateway at the same instant, which stalled delivery for tens of milliseconds every
   * interval. Only rooms without pending traffic get an ONLINE frame.
   */
  pushOnline(totals: ReadonlyMap<string, number>): void {
    for (const [id, n] of totals) {
      const room = this.rooms.get(id);
      if (!room || room.members === 0) continue;
      if (room.onlineEvery > 1 && room.onlineTicks++ % room.onlineEvery !== 0) continue; // a degraded room: every other interval
      if (n === room.online && !room.onlineInBatch) continue;
      room.setOnline(n);
      if (room.merger.size > 0) room.onlineInBatch = true;
      else {
        room.onlineInBatch = false;
        const frame = encodeFrame(Op.Online, 0, { r: id, n });
        this.published.record(id, frame, 0);
        this.fanout.publish(room.topic, frame);
      }
    }
  }

  private stats(): RoomStats {
    let members = 0;
    let largest = 0;
    let rooms = 0;
    for (const r of this.rooms.values()) {
      if (r.members === 0) continue;
      rooms++;
      members += r.members;
      if (r.members > largest) largest = r.members;
    }
    return { rooms, members, largest };
  }
}

/** Runs `fn` over `items`, at most `limit` at a time; never rejects if `fn` does not. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
