// The gateway's side of the upstream requests: SEND and MSG frames received during one turn of
// the event loop go to the logic service as one batch (one bus request, one reply), and the
// requests awaiting an answer are bounded. Past UPSTREAM_MAX_PENDING a frame is refused at
// once (ERROR 32 `overloaded`) instead of queueing behind work the logic service cannot take:
// a queue without a bound only grows until every request times out.

import type { RequestBus } from '../bus/index.js';
import { Coalescer } from '../coalesce.js';
import { decodeReplies, encodeRequests, type UpstreamReply, type UpstreamRequest } from '../logic/upstream.js';
import type { Metrics } from '../metrics.js';

/** Requests per batch: bounds one bus message (a few hundred bytes each) and one logic turn. */
export const MAX_BATCH = 256;

export interface UpstreamClientOptions {
  readonly timeoutMs: number;
  readonly maxPending: number;
}

export class UpstreamClient {
  private pending = 0;
  private readonly batches: Coalescer<UpstreamRequest, UpstreamReply>;

  constructor(
    private readonly bus: RequestBus,
    private readonly opts: UpstreamClientOptions,
    private readonly metrics: Metrics,
  ) {
    this.batches = new Coalescer((reqs) => this.send(reqs), MAX_BATCH);
  }

  /**
   * The logic service's reply to `req`; rejects with the bus's error (timeout, no responders,
   * unreachable). null, sending nothing, when UPSTREAM_MAX_PENDING requests are pending.
   */
  request(req: UpstreamRequest): Promise<UpstreamReply> | null {
    if (this.pending >= this.opts.maxPending) return null;
    this.pending++;
    this.metrics.upstreamSent(this.pending, 0);
    const reply = this.batches.call(req);
    reply.then(this.settled, this.settled);
    return reply;
  }

  private readonly settled = (): void => {
    this.pending--;
    this.metrics.upstreamSent(this.pending, 0);
  };

  private async send(reqs: UpstreamRequest[]): Promise<UpstreamReply[]> {
    this.metrics.upstreamSent(this.pending, reqs.length);
    const data = await this.bus.request(encodeRequests(reqs), this.opts.timeoutMs);
    return decodeReplies(data, reqs.length);
  }
}
