// The gateway's side of the upstream requests: SEND and MSG frames received during one turn of
// the event loop go to the logic service as one batch (one bus request, one reply), and the
// requests awaiting an answer are bounded. Past UPSTREAM_MAX_PENDING a frame is refused at
// once (ERROR 32 `overloaded`) instead of queueing behind work the logic service cannot take:
// a queue without a bound only grows until every request times out.

import type { RequestBus } from '../bus/index.js';
import { Coalescer } from '../coalesce.js';
import { decodeReplies, encodeRequests, MAX_BATCH_BYTES, MAX_BATCH_REQUESTS, replyWeight, type UpstreamReply, type UpstreamRequest } from '../logic/upstream.js';
import type { Metrics } from '../metrics.js';

/** A request and the size of the client frame it came in: its weight in a batch. */
interface Sized {
  readonly req: UpstreamRequest;
  readonly bytes: number;
}

/** What a request adds to its frame's size: sender, name, roles, room, time. */
const REQUEST_OVERHEAD = 256;

export interface UpstreamClientOptions {
  readonly timeoutMs: number;
  readonly maxPending: number;
}

export class UpstreamClient {
  private pending = 0;
  private readonly batches: Coalescer<Sized, UpstreamReply>;

  constructor(
    private readonly bus: RequestBus,
    private readonly opts: UpstreamClientOptions,
    private readonly metrics: Metrics,
  ) {
    // Bounded in count and in bytes: a batch stays far below NATS' max_payload (1 MB by default)
    // however large the frames, so that one sender's big frames cannot fail others' requests.
    this.batches = new Coalescer((batch) => this.send(batch.map((b) => b.req)), { max: MAX_BATCH_REQUESTS, maxWeight: MAX_BATCH_BYTES, weight: (b) => b.bytes + REQUEST_OVERHEAD + replyWeight(b.req) });
    metrics.watchUpstream(() => this.pending);
  }

  /** true when a request would be refused (UPSTREAM_MAX_PENDING requests are pending) */
  get full(): boolean {
    return this.pending >= this.opts.maxPending;
  }

  /**
   * The logic service's reply to `req`; rejects with the bus's error (timeout, no responders,
   * unreachable). The caller checks `full` first: past the bound, it refuses.
   */
  request(req: UpstreamRequest, frameBytes: number): Promise<UpstreamReply> {
    this.pending++;
    const reply = this.batches.call({ req, bytes: frameBytes });
    reply.then(this.settled, this.settled);
    return reply;
  }

  private readonly settled = (): void => {
    this.pending--;
  };

  private async send(reqs: UpstreamRequest[]): Promise<UpstreamReply[]> {
    this.metrics.upstreamBatchSent(reqs.length);
    const data = await this.bus.request(encodeRequests(reqs), this.opts.timeoutMs);
    return decodeReplies(data, reqs.length);
  }
}
