// The replay window on Redis (cluster mode): one sorted set per room, score = seq, so that
// items appended by several logic processes stay in seq order. Trimmed to the window on every
// append; the key expires after HISTORY_IDLE_MS without an append.

import { timed, type RedisContext } from '../../redis/client.js';
import { HISTORY_IDLE_MS, type RoomHistory, type StoredItem } from './index.js';

export class RedisRoomHistory implements RoomHistory {
  constructor(
    private readonly ctx: RedisContext,
    /** items kept per room: REPLAY_SIZE (0 keeps nothing) */
    private readonly capacity: number,
  ) {}

  append(room: string, item: StoredItem): Promise<void> {
    const { redis, keys, observer } = this.ctx;
    return timed(observer, 'history', async () => {
      if (this.capacity === 0) return;
      const key = keys.history(room);
      await redis
        .multi()
        .zadd(key, item.seq, Buffer.from(item.data))
        .zremrangebyrank(key, 0, -(this.capacity + 1))
        .pexpire(key, HISTORY_IDLE_MS)
        .exec();
    });
  }

  recent(room: string, limit: number): Promise<StoredItem[]> {
    const { redis, keys, observer } = this.ctx;
    return timed(observer, 'history', async () => {
      const n = Math.min(limit, this.capacity);
      if (n <= 0) return [];
      const flat = await redis.zrangeBuffer(keys.history(room), -n, '-1', 'WITHSCORES');
      const out: StoredItem[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) out.push({ seq: Number(flat[i + 1]!.toString()), data: flat[i]! });
      return out;
    });
  }
}
