// Resuming a room after a reconnect, as the client contract asks (docs/protocol.md, JOIN
// `since`/`epoch` and JOINED `recovered`/`kept`): a viewer keeps, for its room, the epoch the
// last JOINED gave and the highest seq it holds; on a new connection it JOINs with both, and the
// server either replays everything after `since` (recovered), every never-shed item but not all
// danmaku (kept), or only the recent items (neither). A server without recovery (an older one,
// the baseline) sends no epoch: the viewer then rejoins plainly, and the outcome is `unsupported`.
// Pure functions, so that the worker's bookkeeping can be tested without sockets.

/** Where a viewer stands in its room. */
export interface RoomPosition {
  /** the room's epoch from the last JOINED; null: the server gave none */
  epoch: string | null;
  /** the highest seq held: JOINED.seq at the first join, then every item seen */
  lastSeq: number;
  /**
   * JOINED.seq of the viewer's first join of the room: items at or below it came before the
   * viewer did, so a replay's margin items down there are not something it missed.
   */
  joinSeq: number;
}

/**
 * recovered: every item after `since`; kept: every gift and notice, not every danmaku; lost:
 * neither; epoch_changed: the room's numbering restarted; unavailable: the gateway could not read
 * the room's window (JOINED epoch ''); unsupported: no `recovered` in the JOINED (nothing asked,
 * or a server without recovery).
 */
export type ResumeOutcome = 'recovered' | 'kept' | 'lost' | 'epoch_changed' | 'unavailable' | 'unsupported';

/** The body of a (re)JOIN: with `since` and `epoch` when the viewer has a position with an epoch. */
export function joinBody(room: string, pos: RoomPosition | null): { room: string; since?: number; epoch?: string } {
  if (!pos || pos.epoch === null || pos.epoch === '') return { room };
  return { room, since: pos.lastSeq, epoch: pos.epoch };
}

/** The JOINED fields resuming looks at (the replay is read apart). */
export interface JoinedBody {
  readonly seq?: unknown;
  readonly epoch?: unknown;
  readonly recovered?: unknown;
  readonly kept?: unknown;
}

/** What a JOINED answering a JOIN sent with `pos` (joinBody) says about what the viewer missed. */
export function outcomeOf(pos: RoomPosition | null, joined: JoinedBody): ResumeOutcome {
  const asked = joinBody('', pos).since !== undefined;
  if (!asked || typeof joined.recovered !== 'boolean') return 'unsupported';
  if (joined.recovered) return 'recovered';
  if (joined.kept === true) return 'kept';
  if (joined.epoch === '') return 'unavailable';
  return typeof joined.epoch === 'string' && joined.epoch !== pos!.epoch ? 'epoch_changed' : 'lost';
}

/** The position after a JOINED: a new room (or a new epoch) starts at its seq; a resume keeps what it held. */
export function positionAfter(pos: RoomPosition | null, joined: JoinedBody): RoomPosition {
  const seq = typeof joined.seq === 'number' && joined.seq > 0 ? joined.seq : 0;
  // '' : the gateway could not read the room's window; the epoch held is still the one to send.
  const epoch = typeof joined.epoch === 'string' && joined.epoch !== '' ? joined.epoch : (pos?.epoch ?? null);
  if (!pos) return { epoch, lastSeq: seq, joinSeq: seq };
  // A new epoch: the room's stored state was lost, so what was held says nothing any more.
  if (epoch !== null && pos.epoch !== null && epoch !== pos.epoch) return { epoch, lastSeq: seq, joinSeq: pos.joinSeq };
  return { epoch, lastSeq: Math.max(pos.lastSeq, seq), joinSeq: pos.joinSeq };
}

/** Backoff before reconnect attempt n (0-based): 100 ms doubling to 2 s, with up to 50% jitter. */
export function reconnectDelayMs(attempt: number, random = Math.random()): number {
  const base = Math.min(2000, 100 * 2 ** Math.min(attempt, 5));
  return Math.round(base * (1 + random / 2));
}
