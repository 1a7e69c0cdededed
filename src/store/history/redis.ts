// The recovery windows on Redis (cluster mode). Per room, the shape of RecoveryWindow
// (window.ts): two sorted sets, score = seq, so that items appended by several logic processes
// stay in seq order (rw:o: ordinary items, rw:k: never-shed ones), and a hash with the epoch
// and the two floors (rw:m:). Each member is the item's t as 13 zero-padded digits followed by
// the item's bytes, so that the scripts can trim by age without decoding items (the chat
// history does the same). All three keys expire together after HISTORY_IDLE_MS without an
// append; a room whose hash is gone gets a new epoch.
//
// Appends are on the path of every danmaku (thousands a second into one room): the appends of
// one event-loop turn are one script call, and per room and turn the script does one ZADD per
// class (after one look at the set's highest seq, for duplicates), a count trim (one
// ZREMRANGEBYRANK, the removed ones' highest seq read by rank), an age trim that reads one
// item at the low end while nothing is due (more only when something is), one floor update
// and three PEXPIREs: O(log n) per item, never a scan of the window. The scripts build the key
// names from the prefixes of keys.ts (one Redis primary, not a Cluster).

import { Coalescer } from '../../coalesce.js';
import { encode } from '../../protocol/codec.js';
import { timed, type RedisContext } from '../../redis/client.js';
import { asBuffer, defineScript, LUA_NOW } from '../../redis/script.js';
import { HISTORY_IDLE_MS, type ClaimSettle, type RoomHistory, type RoomWindowSnapshot } from './index.js';
import { newEpoch, type WindowItem, type WindowLimits } from './window.js';

/** Digits of the t prefix of a member: ms times up to the year 2286. */
const T_DIGITS = 13;
const MAX_T = 10 ** T_DIGITS - 1;

// Shared by both scripts. ARGV 1-7: the three key prefixes (ordinary, kept, meta), size, age
// limit, kept size, kept age limit. Ages are measured on Redis' clock, so that every process
// trims alike whatever its own clock says. trim() drops a set's lowest seqs beyond its count
// and then while the lowest is older than the age limit (a few at a time, growing while they
// keep being due), and answers the highest seq it dropped; trimRoom() raises the floors.
const TRIM = `${LUA_NOW}local preO, preK, preM = ARGV[1], ARGV[2], ARGV[3]
local size, age, keepSize, keepAge = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local function trim(key, max, oldest)
  local top = 0
  local n = redis.call('ZCARD', key)
  if n > max then
    local last = redis.call('ZRANGE', key, n - max - 1, n - max - 1, 'WITHSCORES')
    top = tonumber(last[2]) or 0
    redis.call('ZREMRANGEBYRANK', key, 0, n - max - 1)
  end
  local chunk = 1
  while true do
    local head = redis.call('ZRANGE', key, 0, chunk - 1, 'WITHSCORES')
    local due = 0
    for i = 1, #head, 2 do
      -- A member whose prefix is no number (written by something else) counts as oldest: it
      -- leaves, rather than stopping every trim of the room.
      if (tonumber(string.sub(head[i], 1, ${T_DIGITS})) or 0) >= oldest then break end
      due = due + 1
      top = math.max(top, tonumber(head[i + 1]) or 0)
    end
    if due > 0 then redis.call('ZREMRANGEBYRANK', key, 0, due - 1) end
    if due < chunk then return top end
    if chunk < 256 then chunk = chunk * 4 end
  end
end
local function trimRoom(room)
  local meta = preM .. room
  local o = trim(preO .. room, size, now - age)
  local k = trim(preK .. room, keepSize, now - keepAge)
  if o == 0 and k == 0 then return end
  local m = redis.call('HMGET', meta, 'f', 'kf')
  local f, kf = tonumber(m[1]) or 0, tonumber(m[2]) or 0
  local nf = math.max(f, o, k)
  if nf > f then redis.call('HSET', meta, 'f', nf) end
  if k > kf then redis.call('HSET', meta, 'kf', k) end
end
`;

