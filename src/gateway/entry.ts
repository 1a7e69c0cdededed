// Load-aware entry: GET /entry on every gateway's WebSocket port answers with the live gateways
// weighted by load, read from their registry announcements (registry-agent.ts announces this
// one's on every heartbeat). A client picks one at random in proportion to its weight
// (docs/protocol.md, "Reconnecting"; the SDK's `entry` option), so new connections go where
// there is headroom, and none to a gateway that is full, overloaded or being drained.
//
// The answer is cached for ENTRY_CACHE_MS, its failure too: a flash crowd of clients asking at
// once costs the registry one read per gateway per second, whatever their number.

import { FailureLog } from '../failure-log.js';
import type { Logger } from '../log.js';
import type { EntryStatus } from '../metric-labels.js';
import type { GatewayLoad, Registry } from '../registry/index.js';
import { retryAfterSeconds } from './admission.js';

/** How long one registry read answers GET /entry. */
export const ENTRY_CACHE_MS = 1_000;

/** The highest weight: a gateway with all of its capacity free and no lag. */
export const MAX_WEIGHT = 1_000;

/** The lag at which a gateway's weight reaches 0 when ADMIT_MAX_LAG_MS is 0 (off). */
export const DEFAULT_LAG_LIMIT_MS = 200;

/** Without a cap, the connections at which a gateway's headroom has halved. */
export const UNCAPPED_HALF_CONNECTIONS = 1_000;

/**
 * A gateway's weight, an integer from 0 to MAX_WEIGHT: round(1000 * headroom * lagFactor).
 * headroom: the free share of MAX_CONNECTIONS, or without a cap 1 / (1 + connections / 1000);
 * lagFactor: 1 - lagMs / lagLimitMs, clamped to [0, 1]. Documented in docs/protocol.md
 * ("Reconnecting"): clients in other languages may recompute it.
 */
export function entryWeight(load: Pick<GatewayLoad, 'connections' | 'maxConnections' | 'lagMs'>, lagLimitMs: number): number {
  const connections = Math.max(0, load.connections);
  const headroom = load.maxConnections > 0 ? Math.max(0, 1 - connections / load.maxConnections) : 1 / (1 + connections / UNCAPPED_HALF_CONNECTIONS);
  const lagFactor = lagLimitMs > 0 ? Math.min(1, Math.max(0, 1 - Math.max(0, load.lagMs) / lagLimitMs)) : 1;
  return Math.round(MAX_WEIGHT * headroom * lagFactor);
}

/** L of the formula: ADMIT_MAX_LAG_MS (the lag at which admission refuses), or 200 ms when that is off. */
export function lagLimitMs(admitMaxLagMs: number): number {
  return admitMaxLagMs > 0 ? admitMaxLagMs : DEFAULT_LAG_LIMIT_MS;
}

/** One gateway of the answer. */
export interface EntryGateway {
  readonly id: string;
  readonly url: string;
  readonly weight: number;
  readonly connections: number;
  readonly maxConnections: number;
  /** whole ms */
  readonly lagMs: number;
}

/**
 * The gateways a client may be sent to, heaviest first (ties by id): open (admitting) and not
 * draining, with a weight above 0.
 */
export function entryList(loads: readonly GatewayLoad[], lagLimit: number): EntryGateway[] {
  const out: EntryGateway[] = [];
  for (const g of loads) {
    if (!g.open || g.draining) continue;
    const weight = entryWeight(g, lagLimit);
    if (weight <= 0) continue;
    out.push({ id: g.id, url: g.url, weight, connections: g.connections, maxConnections: g.maxConnections, lagMs: Math.round(g.lagMs) });
  }
  return out.sort((a, b) => b.weight - a.weight || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The URL clients use when PUBLIC_URL is not set: this host and the bound port (wss:// with TLS on). */
export function defaultPublicUrl(host: string, port: number, tls = false): string {
  const wildcard = host === '' || host === '0.0.0.0' || host === '::' || host === '[::]';
  const h = wildcard ? '127.0.0.1' : host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `${tls ? 'wss' : 'ws'}://${h}:${port}/`;
}

/** An answer, as the gateway writes it with uWS. */
export interface EntryAnswer {
  readonly code: EntryStatus;
  readonly status: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: string;
}

const COMMON: readonly (readonly [string, string])[] = [
  ['Content-Type', 'application/json; charset=utf-8'],
  // Every answer is current: neither the browser nor a proxy may keep one.
  ['Cache-Control', 'no-store'],
  // Pages of any origin read it (the SDK in a site's page, the gateway on another host).
  ['Access-Control-Allow-Origin', '*'],
  ['X-Content-Type-Options', 'nosniff'],
];

export interface EntryOptions {
  /** L of the weight formula (lagLimitMs(ADMIT_MAX_LAG_MS)) */
  readonly lagLimitMs: number;
  /** told to clients: how long they may reuse a list (the announcements' period, REGISTRY_HEARTBEAT_MS) */
  readonly refreshMs: number;
}

type Cached = { readonly ok: true; readonly body: string; readonly until: number } | { readonly ok: false; readonly until: number };

export class Entry {
  private cached: Cached | null = null;
  private reading: Promise<Cached> | null = null;
  private readonly failures: FailureLog;

  constructor(
    private readonly registry: Pick<Registry, 'gateways'>,
    private readonly opts: EntryOptions,
    log: Logger,
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {
    this.failures = new FailureLog(log, 'registry reads for GET /entry');
  }

  /** The answer from the cache, when it is fresh (no await: most requests of a crowd). */
  current(): EntryAnswer | null {
    const c = this.cached;
    return c && c.until > this.now() ? this.toAnswer(c) : null;
  }

  /** The answer, from the cache or one registry read shared by every request meanwhile. */
  async answer(): Promise<EntryAnswer> {
    const fresh = this.current();
    if (fresh) return fresh;
    this.reading ??= this.read().finally(() => (this.reading = null));
    return this.toAnswer(await this.reading);
  }

  private async read(): Promise<Cached> {
    let c: Cached;
    try {
      const gateways = entryList(await this.registry.gateways(), this.opts.lagLimitMs);
      c = { ok: true, body: JSON.stringify({ gateways, refreshMs: this.opts.refreshMs }), until: this.now() + ENTRY_CACHE_MS };
      this.failures.succeeded();
    } catch (err) {
      // Clients are told to come back (Retry-After) or to use their fallback URL.
      this.failures.failed(err);
      c = { ok: false, until: this.now() + ENTRY_CACHE_MS };
    }
    this.cached = c;
    return c;
  }

  private toAnswer(c: Cached): EntryAnswer {
    if (c.ok) return { code: 200, status: '200 OK', headers: COMMON, body: c.body };
    const retryAfter = retryAfterSeconds(this.random());
    return {
      code: 503,
      status: '503 Service Unavailable',
      headers: [...COMMON, ['Retry-After', String(retryAfter)]],
      body: JSON.stringify({ error: 'the gateway registry is unavailable: retry later, or connect to a known gateway URL', retryMs: retryAfter * 1000 }),
    };
  }
}
