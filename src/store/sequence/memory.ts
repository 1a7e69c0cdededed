// Sequence numbers in this process's memory (standalone mode), bounded: a scope's counter is
// forgotten after idling as long as a room's replay window (HISTORY_IDLE_MS), and beyond
// `maxScopes` the least recently used counter goes first. Without the bound a long-running
// server with many short-lived rooms keeps a counter per room for ever.
//
// The rule that makes forgetting safe at any moment: the numbers of a scope never go back.
// This store cannot know who still holds a number (a member of the room, a client that left
// and will come back, the history window, a de-duplication record answering a retry), so it
// never relies on nobody holding one. Instead a forgotten counter leaves its value as a floor,
// and a scope without a counter starts above its floor: a room forgotten at 500 resumes at 501
// or more, never at 1. Floors are kept per hash bucket (a fixed array) rather than per scope,
// which bounds them; several buckets rather than one so that forgetting a busy room does not
// make every new scope start at that room's count. The cost is a gap (which the protocol
// allows), and a new scope may start above 1 once a scope of its bucket was forgotten.

import { HISTORY_IDLE_MS } from '../history/index.js';
import type { Sequencer } from './index.js';

export interface MemorySequencerOptions {
  /** counters kept at most; beyond it the least recently used one is forgotten */
  readonly maxScopes?: number;
  /** a counter unused for this long is forgotten */
  readonly idleMs?: number;
}

export const DEFAULT_MAX_SCOPES = 100_000;
const FLOOR_BUCKETS = 4096;

interface Counter {
  n: number;
  usedAt: number;
}

export class MemorySequencer implements Sequencer {
  /** scope -> counter, in the order of last use (Map order), least recent first */
  private readonly counters = new Map<string, Counter>();
  /** per bucket, the highest number of a forgotten counter */
  private readonly floors = new Float64Array(FLOOR_BUCKETS);
  private readonly maxScopes: number;
  private readonly idleMs: number;

  constructor(opts: MemorySequencerOptions = {}) {
    this.maxScopes = opts.maxScopes ?? DEFAULT_MAX_SCOPES;
    this.idleMs = opts.idleMs ?? HISTORY_IDLE_MS;
  }

  /** How many scopes have a counter (for tests of the bound). */
  get size(): number {
    return this.counters.size;
  }

  async next(scope: string): Promise<number> {
    const now = Date.now();
    let c = this.counters.get(scope);
    if (c) this.counters.delete(scope); // re-inserted below: the most recently used scope is last
    else c = { n: this.floors[bucket(scope)]!, usedAt: now };
    c.n += 1;
    c.usedAt = now;
    this.counters.set(scope, c);
    this.evict(now);
    return c.n;
  }

  async current(scope: string): Promise<number> {
    return this.counters.get(scope)?.n ?? this.floors[bucket(scope)]!;
  }

  /** Forgets counters from the least recently used while they are idle or over the cap. */
  private evict(at: number): void {
    for (const [scope, c] of this.counters) {
      if (this.counters.size <= this.maxScopes && at - c.usedAt < this.idleMs) return;
      this.counters.delete(scope);
      const b = bucket(scope);
      if (c.n > this.floors[b]!) this.floors[b] = c.n;
    }
  }
}

/** FNV-1a over the UTF-16 code units: stable and cheap; the spread need not be perfect. */
function bucket(scope: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < scope.length; i++) h = Math.imul(h ^ scope.charCodeAt(i), 0x01000193);
  return (h >>> 0) % FLOOR_BUCKETS;
}