// ARGV 8: the idle expiry (ms); 9: a MessagePack array of [room, ordinary count, kept count,
// a new epoch] (used only if the room has none); 10: the intake claims' key prefix; 11: a
// MessagePack array of claims to settle [claim, seq, ttl ms], written as the intake's SETTLE
// script writes them (store/intake/redis.ts): in the same script as the items, so that an item
// is stored if and only if its claim says so; then the items' seq and member, room after
// room, its ordinary items first (items are binary: Redis' cmsgpack does not take
// MessagePack bin).
const APPEND = `${TRIM}
local idle = ARGV[8]
local rooms = cmsgpack.unpack(ARGV[9])
local claimPre = ARGV[10]
local settles = cmsgpack.unpack(ARGV[11])
local at = 12
local function add(key, n)
  if n == 0 then return end
  -- A seq is held once. Items come nearly in seq order: only one below the set's highest
  -- (crossed on the way from several logic processes) or seen in this call is looked up.
  local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  local max = tonumber(top[2]) or -1
  local seen, args = {}, {}
  for j = 1, n do
    local seq, m = ARGV[at], ARGV[at + 1]
    at = at + 2
    local s = tonumber(seq) or 0
    if not seen[s] and (s > max or #redis.call('ZRANGEBYSCORE', key, seq, seq, 'LIMIT', 0, 1) == 0) then
      seen[s] = true
      args[#args + 1] = seq
      args[#args + 1] = m
    end
  end
  if #args > 0 then redis.call('ZADD', key, unpack(args)) end
end
for i = 1, #rooms do
  local room = rooms[i][1]
  add(preO .. room, rooms[i][2])
  add(preK .. room, rooms[i][3])
  trimRoom(room)
  local meta = preM .. room
  redis.call('HSETNX', meta, 'e', rooms[i][4])
  redis.call('PEXPIRE', preO .. room, idle)
  redis.call('PEXPIRE', preK .. room, idle)
  redis.call('PEXPIRE', meta, idle)
end
for i = 1, #settles do
  local c = settles[i]
  redis.call('SET', claimPre .. c[1], c[2], 'PX', c[3])
end
return #rooms`;

// ARGV 8: how long an epoch created by this read lives: the idle expiry, as after an append. A
// shorter life would let a quiet room's epoch lapse while gateways hold it and their viewers
// resume with it, and the room's first item would then start a new one: every resume answered
// `epoch_changed`. The cost is a small hash per room id ever joined, for a day. 9: the room;
// 10: a new epoch (used only if the room has none). Answers the epoch, the floors and both sets with
// scores.
const WINDOW = `${TRIM}
local room = ARGV[9]
local meta = preM .. room
trimRoom(room)
if redis.call('HSETNX', meta, 'e', ARGV[10]) == 1 then redis.call('PEXPIRE', meta, ARGV[8]) end
local m = redis.call('HMGET', meta, 'e', 'f', 'kf')
return {m[1], m[2] or '0', m[3] or '0', redis.call('ZRANGE', preO .. room, 0, -1, 'WITHSCORES'), redis.call('ZRANGE', preK .. room, 0, -1, 'WITHSCORES')}`;

interface Append {
  readonly room: string;
  readonly item: WindowItem;
  readonly settle: ClaimSettle | undefined;
}

export class RedisRoomHistory implements RoomHistory {
  private readonly appends: Coalescer<Append, void>;
  private readonly appendScript;
  private readonly windowScript;

  constructor(
    private readonly ctx: RedisContext,
    private readonly limits: WindowLimits,
  ) {
    this.appends = new Coalescer((batch) => this.appendBatch(batch), 1024);
    this.appendScript = defineScript(ctx.redis, 'danmakuRecoveryAppend', 0, APPEND);
    this.windowScript = defineScript(ctx.redis, 'danmakuRecoveryWindow', 0, WINDOW, { buffers: true });
  }

  append(room: string, item: WindowItem, settle?: ClaimSettle): Promise<void> {
    return this.appends.call({ room, item, settle });
  }

