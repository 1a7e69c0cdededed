// The gateway's rooms: which rooms have local members, the bus subscription of each
// (interest-based: subscribed while the room has local members or joiners), the merge buffer,
// and a replay window of the room's recent items, kept from the live stream so that a join
// reply and the live frames that follow it never overlap or leave a gap.

import type { RoomBus, RoomHandler } from '../bus/index.js';
import { FailureLog, SampledLog } from '../failure-log.js';
import type { Logger } from '../log.js';
import type { Metrics, RoomStats } from '../metrics.js';
import { encodeBodyWithEntry, encodeBodyWithItems, encodeFrame, encodeFrameWithBody, encodeItemsEntry } from '../protocol/codec.js';
import { checkItem, readOwnItemHead, type ItemFault, type ItemHead } from '../protocol/items.js';
import { kindOf } from '../protocol/kinds.js';
import { Op } from '../protocol/ops.js';
import type { RoomHistory, WindowItem as StoredItem } from '../store/history/index.js';
import { scopes, type Sequencer } from '../store/sequence/index.js';
import { RoomMerger } from './merger.js';

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
}

/**
 * How far ahead of what a room has shown an item's seq may jump. Far more than a room sends
 * during any outage; an item beyond it (a backend's bug) would pin JOINED.seq and the replay
 * window, and stop the refill after an outage, so it is dropped.
 */
export const MAX_SEQ_JUMP = 10_000_000;

export class LocalRoom {
  readonly topic: string;
  members = 0;
  /** connections waiting for the room to become ready; they keep it alive */
  joining = 0;
  online = 0;
  /** the online count changed and rides on the next BATCH (`n`) instead of an ONLINE frame */
  onlineInBatch = false;
  lastSeq = 0;
  /** the room's last seq in the store when this gateway took it on (null: it could not be read) */
  seqBase: number | null = null;
  ready: Promise<void> | null = null;
  timer: NodeJS.Timeout | null = null;
  replay: StoredItem[] = [];
  /** the JOINED body, and the encoded `replay` entry in it, kept until what they hold changes */
  private joinedBody: Buffer | null = null;
  private joinedOnline = 0;
  private joinedSeq = 0;
  private replayEntry: Buffer | null = null;

  constructor(
    readonly id: string,
    readonly merger: RoomMerger,
  ) {
    this.topic = `room/${id}`;
  }

  addReplay(items: readonly StoredItem[], limit: number): void {
    if (limit === 0 || items.length === 0) return;
    const bySeq = new Map<number, StoredItem>();
    for (const it of this.replay) bySeq.set(it.seq, it);
    for (const it of items) bySeq.set(it.seq, it);
    this.replay = [...bySeq.values()].sort((a, b) => a.seq - b.seq).slice(-limit);
    const last = this.replay[this.replay.length - 1];
    if (last && last.seq > this.lastSeq) this.lastSeq = last.seq;
    this.joinedBody = null;
    this.replayEntry = null;
  }

  pushReplay(item: StoredItem, limit: number): void {
    if (limit === 0) return;
    const last = this.replay[this.replay.length - 1];
    if (last && last.seq >= item.seq) return this.addReplay([item], limit);
    this.replay.push(item);
    if (this.replay.length > limit) this.replay.shift();
    this.joinedBody = null;
    this.replayEntry = null;
  }

  setOnline(n: number): void {
    if (n !== this.online) this.joinedBody = null;
    this.online = n;
  }

  /**
   * The JOINED reply; its body is cached until the replay window or the count changes. The
   * count is at least the members this gateway has (the joiner included): the aggregated one
   * lags by up to an online interval, and "0 online" to someone who is in the room is wrong.
   */
  joinedFrame(rid: number): Buffer {
    const online = Math.max(this.online, this.members);
    if (this.joinedBody === null || this.joinedOnline !== online || this.joinedSeq !== this.lastSeq) {
      // During a join storm the count changes with every join: only the small head is encoded
      // again, the replay window's bytes are kept.
      this.joinedOnline = online;
      this.joinedSeq = this.lastSeq;
      this.replayEntry ??= encodeItemsEntry('replay', this.replay.map((r) => r.data));
      this.joinedBody = encodeBodyWithEntry({ room: this.id, online, seq: this.lastSeq }, this.replayEntry);
    }
    return encodeFrameWithBody(Op.Joined, rid, this.joinedBody);
  }
}

/** What the rooms read from storage: the replay window, and where the room's numbering stands. */
export interface RoomStores {
  readonly history: RoomHistory;
  readonly sequencer: Pick<Sequencer, 'current'>;
}

