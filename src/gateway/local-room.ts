// One room as a gateway holds it: its local members, the merge buffer, and the room's recovery
// window, kept from the live stream so that a join reply and the live frames that follow it
// never overlap or leave a gap. The window comes from the store when the gateway takes the room
// on (read after the bus subscription is active: an item is stored before it is published, so
// every item is in the read or arrives live), then grows with what this gateway sends.
// The JOINED replies are built here (docs/protocol.md, "JOIN and SWITCH", "Resuming a room").

import type { RoomRecovery } from '../metric-labels.js';
import { encodeBodyWithEntry, encodeFrameWithBody, encodeItemsEntry } from '../protocol/codec.js';
import { Op } from '../protocol/ops.js';
import { RecoveryWindow, type RoomWindowSnapshot, type WindowItem, type WindowLimits } from '../store/history/index.js';
import type { RoomMerger } from './merger.js';

/** A JOIN's resume request: the last seq the client holds and the epoch it was numbered in. */
export interface Resume {
  readonly since: number;
  readonly epoch: string;
}

/** What the JOINED replies take from the configuration. */
export interface JoinedOptions {
  /** REPLAY_SIZE: items in a plain replay */
  readonly replaySize: number;
  /** ROOM_RECOVERY_MARGIN_MS */
  readonly marginMs: number;
}

export interface ResumeReply {
  readonly frame: Buffer;
  readonly result: RoomRecovery;
  /** replayed items after `since`; null when the epoch did not match (nothing was resumed) */
  readonly items: number | null;
  /** items in the reply's replay: what the frame budget charges a resume for */
  readonly replayed: number;
}

/**
 * A refill of the room from the store that is still owed: a read after a bus reconnect failed
 * (the store was down too), so what was published meanwhile has not been sent. Kept until a
 * read succeeds, whatever triggers it.
 */
export interface OwedRefill {
  /** the room's lastSeq when the bus came back: items above it may not have been sent */
  readonly from: number;
  /** replayed seqs sent since then (they are not refilled) */
  readonly sent: Set<number>;
  /**
   * the hub's read counter when the debt was made (or last renewed): only a read started after
   * it settles the debt, since an older snapshot can miss what was published before the bus
   * came back
   */
  after: number;
  /** failed reads so far, for the retry's backoff */
  failures: number;
  timer: NodeJS.Timeout | null;
}