  get(room: string, seq: number): Promise<Uint8Array | null> {
    const { redis, keys, observer } = this.ctx;
    return timed(observer, 'history', async () => {
      const [o, k] = await Promise.all([
        redis.zrangebyscoreBuffer(keys.recoveryOrdinary(room), seq, seq, 'LIMIT', 0, 1),
        redis.zrangebyscoreBuffer(keys.recoveryKept(room), seq, seq, 'LIMIT', 0, 1),
      ]);
      const m = o[0] ?? k[0];
      return m ? m.subarray(T_DIGITS) : null;
    });
  }

  window(room: string): Promise<RoomWindowSnapshot> {
    return timed(this.ctx.observer, 'history', async () => {
      const [e, f, kf, ordinary, kept] = (await this.windowScript(...this.trimArgs(), HISTORY_IDLE_MS, room, newEpoch())) as [Buffer, Buffer, Buffer, Buffer[], Buffer[]];
      return {
        epoch: e.toString(),
        floor: Number(f.toString()),
        keepFloor: Number(kf.toString()),
        items: mergeBySeq(parseSet(ordinary, false), parseSet(kept, true)),
      };
    });
  }

  epoch(room: string): Promise<string | null> {
    return timed(this.ctx.observer, 'history', () => this.ctx.redis.hget(this.ctx.keys.recoveryMeta(room), 'e'));
  }

  private appendBatch(batch: Append[]): Promise<void[]> {
    const byRoom = new Map<string, { ordinary: WindowItem[]; kept: WindowItem[] }>();
    for (const { room, item } of batch) {
      let r = byRoom.get(room);
      if (!r) byRoom.set(room, (r = { ordinary: [], kept: [] }));
      (item.keep ? r.kept : r.ordinary).push(item);
    }
    const head = [...byRoom].map(([room, r]) => [room, r.ordinary.length, r.kept.length, newEpoch()]);
    const settles = batch.flatMap(({ item, settle }) => (settle ? [[settle.claim, item.seq, settle.ttlMs]] : []));
    const args: (string | number | Buffer)[] = [...this.trimArgs(), HISTORY_IDLE_MS, asBuffer(encode(head)), this.ctx.keys.dedupe(''), asBuffer(encode(settles))];
    for (const r of byRoom.values()) {
      for (const it of r.ordinary) args.push(it.seq, member(it));
      for (const it of r.kept) args.push(it.seq, member(it));
    }
    return timed(this.ctx.observer, 'history', async () => {
      await this.appendScript(...args);
      return batch.map(() => undefined);
    });
  }

  private trimArgs(): (string | number)[] {
    const { keys } = this.ctx;
    const { size, ageMs, keepSize, keepAgeMs } = this.limits;
    return [keys.recoveryOrdinary(''), keys.recoveryKept(''), keys.recoveryMeta(''), size, ageMs, keepSize, keepAgeMs];
  }
}

/**
 * A set member: the item's t as 13 digits, then its bytes. The bytes hold the item's seq, so
 * two items never share a member (a ZADD of one would only move the other).
 */
function member(item: WindowItem): Buffer {
  // Clamped to what 13 digits hold (a wrong t must not make a longer prefix the scripts misread).
  const t = Buffer.from(String(Math.min(MAX_T, Math.max(0, Math.floor(item.t) || 0))).padStart(T_DIGITS, '0'), 'latin1');
  return Buffer.concat([t, item.data]);
}

/** A set read WITHSCORES (member, score, member, score, ...) as items. */
function parseSet(flat: Buffer[], keep: boolean): WindowItem[] {
  const out: WindowItem[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const m = flat[i]!;
    out.push({ seq: Number(flat[i + 1]!.toString()), t: Number(m.toString('latin1', 0, T_DIGITS)), keep, data: m.subarray(T_DIGITS) });
  }
  return out;
}

/**
 * Both classes by seq. A seq is held once: two members with one seq (an append retried with
 * another t) are one item to the reader.
 */
function mergeBySeq(a: WindowItem[], b: WindowItem[]): WindowItem[] {
  const out: WindowItem[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const next = j >= b.length || (i < a.length && a[i]!.seq <= b[j]!.seq) ? a[i++]! : b[j++]!;
    if (out.length > 0 && out[out.length - 1]!.seq === next.seq) continue;
    out.push(next);
  }
  return out;
}
