// A room item's way out, the one rule for SEND (logic.ts) and the backend API (backend-api.ts):
// an item of a replayed kind that has a seq goes into the room's recovery window BEFORE it is
// published. Whatever a viewer may have been sent is then in the window: a gateway whose room
// subscription became active between the publish and its window read, a viewer resuming with
// `since` and a gateway refilling after a bus outage all find it. And an item is never
// published when the window could not take it: the sender is told to retry instead
// (docs/protocol.md, SEND: "the ACK of a replayed kind means stored for recovery").
//
// The sender's claim (its client id, or the API's key) is settled by the append itself, in the
// same atomic step: an item is in the window if and only if a retry is told `dup`. So an append
// that failed or timed out (Redis may still have run it) keeps the claim: a retry finds `dup`
// (stored) or `inFlight` until the claim lapses (not stored: then processed anew), never a
// second copy under another seq. And a retry told `dup` republishes the stored copy
// (Republisher): an item stored but never published (its process died, its publish failed)
// still reaches the viewers; gateways and clients de-duplicate by seq.

import type { RoomBus } from '../bus/index.js';
import { FailureLog } from '../failure-log.js';
import type { Logger } from '../log.js';
import type { KindSpec } from '../protocol/kinds.js';
import type { ReplicaConfirm, ReplicaTicket } from '../redis/replica-wait.js';
import type { ClaimSettle, RoomHistory } from '../store/history/index.js';

/** What every answer refused for want of replicas says (REDIS_WAIT_REPLICAS; docs/cluster.md quotes it). */
export const NOT_CONFIRMED = 'not confirmed by the Redis replicas';

/** Nothing was published or stored: the item needs a seq and has none. */
export class NotStoredError extends Error {
  override name = 'NotStoredError';
}

/**
 * The window append failed: the item (and its claim, settled with it) may or may not be stored
 * (a command timeout does not stop Redis running the script). Nothing was published; the claim
 * must be kept, not released, so that a retry with the same id cannot store a second copy.
 */
export class MaybeStoredError extends Error {
  override name = 'MaybeStoredError';
}

/**
 * The item is in the recovery window, but the bus refused it (its connection is closed): it
 * exists all the same (joiners and refills replay it), so a retry must get its first result.
 */
export class StoredNotPublishedError extends Error {
  override name = 'StoredNotPublishedError';
}

export interface OutgoingItem {
  readonly room: string;
  readonly kind: KindSpec;
  /** its seq in the room; 0: unsequenced (the sequence store was unavailable) */
  readonly seq: number;
  /** the encoded item (encodeItem) */
  readonly data: Uint8Array;
}

/**
 * Whether a kind may go out unsequenced. Never-shed kinds (gifts, notices) may not: without a
 * seq an item has no place in the recovery window, and a viewer who misses it live could never
 * get it back. Danmaku and likes keep flowing without Redis.
 */
function mayGoUnsequenced(kind: KindSpec): boolean {
  return kind.display !== 'keep';
}

/** Whether an item's acknowledgement waits for the Redis replicas (REDIS_WAIT_REPLICAS): the never-shed kinds. */
export function mustBeReplicated(kind: KindSpec): boolean {
  return kind.display === 'keep';
}

/** Whether an item goes into the recovery window (and settles its claim with the append). */
function isStored(kind: KindSpec, seq: number): boolean {
  return kind.replayed && seq > 0;
}

/**
 * Stores (replayed kinds with a seq, settling `settle`'s claim in the same step) then publishes.
 * Resolves true when the claim was settled with the append (the caller must not settle it
 * again: a later settle could only repeat it), false when the caller still has to.
 * Rejects with NotStoredError (nothing done), MaybeStoredError (the append failed: unknown,
 * nothing published) or StoredNotPublishedError (stored and settled, not handed to the bus).
 */
export async function storeThenPublish(history: RoomHistory, bus: RoomBus, item: OutgoingItem, settle?: ClaimSettle, replicas?: { readonly confirm: ReplicaConfirm; readonly ticket: ReplicaTicket } | null): Promise<boolean> {
  const { room, kind, seq, data } = item;
  if (seq === 0 && !mayGoUnsequenced(kind)) throw new NotStoredError(`a ${kind.name} needs a sequence number, and the sequence store is unavailable`);
  const stored = isStored(kind, seq);
  if (stored) {
    try {
      // t: when the item reached the window (its age for trimming and the resume margin), not
      // when the gateway received it: a stall before this point cannot age it out early.
      await history.append(room, { seq, t: Date.now(), keep: kind.display === 'keep', data }, settle);
    } catch (err) {
      throw new MaybeStoredError(`the room's recovery window did not confirm the write (${(err as Error).message})`, { cause: err });
    }
    // REDIS_WAIT_REPLICAS: a never-shed item (gift, notice) is acknowledged only once the
    // replicas hold it, its claim and its seq, so that a failover cannot lose it. Not published
    // before: a retry is told dup (and republishes it) once they do, or, if a failover lost it,
    // is processed anew.
    if (replicas && mustBeReplicated(kind)) {
      try {
        // The ticket was taken when the intake answered (its seq and claim): a reconnection since
        // then refuses it, wherever the append went.
        await replicas.confirm.confirm(replicas.ticket);
      } catch (err) {
        throw new MaybeStoredError(`stored on the Redis primary, ${NOT_CONFIRMED} (${(err as Error).message})`, { cause: err });
      }
    }
  }
  try {
    bus.publish(room, data);
  } catch (err) {
    if (stored) throw new StoredNotPublishedError(`stored for recovery, but not published: ${(err as Error).message}`, { cause: err });
    throw err;
  }
  return stored && settle !== undefined;
}

/** How long a republished item is not published again, whatever the retries. */
const REPUBLISH_QUIET_MS = 2_000;
/** Items remembered as just republished, at most (the oldest go first). */
const REPUBLISH_MEMORY = 10_000;

/**
 * For a retry answered `dup`: publishes the stored copy of the item again, the exact bytes, if
 * the window holds it. The first attempt may have stored it and never published it; gateways
 * drop it for viewers that have it (their window holds the seq). Best effort: a failure is
 * logged, and the retry is answered all the same. An item is republished at most once per
 * REPUBLISH_QUIET_MS: a client repeating one id (a retry is not rate-limited: it takes no
 * token) cannot make every gateway of the room check it again and again.
 */
export class Republisher {
  /** `room|seq` -> when it was last republished, oldest first */
  private readonly recent = new Map<string, number>();
  private readonly failures: FailureLog;

  constructor(
    private readonly history: RoomHistory,
    private readonly bus: RoomBus,
    private readonly log: Logger,
  ) {
    this.failures = new FailureLog(log, 'republishing retried room items from the recovery window');
  }

  async republish(room: string, seq: number): Promise<void> {
    if (seq === 0) return;
    const now = performance.now();
    const key = `${room}|${seq}`;
    const last = this.recent.get(key);
    if (last !== undefined && now - last < REPUBLISH_QUIET_MS) return;
    this.recent.delete(key);
    this.recent.set(key, now);
    if (this.recent.size > REPUBLISH_MEMORY) this.recent.delete(this.recent.keys().next().value!);
    try {
      const data = await this.history.get(room, seq);
      if (data) this.bus.publish(room, data);
      this.log.debug({ room, seq, republished: data !== null }, data ? 'republished a retried room item from the recovery window' : 'a retried room item is no longer in the recovery window');
      this.failures.succeeded();
    } catch (err) {
      this.failures.failed(err, { room, seq });
    }
  }
}
