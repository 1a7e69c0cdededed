// The `entry` option: before each connect, ask a gateway's GET /entry which gateways have room
// (docs/protocol.md, "Reconnecting") and pick one at random in proportion to its weight, so that
// clients spread by load; leave out the gateway the last connection failed on or was moved off
// when another is listed. The list is reused for the `refreshMs` it comes with. When it cannot
// be had (the fetch failed, timed out, or listed no gateway) the client uses its `url` list, or
// without one the last list it had, however old.

/** A gateway of the list, as the client uses it. */
export interface EntryGateway {
  readonly id: string;
  readonly url: string;
  readonly weight: number;
}

export interface EntryList {
  readonly gateways: readonly EntryGateway[];
  readonly refreshMs: number;
}

/** How long a fetch of the list may take before the client falls back to its `url`. */
export const ENTRY_TIMEOUT_MS = 3_000;
/** The list's lifetime when it says none, and how long a failed fetch is not tried again. */
export const ENTRY_REFRESH_MS = 5_000;
/** Bounds of the lifetime a list may ask for. */
const REFRESH_MIN_MS = 1_000;
const REFRESH_MAX_MS = 300_000;

type Fetch = (url: string, init: { signal: AbortSignal }) => Promise<{ ok: boolean; status: number; json(): Promise<unknown> }>;

/** The list in a GET /entry answer; null when the body is not one. Entries that are not usable are left out. */
export function readEntryList(body: unknown): EntryList | null {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { gateways?: unknown }).gateways)) return null;
  const b = body as { gateways: unknown[]; refreshMs?: unknown };
  const gateways: EntryGateway[] = [];
  for (const g of b.gateways) {
    if (typeof g !== 'object' || g === null) continue;
    const { id, url, weight } = g as Record<string, unknown>;
    if (typeof url !== 'string' || !/^wss?:\/\//i.test(url) || typeof weight !== 'number' || !(weight > 0) || !Number.isFinite(weight)) continue;
    gateways.push({ id: typeof id === 'string' ? id : url, url, weight });
  }
  const r = typeof b.refreshMs === 'number' && Number.isFinite(b.refreshMs) ? b.refreshMs : ENTRY_REFRESH_MS;
  return { gateways, refreshMs: Math.min(REFRESH_MAX_MS, Math.max(REFRESH_MIN_MS, r)) };
}

/**
 * A gateway drawn at random in proportion to its weight; `avoid` (an id) is left out unless
 * it is the only one. null for an empty list.
 */
export function pickGateway(gateways: readonly EntryGateway[], avoid: string | null, random: () => number = Math.random): EntryGateway | null {
  const others = gateways.filter((g) => g.id !== avoid);
  const from = others.length > 0 ? others : gateways;
  let total = 0;
  for (const g of from) total += g.weight;
  let r = random() * total;
  for (const g of from) {
    r -= g.weight;
    if (r < 0) return g;
  }
  // Rounding can leave r at 0 after the last one (Array.prototype.at is not in the SDK's browser floor).
  return from.length > 0 ? from[from.length - 1]! : null;
}

export class Entry {
  private list: EntryList | null = null;
  /** until when the list (or a failure to get one) stands, ms */
  private until = 0;
  /** the last fetch failed: the list, if any, is stale */
  private failed = false;
  /** the gateway of the last pick */
  private last: string | null = null;
  private avoid: string | null = null;
  /** why the last pick found no gateway */
  problem = '';

  constructor(
    private readonly url: string,
    private readonly fetchFn: Fetch = (u, init) => fetch(u, init),
    private readonly random: () => number = Math.random,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The URL of the gateway to connect to next: one from a current list, else `fallback` (the
   * `url` option), else one from the last list; null when there is none at all.
   */
  async pick(fallback: string | null): Promise<string | null> {
    if (this.now() >= this.until) await this.refresh();
    this.last = null;
    if (this.failed && fallback !== null) return fallback;
    const g = this.list ? pickGateway(this.list.gateways, this.avoid, this.random) : null;
    if (!g) {
      if (!this.failed) this.problem = 'lists no gateway';
      return fallback;
    }
    this.last = g.id;
    return g.url;
  }

  /** The connection to the last pick failed or ended (it moved the client off): not that one next time, if there is another. */
  left(): void {
    // A connection to the fallback URL says nothing about the listed gateways: the one to
    // avoid stays the one last left from the list.
    if (this.last !== null) this.avoid = this.last;
  }

  private async refresh(): Promise<void> {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), ENTRY_TIMEOUT_MS);
    try {
      const res = await this.fetchFn(this.url, { signal: ctl.signal });
      if (!res.ok) throw new Error(`answered ${res.status}`);
      const list = readEntryList(await res.json());
      if (!list) throw new Error('answered something that is not a gateway list');
      this.list = list;
      this.failed = false;
      this.until = this.now() + list.refreshMs;
    } catch (err) {
      this.problem = ctl.signal.aborted ? `no answer within ${ENTRY_TIMEOUT_MS} ms` : err instanceof Error ? err.message : String(err);
      // Not asked again for a while: the fallback serves meanwhile, at once.
      this.failed = true;
      this.until = this.now() + ENTRY_REFRESH_MS;
    } finally {
      clearTimeout(timer);
    }
  }
}
