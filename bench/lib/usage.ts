// Server CPU time and memory: from /proc for the processes the harness started, from their
// Prometheus endpoints otherwise (prom-client's default process metrics). Either way summed
// over every process of the target, so that a deployment of several gateways is one figure.

import { readFileSync } from 'node:fs';
import { metricOf, scrape } from './prom.js';

export interface Usage {
  /** user + system CPU seconds so far */
  readonly cpu: number;
  readonly rss: number;
}

const TICK = 100; // USER_HZ on Linux

export function procUsage(pid: number): Usage | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpu = (Number(fields[11]) + Number(fields[12])) / TICK;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
    return { cpu, rss };
  } catch {
    return null; // the process is gone: no figure rather than a wrong one
  }
}

function sum(all: (Usage | null)[]): Usage | null {
  if (all.length === 0 || all.some((u) => u === null)) return null;
  return (all as Usage[]).reduce((a, b) => ({ cpu: a.cpu + b.cpu, rss: a.rss + b.rss }), { cpu: 0, rss: 0 });
}

/** Summed over the processes; null if any of them is gone. */
export function pidsUsage(pids: readonly number[]): Usage | null {
  return sum(pids.map(procUsage));
}

/** One process's usage from its /metrics; null when unreachable or without process metrics. */
export async function metricsUsage(url: string): Promise<Usage | null> {
  let text: string;
  try {
    text = await scrape(url);
  } catch {
    return null; // unreachable: the run goes on without server figures
  }
  const cpu = metricOf(text, 'process_cpu_seconds_total');
  const rss = metricOf(text, 'process_resident_memory_bytes');
  return cpu === null || rss === null ? null : { cpu, rss };
}

/**
 * Summed over several /metrics endpoints (one per gateway); null if any fails, so that a
 * difference of two readings never mixes a different set of processes.
 */
export async function urlsUsage(urls: readonly string[]): Promise<Usage | null> {
  return sum(await Promise.all(urls.map(metricsUsage)));
}
