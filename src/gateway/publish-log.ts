// Which room frames a backpressure drop took with it. uWS (uws-pack 20.0.8) does not write what
// app.publish sends at once: it queues the frame for each subscriber and writes the queues at
// its next event-loop iteration, before polling for I/O (a frame of 16 KiB or more is written at
// once instead). For a subscriber whose buffer is over maxBackpressure it calls the `dropped`
// handler with the first frame that does not fit and discards the rest of that subscriber's
// queue without a call. So when a frame of a room is reported dropped for one of its members,
// that frame and every later frame of the room published before the write are lost for it.
// This log keeps each room's frames until their write is certainly past, so that the gateway can
// tell how many frames were lost and whether a never-shed item (a gift) was among them.
// test/unit/publish-log.test.ts checks this against uWS itself.

interface Published {
  readonly room: string;
  readonly frame: Uint8Array;
  /** never-shed items in it */
  readonly keep: number;
  /** the tick during which it was published */
  readonly tick: number;
}

/** What a reported drop took with it. */
export interface Lost {
  /** frames lost: the reported one and those behind it in the same write */
  readonly frames: number;
  /** never-shed items in those frames */
  readonly keep: number;
}

export class PublishLog {
  /** each room's frames, oldest first */
  private readonly rooms = new Map<string, Published[]>();
  /** every room's frames, oldest first (from `head`): what to let go of, at O(1) a frame */
  private order: Published[] = [];
  private head = 0;
  /** setImmediate callbacks run so far while frames were held */
  private tick = 0;
  private ticking = false;

  /** Call before handing `frame` to uWS: a frame of 16 KiB or more is reported dropped inside the publish call. */
  record(room: string, frame: Uint8Array, keep: number): void {
    let list = this.rooms.get(room);
    if (!list) this.rooms.set(room, (list = []));
    const p = { room, frame, keep, tick: this.tick };
    list.push(p);
    this.order.push(p);
    if (!this.ticking) {
      this.ticking = true;
      setImmediate(this.advance);
    }
  }

  /**
   * What was lost for a member of `room` whose frame `dropped` uWS reported; null when it is
   * none of the room's recent frames (a reply or a MESSAGE sent to the connection itself: uWS
   * drops such a frame alone).
   */
  lost(room: string, dropped: ArrayBuffer): Lost | null {
    const list = this.rooms.get(room);
    if (!list) return null;
    const bytes = Buffer.from(dropped);
    // The first match: of two identical frames (ONLINE with the same count) the earlier one
    // counts more as lost, never fewer.
    for (let i = 0; i < list.length; i++) {
      const p = list[i]!;
      if (p.frame.length !== bytes.length || !bytes.equals(p.frame)) continue;
      let keep = 0;
      for (let j = i; j < list.length; j++) keep += list[j]!.keep;
      return { frames: list.length - i, keep };
    }
    return null;
  }

  /** Frames held, over all rooms (tests). */
  get size(): number {
    return this.order.length - this.head;
  }

  /**
   * Node runs setImmediate callbacks after polling for I/O, and uWS writes its queues before
   * polling, so between two consecutive callbacks there is always one write: a frame
   * published before the previous callback has been written by the time this one runs.
   */
  private readonly advance = (): void => {
    this.tick++;
    const before = this.tick - 1;
    while (this.head < this.order.length && this.order[this.head]!.tick < before) {
      const p = this.order[this.head++]!;
      const list = this.rooms.get(p.room)!;
      list.shift(); // p: the oldest of its room too (a few frames: two turns' worth)
      if (list.length === 0) this.rooms.delete(p.room);
    }
    if (this.head === this.order.length) {
      this.order = [];
      this.head = 0;
      this.ticking = false;
      return;
    }
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
    setImmediate(this.advance);
  };
}
