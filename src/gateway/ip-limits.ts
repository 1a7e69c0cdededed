// Per-address limits at the upgrade, on this gateway: how many connections one client address
// holds open (MAX_CONNECTIONS_PER_IP, counted from the upgrade to the close) and how fast it may
// open new ones (a token bucket, IP_CONNECT_RATE per second with IP_CONNECT_BURST). Synchronous:
// the upgrade is answered in the same tick. Not cluster-wide: behind a balancer spreading one
// address over N gateways it may hold N times as many.
//
// An IPv6 client is limited by its /64 (limitKey): one host is usually given a whole /64, and
// keying on the /128 would let it open 2^64 addresses' worth of connections.
//
// Memory stays bounded under a flood of distinct addresses: the open counts hold only addresses
// with an open connection (bounded by the connections themselves); the buckets forget every
// address whose bucket has refilled (swept at most every SWEEP_MS, during an upgrade), and past
// MAX_BUCKETS addresses the oldest entries go first (a forgotten address starts with a full burst).

export interface IpLimitOptions {
  /** open connections per address; 0: no limit */
  readonly maxConnectionsPerIp: number;
  /** new connections per second per address; 0: no limit */
  readonly ipConnectRate: number;
  readonly ipConnectBurst: number;
}

/** `retryAfter`: whole seconds until a token for ip_rate; null for ip_connections (admission jitters it) */
export type IpRefusal = { readonly reason: 'ip_connections' | 'ip_rate'; readonly retryAfter: number | null };

/** Addresses whose connect buckets are kept at most (about 80 bytes each). */
export const MAX_BUCKETS = 100_000;
const SWEEP_MS = 10_000;

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * What the limits count an address under: an IPv4 address as it is, an IPv6 address by its /64
 * (`2001:db8:1:2::/64`). `addr` is normalised (client-address.ts: IPv4-mapped already dotted).
 */
export function limitKey(addr: string): string {
  if (!addr.includes(':')) return addr;
  const [head = '', tail] = addr.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

export class IpLimits {
  private readonly open = new Map<string, number>();
  private readonly buckets = new Map<string, Bucket>();
  private sweptAt = 0;

  constructor(
    private readonly opts: IpLimitOptions,
    private readonly maxBuckets = MAX_BUCKETS,
  ) {}

  get enabled(): boolean {
    return this.opts.maxConnectionsPerIp > 0 || this.opts.ipConnectRate > 0;
  }

  /**
   * Whether `addr` may open one more connection now; on null the connection is counted (and
   * must be released by closed()). The open count is checked first: a refusal for it takes no token.
   */
  admit(address: string, now: number): IpRefusal | null {
    const addr = limitKey(address);
    const max = this.opts.maxConnectionsPerIp;
    const held = this.open.get(addr) ?? 0;
    if (max > 0 && held >= max) return { reason: 'ip_connections', retryAfter: null };
    if (this.opts.ipConnectRate > 0) {
      const wait = this.take(addr, now);
      if (wait > 0) return { reason: 'ip_rate', retryAfter: Math.max(1, Math.ceil(wait / 1000)) };
    }
    if (max > 0) this.open.set(addr, held + 1);
    return null;
  }

  /** A connection admit() counted has closed. */
  closed(address: string): void {
    const addr = limitKey(address);
    const held = this.open.get(addr);
    if (held === undefined) return;
    if (held <= 1) this.open.delete(addr);
    else this.open.set(addr, held - 1);
  }

  /** open connections of `addr` as counted here */
  connections(address: string): number {
    return this.open.get(limitKey(address)) ?? 0;
  }

  /** addresses tracked: [with open connections, with a connect bucket] */
  get size(): [number, number] {
    return [this.open.size, this.buckets.size];
  }

  /** Takes a token; 0 when there was one, else the ms until there is. */
  private take(addr: string, now: number): number {
    const { ipConnectRate: rate, ipConnectBurst: burst } = this.opts;
    if (now - this.sweptAt >= SWEEP_MS) this.sweep(now);
    let b = this.buckets.get(addr);
    if (b === undefined) {
      if (this.buckets.size >= this.maxBuckets) this.buckets.delete(this.buckets.keys().next().value!);
      b = { tokens: burst, at: now };
      this.buckets.set(addr, b);
    } else {
      b.tokens = Math.min(burst, b.tokens + ((now - b.at) * rate) / 1000);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return ((1 - b.tokens) * 1000) / rate;
  }

  /** Forgets the buckets that have refilled: the same as a new one. */
  private sweep(now: number): void {
    this.sweptAt = now;
    const { ipConnectRate: rate, ipConnectBurst: burst } = this.opts;
    for (const [addr, b] of this.buckets) if (b.tokens + ((now - b.at) * rate) / 1000 >= burst) this.buckets.delete(addr);
  }
}

/**
 * ALLOWED_ORIGINS: exact origins (`https://a.example`) and wildcard subdomains
 * (`https://*.example.com`: any subdomain, not the bare domain). A request without Origin
 * (not a browser) is always allowed; an empty list allows every origin.
 */
export class OriginPolicy {
  private readonly exact = new Set<string>();
  /** [scheme://, .suffix] */
  private readonly wildcards: [string, string][] = [];

  constructor(patterns: readonly string[]) {
    for (const p of patterns) {
      // A browser's Origin leaves the scheme's default port out: so does the pattern.
      const lower = p.toLowerCase().replace(/^(https:\/\/[^/]*):443$/, '$1').replace(/^(http:\/\/[^/]*):80$/, '$1');
      const m = /^([a-z][a-z0-9+.-]*:\/\/)\*(\..+)$/.exec(lower);
      if (m) this.wildcards.push([m[1]!, m[2]!]);
      else this.exact.add(lower);
    }
  }

  get enabled(): boolean {
    return this.exact.size > 0 || this.wildcards.length > 0;
  }

  allows(origin: string): boolean {
    if (origin === '' || !this.enabled) return true;
    const o = origin.toLowerCase();
    if (this.exact.has(o)) return true;
    for (const [scheme, suffix] of this.wildcards) {
      if (!o.startsWith(scheme) || !o.endsWith(suffix)) continue;
      const sub = o.slice(scheme.length, o.length - suffix.length);
      if (/^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(sub)) return true;
    }
    return false;
  }
}

/** One ALLOWED_ORIGINS entry: a scheme, `://`, a host (or `*.` and a domain), an optional port; no path. */
export const ORIGIN_PATTERN = /^[a-z][a-z0-9+.-]*:\/\/(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(:\d{1,5})?$/i;
