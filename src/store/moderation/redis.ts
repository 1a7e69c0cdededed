// Moderation state on Redis (cluster mode): one hash each for mutes, bans, word lists and held
// items, and the version counter. Every change and its version increment are one atomic step
// (MULTI or a script), so a process that reads the version and then the snapshot never sees
// a change without its version. Expired mutes and bans are left out of snapshots and deleted
// as they are met.

import { timed, type RedisContext } from '../../redis/client.js';
import type { Logger } from '../../log.js';
import { defineScript } from '../../redis/script.js';
import { HELD_MAX, inForce, restrictionField, type HeldItem, type ModerationSnapshot, type ModerationStore, type Restriction, type RestrictionKind, type StoredList } from './index.js';

// KEYS: hash, version; ARGV: field -> new version, or -1 when there was no such field
const LIFT = `if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return -1 end
return redis.call('INCR', KEYS[2])`;

// KEYS: lists, version; ARGV: name1, json1, name2, json2, ... -> new version, or -1 when lists exist
const SEED = `if redis.call('HLEN', KEYS[1]) > 0 then return -1 end
if #ARGV > 0 then redis.call('HSET', KEYS[1], unpack(ARGV)) end
return redis.call('INCR', KEYS[2])`;

// KEYS: held, seq; ARGV: max, json without id -> id, or -1 when full
const HOLD = `if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[1]) then return -1 end
local id = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], id, ARGV[2])
return id`;

// KEYS: hash; ARGV: field, the expired value -> deleted (only if nobody set it again since)
const FORGET = `if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0`;

// KEYS: held; ARGV: id -> json or false
const TAKE = `local v = redis.call('HGET', KEYS[1], ARGV[1])
if v then redis.call('HDEL', KEYS[1], ARGV[1]) end
return v`;

// KEYS: hits; ARGV: window ms -> count
const HIT = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

export class RedisModerationStore implements ModerationStore {
  private readonly liftScript;
  private readonly seedScript;
  private readonly holdScript;
  private readonly takeScript;
  private readonly hitScript;
  private readonly forgetScript;

  constructor(
    private readonly ctx: RedisContext,
    private readonly log?: Logger,
  ) {
    this.liftScript = defineScript(ctx.redis, 'danmakuModLift', 2, LIFT);
    this.seedScript = defineScript(ctx.redis, 'danmakuModSeed', 2, SEED);
    this.holdScript = defineScript(ctx.redis, 'danmakuModHold', 2, HOLD);
    this.takeScript = defineScript(ctx.redis, 'danmakuModTake', 1, TAKE);
    this.hitScript = defineScript(ctx.redis, 'danmakuModHit', 1, HIT);
    this.forgetScript = defineScript(ctx.redis, 'danmakuModForget', 1, FORGET);
  }

  private hash(kind: RestrictionKind): string {
    return kind === 'mute' ? this.ctx.keys.modMutes() : this.ctx.keys.modBans();
  }

  version(): Promise<number> {
    const { redis, keys, observer } = this.ctx;
    return timed(observer, 'moderation', async () => Number((await redis.get(keys.modVersion())) ?? 0));
  }

  snapshot(): Promise<ModerationSnapshot> {
    const { redis, keys, observer } = this.ctx;
    return timed(observer, 'moderation', async () => {
      const res = await redis.multi().get(keys.modVersion()).hgetall(keys.modMutes()).hgetall(keys.modBans()).hgetall(keys.modLists()).exec();
      if (!res) throw new Error('moderation snapshot: transaction aborted');
      for (const [err] of res) if (err) throw err;
      const [ver, mutes, bans, lists] = res.map(([, v]) => v) as [string | null, Record<string, string>, Record<string, string>, Record<string, string>];
      const now = Date.now();
      const current = (kind: RestrictionKind, hash: Record<string, string>) => {
        const out: Restriction[] = [];
        for (const [field, json] of Object.entries(hash)) {
          const r = asRestriction(parseJson(json), field);
          if (r === null) {
            // Never coerced, never deleted (someone may want to look at it): skipped, said.
            this.log?.warn({ kind, field }, 'malformed moderation entry in Redis skipped');
            continue;
          }
          if (inForce(r, now)) out.push(r);
          // An expired entry changes nothing in force: deleted without a version increment,
          // unless it was set again meanwhile. Best effort: the next snapshot tries again.
          else void this.forgetScript(this.hash(kind), field, json).catch(() => undefined);
        }
        return out;
      };
      return {
        version: Number(ver ?? 0),
        mutes: current('mute', mutes),
        bans: current('ban', bans),
        lists: Object.entries(lists)
          .flatMap(([name, json]) => {
            const l = asStoredList(parseJson(json), name);
            if (l === null) this.log?.warn({ list: name }, 'malformed word list in Redis skipped');
            return l === null ? [] : [l];
          }),
      };
    });
  }

