// RECEIVED for one connection (docs/protocol.md, "Acknowledging pushes"): the MESSAGE ids it
// received, batched as the reference client does: the first id waits `delayMs` for others
// (0: to the end of the event-loop turn), then one frame per 100 ids. Acknowledging costs a
// frame of the connection's budget, so batching is what keeps it cheap.

import { Packr } from 'msgpackr';
import { Op, RECEIVED_MAX_IDS } from './protocol.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

/** The frame that acknowledges `ids` (rid 0: RECEIVED has no reply). */
export function receivedFrame(ids: readonly string[]): Buffer {
  return packr.pack([Op.Received, 0, { ids }]);
}

export class ReceivedAcks {
  private ids: string[] = [];
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null;

  /** `send` gets each frame and the number of ids in it; it returns false when the connection is gone */
  constructor(
    private readonly delayMs: number,
    private readonly send: (frame: Buffer, ids: number) => boolean,
  ) {}

  add(id: string): void {
    this.ids.push(id);
    if (this.timer !== null) return;
    this.timer = this.delayMs > 0 ? setTimeout(() => this.flush(), this.delayMs) : setImmediate(() => this.flush());
  }

  /** Sends what is queued now. */
  flush(): void {
    this.clearTimer();
    const ids = this.ids;
    this.ids = [];
    for (let i = 0; i < ids.length; i += RECEIVED_MAX_IDS) {
      const chunk = ids.slice(i, i + RECEIVED_MAX_IDS);
      if (!this.send(receivedFrame(chunk), chunk.length)) return;
    }
  }

  /** Forgets what is queued (the connection closed: a new one acknowledges for itself). */
  cancel(): void {
    this.clearTimer();
    this.ids = [];
  }

  private clearTimer(): void {
    if (this.timer === null) return;
    if (this.delayMs > 0) clearTimeout(this.timer as NodeJS.Timeout);
    else clearImmediate(this.timer as NodeJS.Immediate);
    this.timer = null;
  }
}