/** What a read of the store's window found. */
export interface WindowRead {
  /** the store had a new epoch: the room's window and numbering started again */
  readonly reset: boolean;
  /** seqs sent to the members while the read was under way */
  readonly sent: ReadonlySet<number>;
}

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
  /**
   * Adaptive degradation (degrade.ts): the level this room runs at (0 unless it is hot), the
   * merge window and buffer bound it runs with, the timer of the likes it holds, and the
   * online pushes it skips. Set by RoomHub.degrade().
   */
  level = 0;
  mergeWindowMs = 0;
  mergeMaxMessages = 0;
  holdTimer: NodeJS.Timeout | null = null;
  /** when the held likes are due, as holdTimer was set for (RoomMerger.heldUntil) */
  holdDue: number | null = null;
  onlineEvery = 1;
  onlineTicks = 0;
  /**
   * The window. Until it is read from the store (or after a read failed) it only gathers what
   * is sent, under the epoch '' and floors that no `since` reaches: a join then claims nothing.
   */
  window: RecoveryWindow;
  /** whether `window` holds the store's window (with its epoch and floors) */
  windowRead = false;
  /** the bus subscription is active: from now on a read of the window misses nothing */
  subscribed = false;
  /** the read of the store's window under way, if any (reads of a room run one after another) */
  reading: Promise<WindowRead | null> | null = null;
  /** when the store last confirmed the window's epoch (ms) */
  epochConfirmedAt = 0;
  /** a confirmation of the epoch under way (RoomHub.confirmEpoch) */
  epochCheck: Promise<void> | null = null;
  /** a refill owed since a bus reconnect whose read failed (RoomHub.roomsRestored) */
  owed: OwedRefill | null = null;
  /** items sent while a read is under way: the read may have started before they were stored */
  private sentDuringRead: WindowItem[] | null = null;
  /** the JOINED body, and the encoded `replay` entry in it, kept until what they hold changes */
  private joinedBody: Buffer | null = null;
  private joinedOnline = 0;
  private joinedSeq = 0;
  private replayEntry: Buffer | null = null;
  /**
   * Resume replies by `since` (their replay entry and counts), while the window is unchanged:
   * when a gateway dies, its viewers of one room come back within a second, most of them with
   * the same last seq, and each reply would otherwise be built again from the window.
   */
  private readonly resumes = new Map<number, CachedResume>();
  private resumesFloor = 0;
  private resumesKeepFloor = 0;
  /** the floors when replayEntry was built: an age trim since then raised them */
  private replayFloor = 0;
  private replayKeepFloor = 0;

  constructor(
    readonly id: string,
    readonly merger: RoomMerger,
    private readonly limits: WindowLimits,
  ) {
    this.topic = `room/${id}`;
    this.window = new RecoveryWindow(limits, '', Infinity, Infinity);
  }

  /** The items of one flush (replayed kinds, seq > 0: sent, or shed) join the window. */
  addAll(items: readonly WindowItem[], now: number): void {
    if (items.length === 0) return;
    this.window.addAll(items, now);
    for (const item of items) {
      this.sentDuringRead?.push(item);
      this.owed?.sent.add(item.seq);
      if (item.seq > this.lastSeq) this.lastSeq = item.seq;
    }
    this.changed();
  }

  /** A read of the store's window starts: items sent from now on are kept aside for it. */
  readStarted(): void {
    this.sentDuringRead = [];
  }

  /** The read failed: the room keeps what it has and joins claim nothing until a read succeeds. */
  readFailed(): void {
    this.sentDuringRead = null;
    this.windowRead = false;
    this.changed();
  }

  /**
   * The read succeeded: the store's window, plus what was sent since the read started, becomes
   * the room's. The epoch changed from the one of an earlier read when the store lost the room.
   */
  readDone(snap: RoomWindowSnapshot, now: number): WindowRead {
    const reset = this.window.epoch !== '' && snap.epoch !== this.window.epoch;
    const w = new RecoveryWindow(this.limits, snap.epoch, snap.floor, snap.keepFloor);
    for (const it of snap.items) w.add(it, now);
    const sent = new Set<number>();
    for (const it of this.sentDuringRead ?? []) {
      w.add(it, now);
      sent.add(it.seq);
    }
    this.window = w;
    this.sentDuringRead = null;
    this.windowRead = true;
    this.epochConfirmedAt = now;
    // The numbering restarted with a new epoch: JOINED.seq follows the new one. It covers the
    // floors too: in a quiet room whose items all aged out, a client that resumes from
    // JOINED.seq (the floor) missed nothing and is told so.
    if (reset) this.lastSeq = 0;
    this.lastSeq = Math.max(this.lastSeq, w.lastSeq);
    this.changed();
    return { reset, sent };
  }

  /** The epoch joiners are told: '' while the window is not the store's. */
  get epoch(): string {
    return this.windowRead ? this.window.epoch : '';
  }

  setOnline(n: number): void {
    if (n !== this.online) this.joinedBody = null;
    this.online = n;
  }

  /**
   * The plain JOINED reply; its body is cached until the window or the count changes. The
   * count is at least the members this gateway has (the joiner included): the aggregated one
   * lags by up to an online interval, and "0 online" to someone who is in the room is wrong.
   */
  joinedFrame(rid: number, opts: JoinedOptions, now: number): Buffer {
    const online = Math.max(this.online, this.members);
    const entry = this.plainReplay(opts, now);
    if (this.joinedBody === null || this.joinedOnline !== online || this.joinedSeq !== this.lastSeq) {
      // During a join storm the count changes with every join: only the small head is encoded
      // again, the replay's bytes are kept.
      this.joinedOnline = online;
      this.joinedSeq = this.lastSeq;
      this.joinedBody = encodeBodyWithEntry({ room: this.id, online, seq: this.lastSeq, epoch: this.epoch }, entry);
    }
    return encodeFrameWithBody(Op.Joined, rid, this.joinedBody);
  }

  /**
   * The JOINED reply to a client that holds the room up to `since` in `epoch`: built per
   * request (few clients resume at once, and each asks for a different part of the window).
   */
  resumeFrame(rid: number, resume: Resume, opts: JoinedOptions, now: number): ResumeReply {
    const w = this.window;
    w.trim(now); // the floors as of now: items may have aged out since the last add
    if (w.floor !== this.resumesFloor || w.keepFloor !== this.resumesKeepFloor) {
      this.resumes.clear();
      this.resumesFloor = w.floor;
      this.resumesKeepFloor = w.keepFloor;
    }
    const online = Math.max(this.online, this.members);
    const cached = resume.epoch === this.epoch ? this.resumes.get(resume.since) : undefined;
    if (cached !== undefined) {
      const head = { room: this.id, online, seq: this.lastSeq, epoch: this.epoch, recovered: cached.result === 'recovered', kept: cached.result === 'recovered' || cached.result === 'kept' };
      return { frame: encodeFrameWithBody(Op.Joined, rid, encodeBodyWithEntry(head, cached.entry)), result: cached.result, items: cached.items, replayed: cached.replayed };
    }
    let result: RoomRecovery;
    let replay: WindowItem[] | null = null;
    if (!this.windowRead) result = 'unavailable';
    else if (resume.epoch !== w.epoch) result = 'epoch_changed';
    else if (resume.since >= w.floor) {
      result = 'recovered';
      replay = w.after(resume.since, opts.marginMs, now);
    } else if (resume.since >= w.keepFloor) {
      result = 'kept';
      replay = withKept(w.recent(opts.replaySize, now), w.keptAfter(resume.since, now));
    } else result = 'partial';
    const recovered = result === 'recovered';
    const kept = recovered || result === 'kept';
    const head = { room: this.id, online, seq: this.lastSeq, epoch: this.epoch, recovered, kept };
    const entry = replay === null ? this.plainReplay(opts, now) : encodeItemsEntry('replay', replay.map((r) => r.data));
    const matched = result !== 'unavailable' && result !== 'epoch_changed';
    const items = matched ? countAfter(replay ?? w.recent(opts.replaySize, now), resume.since) : null;
    const replayed = replay?.length ?? Math.min(opts.replaySize, w.size);
    if (matched) {
      // Bounded: a storm's resumes share a few sinces; beyond that the oldest goes.
      if (this.resumes.size >= RESUME_CACHE_MAX) this.resumes.delete(this.resumes.keys().next().value!);
      this.resumes.set(resume.since, { result, entry, items, replayed });
    }
    return { frame: encodeFrameWithBody(Op.Joined, rid, encodeBodyWithEntry(head, entry)), result, items, replayed };
  }

  /**
   * The unsolicited JOINED (rid 0) that tells the members a reset of the room's numbering: the
   * new epoch, `recovered: false`, and the plain replay of the new numbering. Clients forget
   * the seqs they hold: without it they would drop the new s = 1, 2, ... as duplicates.
   */
  resetFrame(opts: JoinedOptions, now: number): Buffer {
    const online = Math.max(this.online, this.members);
    const head = { room: this.id, online, seq: this.lastSeq, epoch: this.epoch, recovered: false, kept: false };
    return encodeFrameWithBody(Op.Joined, 0, encodeBodyWithEntry(head, this.plainReplay(opts, now)));
  }

  /** The encoded plain replay: the window's last REPLAY_SIZE items, rebuilt when it changed. */
  private plainReplay(opts: JoinedOptions, now: number): Buffer {
    // An age trim changes the window without an add: it shows in the floors.
    const w = this.window;
    w.trim(now);
    if (this.replayEntry === null || w.floor !== this.replayFloor || w.keepFloor !== this.replayKeepFloor) {
      this.replayEntry = encodeItemsEntry('replay', w.recent(opts.replaySize, now).map((r) => r.data));
      this.replayFloor = w.floor;
      this.replayKeepFloor = w.keepFloor;
      this.joinedBody = null;
    }
    return this.replayEntry;
  }

  private changed(): void {
    this.joinedBody = null;
    this.replayEntry = null;
    this.resumes.clear();
  }
}

/** Resume replies kept per room (by `since`) while its window is unchanged. */
const RESUME_CACHE_MAX = 16;

interface CachedResume {
  readonly result: RoomRecovery;
  readonly entry: Buffer;
  readonly items: number | null;
  readonly replayed: number;
}

/** The plain replay and the held never-shed items after `since` (both by seq): merged, each seq once. */
function withKept(recent: readonly WindowItem[], kept: readonly WindowItem[]): WindowItem[] {
  const out: WindowItem[] = [];
  let i = 0;
  let j = 0;
  while (i < recent.length || j < kept.length) {
    const a = recent[i];
    const b = kept[j];
    if (b === undefined || (a !== undefined && a.seq < b.seq)) out.push(recent[i++]!);
    else if (a === undefined || b.seq < a.seq) out.push(kept[j++]!);
    else {
      out.push(a);
      i++;
      j++;
    }
  }
  return out;
}

function countAfter(items: readonly WindowItem[], since: number): number {
  let n = 0;
  for (const it of items) if (it.seq > since) n++;
  return n;
}
