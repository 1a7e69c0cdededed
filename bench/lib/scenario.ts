// What a scenario file provides, and helpers to build its connections.

import { createSigner } from 'fast-jwt';
import type { Options } from './options.js';
import type { Plan } from './run.js';
import type { Target } from './target.js';
import { senderUid, viewerUid } from './run-id.js';
import type { ConnSpec } from './worker-messages.js';

export interface Scenario {
  readonly name: string;
  readonly summary: string;
  readonly defaults?: Partial<Options>;
  /** The connections and rates of one run; `run` is its prefix (run-id.ts) for user ids. */
  plan(o: Options, run: string): Plan;
  /** Sets the target up before connections open (group-chat creates its groups). */
  prepare?(target: Target, o: Options, plan: Plan): Promise<void>;
}

/** HS256 tokens as a site's backend would mint them (docs/protocol.md, "Token"). */
export function tokens(secret: string): (uid: string) => string {
  const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: 3_600_000 });
  return (uid) => sign({ sub: uid, name: uid });
}

/** Room names r0..r(k-1). */
export function roomNames(k: number): string[] {
  return Array.from({ length: k }, (_, i) => `r${i}`);
}

/**
 * The room of viewer i of n: uniform round-robin, or Zipf (s = 1.1: a few hot rooms and a
 * long tail), deterministic so that the baseline gets exactly the same spread.
 */
export function roomOf(i: number, n: number, rooms: readonly string[], skew: 'uniform' | 'zipf'): string {
  if (skew === 'uniform') return rooms[i % rooms.length]!;
  const weights = rooms.map((_, k) => 1 / (k + 1) ** 1.1);
  const total = weights.reduce((a, b) => a + b, 0);
  const q = ((i + 0.5) / n) * total;
  let acc = 0;
  for (let k = 0; k < rooms.length; k++) {
    acc += weights[k]!;
    if (q <= acc) return rooms[k]!;
  }
  return rooms[rooms.length - 1]!;
}

/**
 * Viewers (guests unless `viewerTokens`) and one sender per room, senders last; user ids carry
 * the run's prefix so that no two runs share one.
 */
export function connsFor(run: string, viewers: readonly string[], senderRooms: readonly string[], token: (uid: string) => string, viewerTokens = false): ConnSpec[] {
  const out: ConnSpec[] = viewers.map((room, i) => {
    if (!viewerTokens) return { room };
    const uid = viewerUid(run, i);
    return { room, uid, token: token(uid) };
  });
  senderRooms.forEach((room, i) => {
    const uid = senderUid(run, i);
    out.push({ room, uid, token: token(uid), sender: true });
  });
  return out;
}
