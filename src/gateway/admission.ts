// Who may open a WebSocket: decided once per upgrade request, before uWS upgrades it. In
// order: a draining gateway answers HTTP 503; so does one at its connection cap
// (MAX_CONNECTIONS) or overloaded (event-loop stalls over ADMIT_MAX_LAG_MS two seconds running, or outbound buffers
// over ADMIT_MAX_OUTBOUND_BYTES), so that new viewers are turned away before the ones already
// connected suffer; then the per-client limits: an Origin not in ALLOWED_ORIGINS gets 403, a
// client address over MAX_CONNECTIONS_PER_IP or IP_CONNECT_RATE gets 429 (ip-limits.ts); then the
// token decides the identity, or the close code of a connection that is refused (also 4505 for a
// user over MAX_CONNECTIONS_PER_USER). Every 503 and 429 carries a Retry-After.

import type * as uWS from 'uWebSockets.js';
import { guestIdentity, TokenError, type Identity, type TokenVerifier } from '../auth/token.js';
import type { UpgradeLimit, UpgradeRefusal } from '../metric-labels.js';
import { CloseCodes, type ErrorEntry } from '../protocol/errors.js';
import { IpLimits, OriginPolicy, type IpLimitOptions } from './ip-limits.js';

export interface AdmissionOptions extends AdmissionLimits, IpLimitOptions {
  readonly allowGuests: boolean;
  readonly maxTokenBytes: number;
  /** connections one user may hold on this gateway; 0: no limit */
  readonly maxConnectionsPerUser: number;
  /** ALLOWED_ORIGINS; empty: any */
  readonly allowedOrigins: readonly string[];
}

/** The thresholds of the overload refusals; 0 turns one off. */
export interface AdmissionLimits {
  /** open connections of this gateway at which further upgrades are refused */
  readonly maxConnections: number;
  /** recent event-loop lag (ms) above which upgrades are refused */
  readonly admitMaxLagMs: number;
  /** bytes waiting in all client send buffers (as the sweep last summed them) above which upgrades are refused */
  readonly admitMaxOutboundBytes: number;
}

/** The gateway's load, as admission sees it at an upgrade. */
export interface LoadSignals {
  readonly connections: number;
  readonly lagMs: number;
  readonly outboundBytes: number;
}

/** Retry-After of a refused upgrade: whole seconds, spread over this range so that retries do not come back together. */
export const RETRY_AFTER_MIN_S = 1;
export const RETRY_AFTER_MAX_S = 5;

/** Why a gateway that is not draining refuses a new connection now; null: it admits. */
export function overload(load: LoadSignals, limits: AdmissionLimits): Exclude<UpgradeRefusal, 'draining'> | null {
  if (limits.maxConnections > 0 && load.connections >= limits.maxConnections) return 'capacity';
  if (limits.admitMaxLagMs > 0 && load.lagMs > limits.admitMaxLagMs) return 'lag';
  if (limits.admitMaxOutboundBytes > 0 && load.outboundBytes > limits.admitMaxOutboundBytes) return 'outbound';
  return null;
}

/** `random` in [0, 1): a whole number of seconds from RETRY_AFTER_MIN_S to RETRY_AFTER_MAX_S. */
export function retryAfterSeconds(random: number): number {
  return RETRY_AFTER_MIN_S + Math.min(RETRY_AFTER_MAX_S - RETRY_AFTER_MIN_S, Math.floor(random * (RETRY_AFTER_MAX_S - RETRY_AFTER_MIN_S + 1)));
}

/** What admission looks at, read from the request inside the upgrade handler (uWS frees it after). */
export interface UpgradeRequest {
  /** the `token` query parameter, else an `Authorization: Bearer` header; '' when neither */
  readonly token: string;
  /** the `since` query parameter: the inbox cursor of the connect push, or `latest` ('' when absent: no push) */
  readonly since: string;
  /** the client's address (client-address.ts); '' when unknown (then no per-address limit applies) */
  readonly address: string;
  /** the Origin header; '' when absent */
  readonly origin: string;
}

export type Verdict =
  /** no WebSocket: answer the request with this HTTP status, Retry-After (seconds) and body */
  | { readonly upgrade: false; readonly limited: false; readonly reason: UpgradeRefusal; readonly status: string; readonly retryAfter: number; readonly body: string }
  /** no WebSocket, refused by a per-client limit (danmaku_upgrades_limited_total); retryAfter null: no Retry-After */
  | { readonly upgrade: false; readonly limited: true; readonly reason: Exclude<UpgradeLimit, 'user_connections'>; readonly status: string; readonly retryAfter: number | null; readonly body: string }
  /**
   * a WebSocket; `refuse` is the close code it gets right after opening (a refused token still
   * gets a WebSocket, so that a browser can read why: it cannot read a failed upgrade's status)
   */
  | { readonly upgrade: true; readonly identity: Identity; readonly refuse: ErrorEntry | null };

