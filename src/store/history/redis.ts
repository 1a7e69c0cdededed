// The replay window on Redis (cluster mode): one sorted set per room, score = seq, so that
// items appended by several logic processes stay in seq order. Trimmed to the window on every
// append; the key expires after HISTORY_IDLE_MS without an append. The appends of one
// event-loop turn are one script call: per room, one ZADD
// of all its items, one trim, one expiry (3 commands per room and turn, not per item). The
// script builds the key names from the prefix of keys.ts (one Redis primary, not a Cluster).

import { timed, type RedisContext } from '../../redis/client.js';
import { Coalescer } from '../../coalesce.js';
import { encode } from '../../protocol/codec.js';
import { asBuffer, defineScript } from '../../redis/script.js';
import { HISTORY_IDLE_MS, type RoomHistory, type StoredItem } from './index.js';

// ARGV: the key prefix, the capacity, the idle expiry (ms), a MessagePack array of [room,
// items], then the items' seq and bytes, room after room (items are binary: Redis' cmsgpack
// does not take MessagePack bin).
const APPEND = `local pre, cap, idle = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local rooms = cmsgpack.unpack(ARGV[4])
local at = 5
for i = 1, #rooms do
  local key = pre .. rooms[i][1]
  local args = {}
  for j = 1, rooms[i][2] * 2 do args[j] = ARGV[at]; at = at + 1 end
  redis.call('ZADD', key, unpack(args))
  redis.call('ZREMRANGEBYRANK', key, 0, -(cap + 1))
  redis.call('PEXPIRE', key, idle)
end
return #rooms`;

interface Append {
  readonly room: string;
  readonly item: StoredItem;
}

export class RedisRoomHistory implements RoomHistory {
  private readonly appends: Coalescer<Append, void>;
  private readonly appendScript;

  constructor(
    private readonly ctx: RedisContext,
    /** items kept per room: REPLAY_SIZE (0 keeps nothing) */
    private readonly capacity: number,
  ) {
    this.appends = new Coalescer((batch) => this.appendBatch(batch), 1024);
    this.appendScript = defineScript(ctx.redis, 'danmakuHistoryAppend', 0, APPEND);
  }

  append(room: string, item: StoredItem): Promise<void> {
    if (this.capacity === 0) return Promise.resolve();
    return this.appends.call({ room, item });
  }

  private appendBatch(batch: Append[]): Promise<void[]> {
    const byRoom = new Map<string, StoredItem[]>();
    for (const { room, item } of batch) {
      let items = byRoom.get(room);
      if (!items) byRoom.set(room, (items = []));
      items.push(item);
    }
    const args: (string | number | Buffer)[] = [this.ctx.keys.history(''), this.capacity, HISTORY_IDLE_MS, asBuffer(encode([...byRoom].map(([room, items]) => [room, items.length])))];
    for (const items of byRoom.values()) for (const { seq, data } of items) args.push(seq, asBuffer(data));
    return timed(this.ctx.observer, 'history', async () => {
      await this.appendScript(...args);
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
