// What the client keeps of each room it was in (docs/protocol.md, "Resuming a room" and
// "Delivery guarantees"): the room's epoch, the `since` of the next resume
// (max(highest s shown, JOINED.seq)), a bounded set of recent seqs to drop copies by, and the
// `since` of a resume the server could not answer (epoch ''), kept until one is answered.
// Kept for the last 16 rooms, so that switching back resumes the room instead of showing its
// replay again. Pure: the client feeds it JOINED and BATCH items and shows what it lets through.

import { RecentSet } from './recent.js';
import type { JoinInfo, RoomItem } from './types.js';

/** Seqs remembered for de-duplication: well over a minute of a room at its display cap. */
const SEEN_MAX = 8192;
/** Items remembered by (s, t, u), for the replay of a JOINED with rid 0. */
const RECENT_MAX = 512;
/** Rooms whose state is kept (the least recently joined is forgotten first). */
const ROOMS_MAX = 16;

export interface JoinBody {
  room: string;
  since?: number;
  epoch?: string;
}

const itemKey = (it: RoomItem) => `${it.s}|${it.t}|${it.u}`;

export class RoomState {
  /** the epoch of the last JOINED that carried one */
  epoch: string | null = null;
  /** max(highest s shown, JOINED.seq) in this epoch */
  lastSeq = 0;
  /** a resume answered with epoch '': its since, until a JOINED with an epoch */
  holeSince: number | null = null;
  /** JOINs sent again since the last JOINED with an epoch (the backoff of asking again) */
  asked = 0;
  readonly seen = new RecentSet<number>(SEEN_MAX);
  private readonly recent = new RecentSet<string>(RECENT_MAX);

  constructor(readonly room: string) {}

  /** The JOIN to send: a resume once an epoch is known, else a plain join. */
  joinBody(): JoinBody {
    if (this.epoch === null) return { room: this.room };
    return { room: this.room, since: this.holeSince ?? this.lastSeq, epoch: this.epoch };
  }

  /** No JOINED with an epoch answered the last JOIN (epoch ''): JOIN again (with backoff). */
  get unanswered(): boolean {
    return this.epoch === null || this.holeSince !== null;
  }

  /** Records an item; false when its seq was shown already in this epoch (s 0 is never a copy). */
  take(it: RoomItem): boolean {
    const s = it.s;
    if (typeof s === 'number' && s > 0) {
      if (!this.seen.add(s)) return false;
      if (s > this.lastSeq) this.lastSeq = s;
      this.recent.add(itemKey(it));
    }
    return true;
  }

  /**
   * Applies a JOINED (`since`: what the JOIN asked to resume from; `unsolicited`: rid 0, the
   * room's numbering restarted). Returns what to tell the application and the replay items it
   * does not hold yet, in order.
   */
  joined(body: Record<string, unknown>, since: number | undefined, unsolicited: boolean): { info: JoinInfo; fresh: RoomItem[] } {
    const epoch = typeof body.epoch === 'string' && body.epoch !== '' ? body.epoch : null;
    const reset = unsolicited || (epoch !== null && this.epoch !== null && epoch !== this.epoch);
    // Items of the new numbering that arrived just before an unsolicited JOINED come again in
    // its replay: the same item has the same s, t and sender.
    const before = unsolicited ? this.recent : null;
    if (reset) {
      this.seen.clear();
      this.lastSeq = 0;
      this.holeSince = null;
    }
    if (epoch !== null) this.epoch = epoch;
    const replay = Array.isArray(body.replay) ? (body.replay as RoomItem[]) : [];
    const fresh: RoomItem[] = [];
    for (const it of replay) {
      if (before?.has(itemKey(it))) {
        if (it.s > 0) this.seen.add(it.s);
      } else if (this.take(it)) fresh.push(it);
    }
    const seq = typeof body.seq === 'number' ? body.seq : 0;
    if (epoch !== null && seq > this.lastSeq) this.lastSeq = seq;
    if (since !== undefined) {
      // epoch '': the gateway could not read the window; this resume answered nothing.
      if (epoch === null) this.holeSince ??= since;
      else this.holeSince = null;
    }
    if (epoch !== null) this.asked = 0;
    const info: JoinInfo = {
      room: this.room,
      online: typeof body.online === 'number' ? body.online : 0,
      seq,
      epoch: typeof body.epoch === 'string' ? body.epoch : '',
      resumed: since !== undefined,
      reset,
      replayed: fresh.length,
    };
    if (since !== undefined) {
      info.recovered = body.recovered === true;
      info.kept = body.kept === true;
    }
    return { info, fresh };
  }
}

/** The state of the last ROOMS_MAX rooms joined. */
export class RoomStates {
  private readonly map = new Map<string, RoomState>();

  /** The room's state (new if it was not kept), now the most recently used. */
  take(room: string): RoomState {
    const st = this.map.get(room) ?? new RoomState(room);
    this.map.delete(room);
    this.map.set(room, st);
    if (this.map.size > ROOMS_MAX) this.map.delete(this.map.keys().next().value as string);
    return st;
  }
}
