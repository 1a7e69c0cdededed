// Sequence numbers in this process's memory (standalone mode): a counter per scope.

import type { Sequencer } from './index.js';

export class MemorySequencer implements Sequencer {
  private readonly counters = new Map<string, number>();

  async next(scope: string): Promise<number> {
    const n = (this.counters.get(scope) ?? 0) + 1;
    this.counters.set(scope, n);
    return n;
  }
}
