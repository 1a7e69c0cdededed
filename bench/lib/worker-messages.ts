// What the main thread and the load-generator threads (worker.ts) tell each other: the
// connections a thread opens, the send plan, and the commands it takes. Types only, so that
// the main thread's modules need not load the worker's code.

import type { Acked, Sent } from './loss.js';

export interface ConnSpec {
  readonly room: string;
  /** the user id in `token` (none: a guest) */
  readonly uid?: string;
  readonly token?: string;
  readonly sender?: boolean;
}

export interface WorkerInit {
  readonly worker: number;
  /** the run's prefix for client message ids (run-id.ts) */
  readonly run: string;
  /** connection i goes to urls[i % urls.length] (several gateways) */
  readonly urls: readonly string[];
  readonly addresses: readonly string[];
  readonly conns: readonly ConnSpec[];
  readonly rampMs: number;
  /** a SEND unanswered this long counts as timed out (0: wait for ever) */
  readonly replyTimeoutMs?: number;
  /**
   * connections the server closes come back: a new connection (to the next URL) and a JOIN
   * with `since` and `epoch` (resume.ts), as the client contract asks
   */
  readonly resume?: boolean;
  /** coming back, JOIN plainly (no since), as a client of before room recovery would */
  readonly plainRejoin?: boolean;
  /** the viewers are members of chat groups (group-chat): coming back, they SYNC their inbox */
  readonly inbox?: boolean;
  /** connections offer permessage-deflate (--deflate); else they do not */
  readonly deflate?: boolean;
  /**
   * viewers all start on the first URL and senders on the last (--drain: the first gateway is
   * drained, and holds every viewer); else connection i starts on urls[i % urls.length]
   */
  readonly pinViewers?: boolean;
}

/** Per-sender rates, per second. */
export interface SendPlan {
  readonly danmaku: number;
  readonly likes: number;
  readonly gifts: number;
  /** send `danmaku` as MSG to the group named by the sender's room, instead of room items */
  readonly group?: boolean;
}

export type ToWorker =
  /** starts sending, or changes the rates of a thread already sending */
  | { type: 'send'; plan: SendPlan }
  | { type: 'stop' }
  | { type: 'switch'; perSecond: number; rooms: string[] }
  | { type: 'report' }
  | { type: 'finish'; expected: Sent }
  /** what this thread's senders got acknowledged, by seq; then the check against all threads' */
  | { type: 'acked' }
  | { type: 'verify'; acked: Acked }
  /** delivery by kind and by seq, viewers that stayed apart from those that resumed (loss.ts) */
  | { type: 'delivery'; acked: Acked; expected: Sent }
  | { type: 'close' };
