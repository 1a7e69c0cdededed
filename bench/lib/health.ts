// Did the target's processes live through a phase, and what happened to their connections to
// NATS and Redis meanwhile: whether each process still runs, and the differences of its
// connection counters (docs/metrics.md: danmaku_bus_events_total by event, Redis disconnects,
// store fallbacks, ERRORs sent by reason, frames and items dropped by reason: backpressure
// drops are how a slow client loses what was acknowledged) and the connection gauges at the end.

import { metricOf, parseSamples, scrape } from './prom.js';
import type { TargetProcess } from './target.js';

interface Counters {
  readonly busEvents: Record<string, number>;
  readonly errors: Record<string, number>;
  readonly dropped: Record<string, number>;
  readonly redisDisconnects: number;
  readonly storeFallbacks: number;
  readonly busConnected: number | null;
  readonly redisConnected: number | null;
}

export interface ProcessHealth {
  readonly name: string;
  readonly role: TargetProcess['role'];
  readonly alive: boolean;
  /** it serves /metrics, but did not answer (in 2 s) at the start or at the end: the figures below are null */
  readonly unreadable: boolean;
  /** between the two readings; null when /metrics did not answer at either */
  readonly busEvents: Record<string, number> | null;
  /** ERROR frames the process sent, by reason */
  readonly errors: Record<string, number> | null;
  /** frames not queued for a client socket (`frames backpressure`) and items dropped (`items shed`, ...), by reason */
  readonly dropped: Record<string, number> | null;
  readonly redisDisconnects: number | null;
  readonly storeFallbacks: number | null;
  /** at the end: 1 connected, 0 not, null unknown (or not a cluster process) */
  readonly busConnected: number | null;
  readonly redisConnected: number | null;
}

export type HealthReading = Map<string, Counters | null>;

function byLabel(text: string, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of parseSamples(text)) if (s.name === name && s.labels[label] !== undefined) out[s.labels[label]!] = (out[s.labels[label]!] ?? 0) + s.value;
  return out;
}

const prefixed = (prefix: string, r: Record<string, number>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [`${prefix} ${k}`, v]));

async function countersOf(p: TargetProcess): Promise<Counters | null> {
  if (!p.metricsUrl || !p.alive()) return null;
  let text: string;
  try {
    text = await scrape(p.metricsUrl, 2000);
  } catch {
    return null; // a wedged process: no figures rather than a wait
  }
  return {
    busEvents: byLabel(text, 'danmaku_bus_events_total', 'event'),
    errors: byLabel(text, 'danmaku_errors_total', 'reason'),
    dropped: {
      ...prefixed('frames', byLabel(text, 'danmaku_dropped_frames_total', 'reason')),
      ...prefixed('items', byLabel(text, 'danmaku_dropped_total', 'reason')),
    },
    redisDisconnects: metricOf(text, 'danmaku_redis_disconnects_total') ?? 0,
    storeFallbacks: metricOf(text, 'danmaku_store_fallbacks_total') ?? 0,
    busConnected: metricOf(text, 'danmaku_bus_connected'),
    redisConnected: metricOf(text, 'danmaku_redis_connected'),
  };
}

export async function readHealth(processes: readonly TargetProcess[]): Promise<HealthReading> {
  return new Map(await Promise.all(processes.map(async (p) => [p.name, await countersOf(p)] as const)));
}

function delta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(b).map(([k, v]): [string, number] => [k, v - (a[k] ?? 0)]).filter(([, v]) => v !== 0));
}

export function healthBetween(processes: readonly TargetProcess[], before: HealthReading, after: HealthReading): ProcessHealth[] {
  return processes.map((p) => {
    const a = before.get(p.name) ?? null;
    const b = after.get(p.name) ?? null;
    const both = a && b;
    return {
      name: p.name,
      role: p.role,
      alive: p.alive(),
      unreadable: p.metricsUrl !== null && !both,
      busEvents: both ? delta(a.busEvents, b.busEvents) : null,
      errors: both ? delta(a.errors, b.errors) : null,
      dropped: both ? delta(a.dropped, b.dropped) : null,
      redisDisconnects: both ? b.redisDisconnects - a.redisDisconnects : null,
      storeFallbacks: both ? b.storeFallbacks - a.storeFallbacks : null,
      busConnected: b?.busConnected ?? null,
      redisConnected: b?.redisConnected ?? null,
    };
  });
}
