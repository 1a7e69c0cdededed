// Faults the harness injects into a loopback cluster it started, during the measured window
// (`cluster --faults ...`), to measure what the client contract promises (docs/protocol.md,
// JOIN `since`): viewers that lose their gateway come back on another one and recover what
// they missed. Every process is one the harness started, killed by its PID.
//
// - kill-gateway: SIGKILL of one gateway (a crash: no drain, no close frames; its clients see
//   their TCP connections end). Its viewers reconnect to the remaining gateways with `since`.
// - drain-gateway: SIGTERM of the first gateway (`--drain`: it holds every viewer), which drains
//   (docs/cluster.md, "Draining a gateway": not ready, then GOAWAY and 1012 spread over its
//   DRAIN_WINDOW_MS) and exits; its viewers come back on the others after GOAWAY's delay, and
//   the report gives their reconnect rate over time (drain-report.ts).

import type { Target } from './target.js';

export const FAULTS = ['kill-gateway', 'drain-gateway'] as const;
export type FaultName = (typeof FAULTS)[number];

export interface FaultRecord {
  readonly fault: FaultName;
  /** the process hit, and its PID */
  readonly process: string;
  readonly pid: number | null;
  /** when (ms since the epoch), and seconds into the measured window */
  readonly at: number;
  readonly atS: number;
}

/** Whether a target can take the fault (a standalone server or the baseline cannot lose a gateway and keep serving). */
export function applies(target: Target, fault: FaultName): boolean {
  if (fault === 'kill-gateway') return target.processes.filter((p) => p.role === 'gateway' && p.alive() && p.kill).length >= 2;
  if (fault === 'drain-gateway') return target.processes.filter((p) => p.role === 'gateway' && p.alive() && p.signal).length >= 2;
  return false;
}

export async function inject(target: Target, fault: FaultName, atS: number): Promise<FaultRecord> {
  if (fault === 'kill-gateway') {
    const victim = target.processes.find((p) => p.role === 'gateway' && p.alive() && p.kill);
    if (!victim) throw new Error('kill-gateway: no running gateway to kill');
    // The victim's CPU up to the kill still counts in the window's usage: read it first.
    await target.usage();
    const at = Date.now();
    await victim.kill!();
    return { fault, process: victim.name, pid: victim.pid ?? null, at, atS };
  }
  if (fault === 'drain-gateway') {
    // The first gateway: the one the viewers were pinned to (urls[0]).
    const victim = target.processes.find((p) => p.role === 'gateway' && p.alive() && p.signal);
    if (!victim) throw new Error('drain-gateway: no running gateway to drain');
    const at = Date.now();
    victim.signal!('SIGTERM');
    return { fault, process: victim.name, pid: victim.pid ?? null, at, atS };
  }
  throw new Error(`unknown fault ${String(fault)}`);
}
