// Turns single calls into batched ones: calls made during one turn of the event loop are run
// as one batch (or a few, each within a count and a weight), so that N messages handled together cost one
// Redis round trip or one bus request, not N. Each caller still gets its own result or the
// batch's error.

interface Waiting<I, O> {
  readonly input: I;
  readonly resolve: (o: O) => void;
  readonly reject: (err: unknown) => void;
}

export interface CoalescerLimits<I> {
  /** inputs per batch */
  readonly max: number;
  /** a batch's total weight (e.g. bytes) at most this, unless a single input weighs more */
  readonly maxWeight?: number;
  readonly weight?: (input: I) => number;
}

export class Coalescer<I, O> {
  private queue: Waiting<I, O>[] = [];
  private scheduled = false;
  private readonly limits: CoalescerLimits<I>;

  constructor(
    /** runs one batch; answers one output per input, in order (else every caller is refused) */
    private readonly run: (inputs: I[]) => Promise<O[]>,
    limits: number | CoalescerLimits<I>,
  ) {
    this.limits = typeof limits === 'number' ? { max: limits } : limits;
  }

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
    const { max, maxWeight, weight } = this.limits;
    const weigh = weight ? (w: Waiting<I, O>) => weight(w.input) : undefined;
    for (const batch of batchesOf(all, max, maxWeight, weigh)) this.runBatch(batch);
  }

  private runBatch(batch: Waiting<I, O>[]): void {
    let running: Promise<O[]>;
    try {
      running = this.run(batch.map((w) => w.input));
    } catch (err) {
      running = Promise.reject(err);
    }
    running.then(
      (outs) => {
        if (outs.length !== batch.length) {
          const err = new Error(`a batch of ${batch.length} answered ${outs.length} results`);
          for (const w of batch) w.reject(err);
          return;
        }
        for (let j = 0; j < batch.length; j++) batch[j]!.resolve(outs[j]!);
      },
      (err: unknown) => {
        for (const w of batch) w.reject(err);
      },
    );
  }
}

/**
 * Splits `list`, in order, into runs of at most `max` elements and, when given, at most
 * `maxWeight` in total weight (a single element heavier than that makes a run of its own).
 */
export function batchesOf<T>(list: readonly T[], max: number, maxWeight?: number, weight?: (x: T) => number): T[][] {
  if (list.length <= max && maxWeight === undefined) return [list.slice()];
  const out: T[][] = [];
  let run: T[] = [];
  let load = 0;
  for (const x of list) {
    const w = maxWeight !== undefined && weight ? weight(x) : 0;
    if (run.length > 0 && (run.length >= max || (maxWeight !== undefined && load + w > maxWeight))) {
      out.push(run);
      run = [];
      load = 0;
    }
    run.push(x);
    load += w;
  }
  if (run.length > 0) out.push(run);
  return out;
}
