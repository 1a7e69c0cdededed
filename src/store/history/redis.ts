// The replay window on Redis (cluster mode): one sorted set per room, score = seq, so that
// items appended by several logic processes stay in seq order. Trimmed to the window on every
// append; the key expires after HISTORY_IDLE_MS without an append. The appends of one
// event-loop turn go out as one pipeline: per room, one ZADD of all its items, one trim, one
// expiry (3 commands per room and turn, not per item).

import { timed, type RedisContext } from '../../redis/client.js';
import { Coalescer } from '../../coalesce.js';
import { execPipeline } from '../../redis/script.js';
import { HISTORY_IDLE_MS, type RoomHistory, type StoredItem } from './index.js';

interface Append {
  readonly room: string;
  readonly item: StoredItem;
}

export class RedisRoomHistory implements RoomHistory {
  private readonly appends: Coalescer<Append, void>;

  constructor(
    private readonly ctx: RedisContext,
    /** items kept per room: REPLAY_SIZE (0 keeps nothing) */
    private readonly capacity: number,
  ) {
    this.appends = new Coalescer((batch) => this.appendBatch(batch), 1024);
  }

  append(room: string, item: StoredItem): Promise<void> {
    if (this.capacity === 0) return Promise.resolve();
    return this.appends.call({ room, item });
  }

  private appendBatch(batch: Append[]): Promise<void[]> {
    const { redis, keys, observer } = this.ctx;
    return timed(observer, 'history', async () => {
      const byRoom = new Map<string, (number | Buffer)[]>();
      for (const { room, item } of batch) {
        let args = byRoom.get(room);
        if (!args) byRoom.set(room, (args = []));
        args.push(item.seq, Buffer.from(item.data.buffer, item.data.byteOffset, item.data.byteLength));
      }
      const p = redis.pipeline();
      for (const [room, args] of byRoom) {
        const key = keys.history(room);
        p.zadd(key, ...args).zremrangebyrank(key, 0, -(this.capacity + 1)).pexpire(key, HISTORY_IDLE_MS);
      }
      await execPipeline(p);
      return batch.map(() => undefined);
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
