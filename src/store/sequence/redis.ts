// Sequence numbers on Redis (cluster mode): one INCR counter per scope, shared by every logic
// process. Counters do not expire: numbers a client still holds must never be handed out again.

import { timed, type RedisContext } from '../../redis/client.js';
import type { Sequencer } from './index.js';

export class RedisSequencer implements Sequencer {
  constructor(private readonly ctx: RedisContext) {}

  next(scope: string): Promise<number> {
    const { redis, keys, observer } = this.ctx;
    return timed(observer, 'sequence', () => redis.incr(keys.seq(scope)));
  }

  current(scope: string): Promise<number> {
    const { redis, keys, observer } = this.ctx;
    return timed(observer, 'sequence', async () => Number((await redis.get(keys.seq(scope))) ?? 0));
  }
}