const REFUSALS: Readonly<Record<UpgradeRefusal, string>> = {
  draining: 'draining: connect to another gateway\n',
  capacity: 'capacity: this gateway is full; retry later or connect to another gateway\n',
  lag: 'overloaded (event-loop lag): retry later or connect to another gateway\n',
  outbound: 'overloaded (outbound buffers): retry later or connect to another gateway\n',
};

function refuse(reason: UpgradeRefusal, random: number): Verdict {
  return { upgrade: false, limited: false, reason, status: '503 Service Unavailable', retryAfter: retryAfterSeconds(random), body: REFUSALS[reason] };
}

const LIMITED: Readonly<Record<Exclude<UpgradeLimit, 'user_connections'>, string>> = {
  origin: 'origin not allowed\n',
  ip_connections: 'too many connections from this address; close one first\n',
  ip_rate: 'too many new connections from this address; retry later\n',
};

/** `address`: the client's, resolved by the caller from the socket peer and trusted proxies' headers. */
export function readUpgrade(req: uWS.HttpRequest, address: string): UpgradeRequest {
  const auth = req.getHeader('authorization');
  return { token: req.getQuery('token') || (auth.startsWith('Bearer ') ? auth.slice(7) : ''), since: req.getQuery('since') ?? '', address, origin: req.getHeader('origin') };
}

export class Admission {
  private closed = false;
  private readonly ipLimits: IpLimits;
  private readonly origins: OriginPolicy;

  constructor(
    private readonly verifier: TokenVerifier,
    private readonly opts: AdmissionOptions,
    /** the gateway's load now: read once per upgrade, so it must be cheap */
    private readonly load: () => LoadSignals,
    private readonly random: () => number = Math.random,
    /** the connections a user holds open on this gateway now (LocalUsers.count) */
    private readonly userConnections: (uid: string) => number = () => 0,
    private readonly now: () => number = Date.now,
  ) {
    this.ipLimits = new IpLimits(opts);
    this.origins = new OriginPolicy(opts.allowedOrigins);
  }

  /** From now on every upgrade is answered 503, so that clients go to another gateway. */
  drain(): void {
    this.closed = true;
  }

  /** Admits again (the admin API's undrain). */
  undrain(): void {
    this.closed = false;
  }

  get draining(): boolean {
    return this.closed;
  }

  /** Why a new connection would be refused now; null: it would be admitted (danmaku_admission_open). */
  refusal(): UpgradeRefusal | null {
    return this.closed ? 'draining' : overload(this.load(), this.opts);
  }

  /**
   * The verdict on one upgrade. An admitted one with a non-empty address is counted against it
   * until released(); a refused one is not.
   */
  admit(req: UpgradeRequest, connId: number): Verdict {
    const refused = this.refusal();
    if (refused) return refuse(refused, this.random());
    // Per-client limits, answered with an HTTP status before any token is verified.
    if (!this.origins.allows(req.origin)) return { upgrade: false, limited: true, reason: 'origin', status: '403 Forbidden', retryAfter: null, body: LIMITED.origin };
    if (req.address !== '' && this.ipLimits.enabled) {
      const limit = this.ipLimits.admit(req.address, this.now());
      if (limit) {
        const retryAfter = limit.retryAfter ?? retryAfterSeconds(this.random());
        return { upgrade: false, limited: true, reason: limit.reason, status: '429 Too Many Requests', retryAfter, body: LIMITED[limit.reason] };
      }
    }
    const who = identify(req.token, connId, this.verifier, this.opts);
    // The socket opens within this upgrade (uWS calls open() from res.upgrade()), so the count is exact.
    const max = this.opts.maxConnectionsPerUser;
    if (max > 0 && who.refuse === null && !who.identity.guest && this.userConnections(who.identity.uid) >= max) {
      return { upgrade: true, identity: who.identity, refuse: CloseCodes.UserConnections };
    }
    return { upgrade: true, ...who };
  }

  /** A connection admitted with this address has closed. */
  released(address: string): void {
    if (address !== '') this.ipLimits.closed(address);
  }

  /** the open connections counted against `address` (tests, diagnostics) */
  addressConnections(address: string): number {
    return this.ipLimits.connections(address);
  }
}

/**
 * Who a new connection is: a verified token's identity, or a guest. `refuse` is the close code
 * for a bad, expired or too long token, or a guest when guests are not allowed.
 */
function identify(token: string, connId: number, verifier: TokenVerifier, opts: AdmissionOptions): { identity: Identity; refuse: ErrorEntry | null } {
  if (!token) return { identity: guestIdentity(connId), refuse: opts.allowGuests ? null : CloseCodes.GuestsDisabled };
  if (Buffer.byteLength(token) > opts.maxTokenBytes) return { identity: guestIdentity(connId), refuse: CloseCodes.TokenTooLarge };
  try {
    return { identity: verifier.verify(token), refuse: null };
  } catch (err) {
    return { identity: guestIdentity(connId), refuse: err instanceof TokenError && err.expired ? CloseCodes.TokenExpired : CloseCodes.TokenInvalid };
  }
}
