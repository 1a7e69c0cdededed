// Turns single calls into batched ones: calls made during one turn of the event loop are run
// as one batch (or a few, of at most `max`), so that N messages handled together cost one
// Redis round trip or one bus request, not N. Each caller still gets its own result or the
// batch's error.

interface Waiting<I, O> {
  readonly input: I;
  readonly resolve: (o: O) => void;
  readonly reject: (err: unknown) => void;
}

export class Coalescer<I, O> {
  private queue: Waiting<I, O>[] = [];
  private scheduled = false;

  constructor(
    /** runs one batch; answers one output per input, in order */
    private readonly run: (inputs: I[]) => Promise<O[]>,
    private readonly max: number,
  ) {}

  call(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // After the I/O of this turn: every request read from the socket in it joins the batch.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const all = this.queue;
    this.queue = [];
    for (let i = 0; i < all.length; i += this.max) {
      const batch = all.slice(i, i + this.max);
      let running: Promise<O[]>;
      try {
        running = this.run(batch.map((w) => w.input));
      } catch (err) {
        running = Promise.reject(err);
      }
      running.then(
        (outs) => {
          for (let j = 0; j < batch.length; j++) batch[j]!.resolve(outs[j]!);
        },
        (err: unknown) => {
          for (const w of batch) w.reject(err);
        },
      );
    }
  }
}
