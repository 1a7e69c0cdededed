// Faults the harness injects into a loopback cluster it started, during the measured window
// (`cluster --faults ...`), to measure what the client contract promises (docs/protocol.md,
// JOIN `since`): viewers that lose their gateway come back on another one and recover what
// they missed. Every process is one the harness started, killed by its PID.
//
// - kill-gateway: SIGKILL of one gateway (a crash: no drain, no close frames; its clients see
//   their TCP connections end). Its viewers reconnect to the remaining gateways with `since`.

import type { Target } from './target.js';

export const FAULTS = ['kill-gateway'] as const;
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
  throw new Error(`unknown fault ${String(fault)}`);
}
