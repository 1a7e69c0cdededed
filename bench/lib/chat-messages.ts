// What the chat scenario's main thread and its load-generator threads (chat-worker.ts) tell each
// other: the users a thread plays, the commands it takes, and what it reports. Types only, so
// that the main thread's modules need not load the worker's code.

import type { EncodedHistogram } from './histogram.js';

/**
 * One member of one group. `online`: connected from the start, sends MSG and receives the
 * group's MESSAGEs live. `probe`: an online member that also polls SYNC, for the storage lag by
 * sampling and a check of an online member's inbox. `offline`: connects during the run (with
 * `since=0`) and syncs its whole inbox, then keeps syncing.
 */
export interface ChatUserSpec {
  readonly uid: string;
  readonly token: string;
  readonly group: string;
  readonly role: 'online' | 'probe' | 'offline';
  readonly sender: boolean;
}

export interface ChatWorkerInit {
  readonly worker: number;
  /** the run's prefix for client message ids */
  readonly run: string;
  readonly urls: readonly string[];
  readonly addresses: readonly string[];
  readonly users: readonly ChatUserSpec[];
  /** a MSG unanswered this long counts as timed out */
  readonly replyTimeoutMs: number;
  /** probes SYNC this long after an INBOX reply that said no more */
  readonly probePollMs: number;
  /** offline members, once caught up, SYNC this often (0: never; they read live, and the final check syncs the rest) */
  readonly syncPollMs: number;
  readonly text: string;
  /**
   * MESSAGE ids are acknowledged with RECEIVED, batched: the first id waits this long (0: to the
   * end of the event-loop turn) for the others. null: never acknowledged (a client of before
   * push ACKs; the server resends, unless PUSH_RESENDS=0)
   */
  readonly ackDelayMs: number | null;
}

export type ToChatWorker =
  /** opens the online members' and probes' connections over rampMs */
  | { type: 'connect'; rampMs: number }
  /** MSGs per second per sender (0: stop) */
  | { type: 'send'; perSender: number }
  /** connects the offline members, the i-th of n at from + i * spreadMs / n (epoch ms) */
  | { type: 'wake'; from: number; spreadMs: number }
  | { type: 'report' }
  /** what this thread's senders got acknowledged, per group */
  | { type: 'acked' }
  /** every inbox reader syncs until nothing more, then checks against `acked` */
  | { type: 'verify'; acked: Record<string, Uint8Array> }
  | { type: 'close' };

/** One reporting interval of one thread (levels marked as such). */
export interface ChatSnapshot {
  /** levels */
  connected: number;
  failed: number;
  closed: number;
  closeCodes: Record<string, number>;
  pendingAcks: number;
  /** offline members connected so far, and those of them holding their whole inbox once */
  woken: number;
  caughtUp: number;
  /** interval figures */
  offered: number;
  ack: EncodedHistogram;
  refused: Record<string, number>;
  timeouts: number;
  late: number;
  /** live MESSAGEs received (first sight), their delay from the message's `t`, and live duplicates */
  live: number;
  liveDelay: EncodedHistogram;
  liveDuplicates: number;
  /** MESSAGEs received again with the id they had: resends of unacknowledged pushes */
  liveResent: number;
  /** RECEIVED frames sent, the ids in them, and their bytes (the WebSocket payload) */
  ackFrames: number;
  ackIds: number;
  ackBytes: number;
  /** inbox messages received (push and SYNC), and duplicates among them (per user) */
  inboxMessages: number;
  inboxDuplicates: number;
  inboxFrames: number;
  /** ERRORs answering a SYNC or the connect push, by code */
  syncErrors: Record<string, number>;
  /** probes: from a message's `t` to its first sight in the probe's SYNC */
  probeLag: EncodedHistogram;
  /** offline members: from opening the connection to the first INBOX saying no more, and the messages held then */
  catchUp: EncodedHistogram;
  catchUpMessages: number;
  /** a (group, seq) seen with two different ids: would mean one seq given twice */
  idConflicts: number;
  /** messages with seq 0 (unsequenced) received */
  unsequenced: number;
  unread: number;
}

/** One thread's part of the final check. */
export interface ChatVerifyPart {
  /** inbox readers checked (offline members and probes whose connection stayed open) */
  inboxUsers: number;
  /** (user, acknowledged message) pairs missing from the user's inbox stream */
  inboxMissing: number;
  /** users with at least one missing */
  inboxUsersMissing: number;
  /** messages in an inbox that no ACK covered (a timed-out MSG that was stored all the same) */
  inboxUnacknowledged: number;
  /** acknowledged messages expected, summed over the inbox users */
  inboxExpected: number;
  /** online members checked live, and (user, message) pairs they missed live */
  liveUsers: number;
  liveMissing: number;
  liveExpected: number;
  /** connections the server closed (not checked) */
  closedUsers: number;
  /** inbox readers whose final sync failed (an ERROR, e.g. out_of_retention) */
  syncFailed: number;
  /** an example, for the report */
  example: string | null;
}