  set(kind: RestrictionKind, r: Restriction): Promise<number> {
    const { redis, keys, observer } = this.ctx;
    return timed(observer, 'moderation', async () => {
      const res = await redis.multi().hset(this.hash(kind), restrictionField(r.uid, r.room), JSON.stringify(r)).incr(keys.modVersion()).exec();
      return versionOf(res);
    });
  }

  lift(kind: RestrictionKind, uid: string, room: string): Promise<number | null> {
    const { keys, observer } = this.ctx;
    return timed(observer, 'moderation', async () => orNull((await this.liftScript(this.hash(kind), keys.modVersion(), restrictionField(uid, room))) as number));
  }

  putList(list: StoredList): Promise<number> {
    const { redis, keys, observer } = this.ctx;
    return timed(observer, 'moderation', async () => versionOf(await redis.multi().hset(keys.modLists(), list.name, JSON.stringify(list)).incr(keys.modVersion()).exec()));
  }

  deleteList(name: string): Promise<number | null> {
    const { keys, observer } = this.ctx;
    return timed(observer, 'moderation', async () => orNull((await this.liftScript(keys.modLists(), keys.modVersion(), name)) as number));
  }

  seedLists(lists: readonly StoredList[]): Promise<number | null> {
    const { keys, observer } = this.ctx;
    return timed(observer, 'moderation', async () => orNull((await this.seedScript(keys.modLists(), keys.modVersion(), ...lists.flatMap((l) => [l.name, JSON.stringify(l)]))) as number));
  }

  hold(item: Omit<HeldItem, 'id'>): Promise<string | null> {
    const { keys, observer } = this.ctx;
    return timed(observer, 'moderation', async () => {
      const id = (await this.holdScript(keys.modHeld(), keys.modHeldSeq(), HELD_MAX, JSON.stringify(item))) as number;
      return id === -1 ? null : String(id);
    });
  }

  held(limit: number): Promise<HeldItem[]> {
    const { redis, keys, observer } = this.ctx;
    return timed(observer, 'moderation', async () => {
      const all = await redis.hgetall(keys.modHeld());
      return Object.entries(all)
        .sort(([a], [b]) => Number(a) - Number(b))
        .slice(0, limit)
        .flatMap(([id, json]) => {
          const v = parseJson(json) as Omit<HeldItem, 'id'> | null;
          return v ? [{ id, ...v }] : [];
        });
    });
  }

  take(id: string): Promise<HeldItem | null> {
    const { keys, observer } = this.ctx;
    return timed(observer, 'moderation', async () => {
      const json = (await this.takeScript(keys.modHeld(), id)) as string | null;
      const v = json ? (parseJson(json) as Omit<HeldItem, 'id'> | null) : null;
      return v ? { id, ...v } : null;
    });
  }

  hit(key: string, windowMs: number): Promise<number> {
    const { keys, observer } = this.ctx;
    return timed(observer, 'moderation', async () => (await this.hitScript(keys.modHits(key), windowMs)) as number);
  }

  clearHits(key: string): Promise<void> {
    const { redis, keys, observer } = this.ctx;
    return timed(observer, 'moderation', async () => void (await redis.del(keys.modHits(key))));
  }
}

function parseJson(json: string): unknown {
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return null; // written by something else: left out, as an expired entry
  }
}

function versionOf(res: [Error | null, unknown][] | null): number {
  if (!res) throw new Error('moderation write: transaction aborted');
  for (const [err] of res) if (err) throw err;
  return Number(res[res.length - 1]![1]);
}

function orNull(v: number): number | null {
  return v === -1 ? null : v;
}

/** A stored mute or ban of the right shape, under its own field; null for anything else. */
function asRestriction(v: unknown, field: string): Restriction | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const r = v as Record<string, unknown>;
  if (typeof r.uid !== 'string' || typeof r.room !== 'string' || restrictionField(r.uid, r.room) !== field) return null;
  if (typeof r.by !== 'string' || (r.source !== 'admin' && r.source !== 'moderator' && r.source !== 'auto')) return null;
  if (!Number.isSafeInteger(r.at)) return null;
  if (r.until !== undefined && !Number.isSafeInteger(r.until)) return null;
  if (r.reason !== undefined && typeof r.reason !== 'string') return null;
  return r as unknown as Restriction;
}

function asStoredList(v: unknown, name: string): StoredList | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const l = v as Record<string, unknown>;
  if (l.name !== name || typeof l.action !== 'string' || !Array.isArray(l.words) || !l.words.every((w) => typeof w === 'string')) return null;
  return l as unknown as StoredList;
}
