// Online counts in this process's memory (standalone mode): one report per gateway, so the
// map is as large as the number of gateways; lapsed reports are dropped when totals are read.

import type { PresenceCounts } from './index.js';

interface Report {
  readonly counts: ReadonlyMap<string, number>;
  readonly expires: number;
}

export class MemoryPresenceCounts implements PresenceCounts {
  private readonly reports = new Map<string, Report>();

  async report(gatewayId: string, counts: ReadonlyMap<string, number>, ttlMs: number): Promise<void> {
    this.reports.set(gatewayId, { counts: new Map(counts), expires: Date.now() + ttlMs });
  }

  async totals(rooms: readonly string[]): Promise<Map<string, number>> {
    const now = Date.now();
    const out = new Map<string, number>(rooms.map((r) => [r, 0]));
    for (const [gw, rep] of this.reports) {
      if (rep.expires <= now) {
        this.reports.delete(gw);
        continue;
      }
      for (const r of rooms) {
        const n = rep.counts.get(r);
        if (n) out.set(r, (out.get(r) ?? 0) + n);
      }
    }
    return out;
  }
}
