// Per-connection state kept in uWS user data, and the per-connection frame budget.

import type { Identity } from '../auth/token.js';
import type { ErrorEntry } from '../protocol/errors.js';
import type { LocalRoom } from './room-hub.js';

export interface ConnState {
  readonly id: number;
  /** replaced by a REFRESH (refresh.ts) with one of the same uid; otherwise kept for the connection's life */
  identity: Identity;
  /** set when the upgrade carried a bad token: the socket is closed right after open */
  readonly refuse: ErrorEntry | null;
  /** the client's address (client-address.ts), released from the per-address count at close; '' unknown */
  readonly address: string;
  /** false once the server decided to close it (nothing more is sent to it) or it closed */
  open: boolean;
  /** the close code it gets once its outbound buffer has room for the close frame (close.ts) */
  closing: ErrorEntry | null;
  closingSince: number;
  /** a frame sent right before the close frame (a drain's GOAWAY), or null */
  farewell: Uint8Array | null;
  room: LocalRoom | null;
  /** bumped by every join, switch and leave, so that a join that was waiting can tell it is stale */
  gen: number;
  lastSeen: number;
  tokens: number;
  tokensAt: number;
  rejected: number;
  rejectedSince: number;
  /** since when the outbound buffer has been over the soft limit (0: it is not) */
  overSince: number;
  /** why the server closed it, for the closed-connections metric */
  closeReason: string | null;
}

export function newConnState(id: number, identity: Identity, refuse: ErrorEntry | null, now: number, burst: number, address = ''): ConnState {
  return {
    id,
    identity,
    refuse,
    address,
    open: true,
    closing: null,
    closingSince: 0,
    farewell: null,
    room: null,
    gen: 0,
    lastSeen: now,
    tokens: burst,
    tokensAt: now,
    rejected: 0,
    rejectedSince: now,
    overSince: 0,
    closeReason: null,
  };
}

export interface FrameBudget {
  readonly rate: number;
  readonly burst: number;
  readonly closeAfter: number;
}

export type FrameVerdict = 'ok' | 'reject' | 'close';

const REJECT_WINDOW_MS = 10_000;

/** Token bucket per connection; too many rejections within ten seconds closes the connection. */
export function admitFrame(st: ConnState, budget: FrameBudget, now: number): FrameVerdict {
  st.tokens = Math.min(budget.burst, st.tokens + ((now - st.tokensAt) * budget.rate) / 1000);
  st.tokensAt = now;
  if (st.tokens >= 1) {
    st.tokens -= 1;
    return 'ok';
  }
  if (now - st.rejectedSince > REJECT_WINDOW_MS) {
    st.rejectedSince = now;
    st.rejected = 0;
  }
  st.rejected++;
  return st.rejected > budget.closeAfter ? 'close' : 'reject';
}

/** Items of a resume's replay that cost one more frame-budget token (docs/protocol.md, "Frame budget"). */
export const RESUME_ITEMS_PER_TOKEN = 100;

/**
 * Takes `n` more tokens for a frame that cost more than one to answer. The bucket may go
 * below zero: the frames that follow are refused until it has refilled past one.
 */
export function chargeFrames(st: ConnState, n: number): void {
  if (n > 0) st.tokens -= n;
}