export class RoomHub implements RoomHandler {
  private readonly rooms = new Map<string, LocalRoom>();
  private readonly replayFailures: FailureLog;
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
    this.replayFailures = new FailureLog(log, 'replay window reads');
    this.badItems = new SampledLog(log);
    this.seqFailures = new FailureLog(log, 'room sequence reads');
    metrics.observeRooms(() => this.stats());
  }

  /**
   * Gets the room ready for a new member: subscribes the bus and loads the replay window on
   * first use. The caller must then call join() or abandon() exactly once.
   */
  async acquire(id: string): Promise<LocalRoom> {
    let room = this.rooms.get(id);
    if (!room) {
      room = new LocalRoom(id, new RoomMerger(this.opts.roomDisplayCap, Date.now()));
      this.rooms.set(id, room);
      room.ready = this.prepare(room);
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

  private release(room: LocalRoom): void {
    if (room.members > 0 || room.joining > 0 || this.rooms.get(room.id) !== room) return;
    if (room.timer) clearTimeout(room.timer);
    room.merger.clear();
    this.rooms.delete(room.id);
    this.bus.unsubscribe(room.id);
  }

  private async prepare(room: LocalRoom): Promise<void> {
    await this.bus.subscribe(room.id);
    await Promise.all([this.loadReplay(room), this.loadSeqBase(room)]);
  }

  private async loadReplay(room: LocalRoom): Promise<void> {
    if (this.opts.replaySize === 0) return;
    try {
      room.addReplay((await this.stores.history.window(room.id)).items.slice(-this.opts.replaySize), this.opts.replaySize);
      this.replayFailures.succeeded();
    } catch (err) {
      // Live delivery does not depend on the replay window; join with what we have.
      this.replayFailures.failed(err, { room: room.id });
    }
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
   * Bus callback after a reconnect: what was published while this gateway was cut off is in
   * each room's history (the last REPLAY_SIZE danmaku, gifts and notices); feed what the
   * members have not seen into the merge buffer, so that a gateway's outage leaves no gap
   * within that window.
   */
  async roomsRestored(): Promise<void> {
    if (this.opts.replaySize === 0) return;
    const counts = await Promise.all(
      [...this.rooms.values()].map(async (room) => {
        let items;
        try {
          items = (await this.stores.history.window(room.id)).items.slice(-this.opts.replaySize);
        } catch (err) {
          this.replayFailures.failed(err, { room: room.id });
          return 0;
        }
        if (this.rooms.get(room.id) !== room) return 0; // left meanwhile
        let refilled = 0;
        for (const it of items) {
          if (it.seq <= room.lastSeq || room.merger.holds(it.seq)) continue;
          this.roomMessage(room.id, it.data, false); // storage is shared: checked like the bus
          refilled++;
        }
        return refilled;
      }),
    );
    const items = counts.reduce((a, b) => a + b, 0);
    if (items > 0) this.log.info({ items, rooms: counts.filter((n) => n > 0).length }, 'refilled room items missed while the bus was down');
  }

  /** Bus callback: one encoded item of a room this gateway is subscribed to. */
  roomMessage(id: string, data: Uint8Array, fromProcess: boolean): void {
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
    const n = room.merger.push({ head, data: bytes });
    if (n >= this.opts.mergeMaxMessages || this.opts.mergeWindowMs === 0) this.flush(room);
    else room.timer ??= setTimeout(() => this.flush(room), this.opts.mergeWindowMs);
  }

  private dropItem(room: string, data: Uint8Array, fault: ItemFault, detail: string): void {
    this.metrics.itemsDropped(fault);
    this.badItems.warn({ room, bytes: data.length, reason: fault, detail }, 'dropped an invalid room item');
  }

  flush(room: LocalRoom): void {
    if (room.timer) {
      clearTimeout(room.timer);
      room.timer = null;
    }
    if (room.merger.size === 0) return;
    const now = Date.now();
    const { kept, shed } = room.merger.drain(now);
    if (shed > 0) this.metrics.itemsDropped('shed', shed);
    if (kept.length === 0) return;
    // The replay window holds what was sent, so a JOINED reply built after this flush and the
    // batches that follow it never overlap; what the display cap shed is not replayed either.
    const items: Uint8Array[] = [];
    for (const k of kept) {
      items.push(k.data);
      if (k.head.seq > room.lastSeq) room.lastSeq = k.head.seq;
      // Kinds that are not replayed (likes) stay out, and so do unsequenced items (seq 0),
      // which have no place in the window.
      if (kindOf(k.head.kind)?.replayed && k.head.seq > 0) room.pushReplay({ seq: k.head.seq, t: k.head.time, keep: kindOf(k.head.kind)?.display === 'keep', data: k.data }, this.opts.replaySize);
    }
    const fields = room.onlineInBatch ? { r: room.id, s: shed, n: room.online } : { r: room.id, s: shed };
    room.onlineInBatch = false;
    const frame = encodeFrameWithBody(Op.Batch, 0, encodeBodyWithItems(fields, 'd', items));
    const recipients = this.fanout.publish(room.topic, frame);
    this.metrics.roomBatchSent(recipients, items.length);
    if (recipients > 0) for (const k of kept) this.metrics.itemDelivered((now - k.head.time) / 1000);
  }

  flushAll(): void {
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
      if (n === room.online && !room.onlineInBatch) continue;
      room.setOnline(n);
      if (room.merger.size > 0) room.onlineInBatch = true;
      else {
        room.onlineInBatch = false;
        this.fanout.publish(room.topic, encodeFrame(Op.Online, 0, { r: id, n }));
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
