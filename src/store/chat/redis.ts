// Chat storage on Redis (cluster mode): keys.ts `chat*` keys, every method one Lua script so
// that it is atomic. The write path is the expensive one (a group message of 100 members is 100
// inbox entries), so apply() sends many records per script call and the script GROUPS the work:
// per conversation one ZADD of its new messages; per recipient list (the records to one group
// name the same list) its entries joined once; per user one state GET and SET, one RPUSH of a
// segment holding all its entries of the call, one ZADD of its contacts; trims and expiry
// refreshes only when due (the state counts entries and remembers the oldest, so neither the
// count cap nor the age costs a command to check). A script call costs about 10 µs per user
// touched plus well under 1 µs per entry: larger chunks are cheaper per record (bench/
// chat-store-cost.ts). Replays cost one ZCOUNT per replayed record.
// Unsequenced records (s=0) first get their seq from one small script (idempotent by id: a
// replay gets the same seq), are re-encoded here, then are applied like the others.
// The scripts build key names from the prefixes of keys.ts: one Redis primary, not a Cluster.

import { timed, type RedisContext } from '../../redis/client.js';
import { encode } from '../../protocol/codec.js';
import { asBuffer, defineScript } from '../../redis/script.js';
import {
  ASSIGNED_ID_TTL_MS,
  checkCursor,
  DEFAULT_CHAT_LIMITS,
  OutOfRetentionError,
  TIME_DIGITS,
  withSeq,
  type ApplyResult,
  type ChatStore,
  type ChatStoreLimits,
  type Contact,
  type HistoryPage,
  type InboxPage,
  type StoredRecord,
} from './index.js';

/**
 * Bounds of one apply script call (a record is never split). A call's cost is mostly per user
 * touched (about 10 µs each), so larger chunks are cheaper per record but keep Redis busy
 * longer: 1,000 group messages of 100 members over 5,000 users take about 60 ms.
 */
export interface ChunkBounds {
  readonly records: number;
  /** inbox entries: the recipients of the chunk's records */
  readonly entries: number;
  /** message bytes */
  readonly bytes: number;
}

/**
 * A script call blocks Redis for all its other clients (the intake, the registry): about 10 µs
 * per user touched and under 1 µs per entry, and a user touched once per call whatever the
 * number of its entries in it. So larger calls cost less per message and hold the send path's
 * round trips longer. Measured with `npm run bench -- chat --offline 0.98` (100-member groups,
 * 4,800 messages/s offered): 20,000 entries per call kept up with about 4,000 messages/s
 * (storage lag p99 2.5-5 s, growing), 50,000 (about 50 ms per call) with 4,700 (lag p99 0.5 s,
 * ACK p99 216 ms).
 */
export const DEFAULT_CHUNK: ChunkBounds = Object.freeze({ records: 1000, entries: 50_000, bytes: 1 << 20 });
/**
 * Apply script calls a writer has sent and not had answered at most: the next is queued while
 * Redis runs one, and no more (queued longer, they would pass the command timeout).
 */
const CHUNKS_IN_FLIGHT = 2;

/**
 * Expiry refreshes happen when a user's version crosses a step of retention/16 (not on every
 * write), with the expiry set that much longer: a key never expires early, at most a step late.
 */
const REFRESH_STEPS = 16;
/**
 * An inbox may hold inboxMax/8 entries over the cap between trims (reads never see them): a
 * full inbox is then trimmed once every few writes, not on every one.
 */
const INBOX_SLACK = 8;

// Shared Lua: ZADD of any number of pairs (Lua's unpack is limited to a few thousand values);
// the inbox state string; the history's age trim (looks at the oldest, trims <= 100 a call,
// remembers the highest seq trimmed); the unread of a user's conversations.
const LUA_LIB = `
local function zadd(key, args, opt)
  local added, i = 0, 1
  while i <= #args do
    local j = math.min(i + 3999, #args)
    if opt then added = added + redis.call('ZADD', key, opt, unpack(args, i, j))
    else added = added + redis.call('ZADD', key, unpack(args, i, j)) end
    i = j + 1
  end
  return added
end
local function ivRead(k)
  local st = redis.call('GET', k)
  if not st then return nil end
  local v, e, n, o = string.match(st, '^(%d+) (%d+) (%d+) (%d+)$')
  return { v = tonumber(v), e = tonumber(e), n = tonumber(n), o = tonumber(o) }
end
local function ivWrite(k, s, ttl)
  redis.call('SET', k, string.format('%d %d %d %d', s.v, s.e, s.n, s.o), 'PX', ttl)
end
local function segHead(seg)
  local b, k, p = string.match(seg, '^(%d+) (%d+)\\n()')
  return tonumber(b), tonumber(k), p
end
local function segEntries(seg, p)
  local out = {}
  while true do
    local q = string.find(seg, '\\n', p, true)
    if not q then out[#out + 1] = string.sub(seg, p); return out end
    out[#out + 1] = string.sub(seg, p, q - 1)
    p = q + 1
  end
end
local function dropOldest(ibk, s, excess, cut)
  local dropped, segs, from, rewritten, exhausted = 0, 0, 0, nil, true
  while exhausted do
    local batch = redis.call('LRANGE', ibk, from, from + 15)
    if #batch == 0 then break end
    for i = 1, #batch do
      local b, k, p = segHead(batch[i])
      if dropped + k <= excess or b + k - 1 < cut then
        dropped = dropped + k
        segs = segs + 1
        s.e = math.max(s.e, b + k - 1)
      else
        local d = math.max(excess - dropped, cut - b, 0)
        if d > 0 then
          local es = segEntries(batch[i], p)
          rewritten = string.format('%d %d\\n', b + d, k - d) .. table.concat(es, '\\n', d + 1, k)
          dropped = dropped + d
          s.e = math.max(s.e, b + d - 1)
        end
        s.o = b + d
        exhausted = false
        break
      end
    end
    from = from + 16
  end
  if segs > 0 then redis.call('LTRIM', ibk, segs, -1) end
  if rewritten then redis.call('LSET', ibk, 0, rewritten) end
  -- Nothing left (all dropped, or the list expired under a state that outlived it): every
  -- version given so far is gone, and an older cursor must hear so (ERROR 40), not get a hole.
  if exhausted then s.n, s.o, s.e = 0, 0, math.max(s.e, s.v) else s.n = math.max(0, s.n - dropped) end
  return dropped
end
local function tOf(member) return tonumber(string.sub(member, 1, ${TIME_DIGITS})) end
local function trimHistory(hk, hmk, hcut, ttl)
  local old = redis.call('ZRANGE', hk, 0, 0)
  if not old[1] or tOf(old[1]) >= hcut then return end
  local few = redis.call('ZRANGE', hk, 0, 99, 'WITHSCORES')
  local k, top = 0, '0'
  while few[k * 2 + 1] and tOf(few[k * 2 + 1]) < hcut do top = few[k * 2 + 2]; k = k + 1 end
  redis.call('ZREMRANGEBYRANK', hk, 0, k - 1)
  if tonumber(top) > (tonumber(redis.call('GET', hmk)) or 0) then redis.call('SET', hmk, top, 'PX', ttl) end
end
local function convsOf(ctk, extra, hcut)
  local flat = redis.call('ZRANGEBYSCORE', ctk, hcut, '+inf', 'WITHSCORES')
  local list, has = {}, {}
  for i = 1, #flat, 2 do list[#list + 1] = { flat[i], tonumber(flat[i + 1]) }; has[flat[i]] = true end
  for _, c in ipairs(extra) do
    if not has[c] then has[c] = true; list[#list + 1] = { c, false } end
  end
  return list
end
local function unreads(rdk, list, hpre)
  local total = 0
  for i = 1, #list, 4000 do
    local names = {}
    for j = i, math.min(i + 3999, #list) do names[#names + 1] = list[j][1] end
    local reads = redis.call('HMGET', rdk, unpack(names))
    for j = 1, #names do
      local x = list[i + j - 1]
      local rd = reads[j] or '0'
      x[3] = tonumber(rd)
      x[4] = redis.call('ZCOUNT', hpre .. x[1], '(' .. rd, '+inf')
      total = total + x[4]
    end
  end
  return total
end
`;

// ARGV[1]: prefixes [h, hm, ib, iv, ct, rd]; ARGV[2]: [now, history ret, inbox ret, inbox max,
// contacts max, inbox refresh step, history refresh step]; ARGV[3]: records [c, s, t, u,
// recipient list index]; ARGV[4]: the distinct recipient lists; ARGV[5..]: per record its
// history member (time prefix + message bytes: binary, which cmsgpack does not take).
// Returns [applied, skipped, evicted, [uids whose unread rose], inbox entries written].
const APPLY = `${LUA_LIB}
local pre = cmsgpack.unpack(ARGV[1])
local P = cmsgpack.unpack(ARGV[2])
local now, hret, iret, imax, cmax, istep, hstep, islack = P[1], P[2], P[3], P[4], P[5], P[6], P[7], P[8]
local recs = cmsgpack.unpack(ARGV[3])
local lists = cmsgpack.unpack(ARGV[4])
local hcut, icut = now - hret, now - iret
-- 1. which records are new: per conversation its top seq and trimmed seq, then ZCOUNT only
-- for a seq at or below the top (a replay, or writers crossing)
local convs, corder, fresh = {}, {}, {}
local applied, skipped, evicted, entries = 0, 0, 0, 0
for i = 1, #recs do
  local r = recs[i]
  local c, s = r[1], r[2]
  local cv = convs[c]
  if not cv then
    local hk = pre[1] .. c
    local top = redis.call('ZREVRANGE', hk, 0, 0, 'WITHSCORES')
    cv = { hk = hk, hmk = pre[2] .. c, top = tonumber(top[2]) or 0, hm = tonumber(redis.call('GET', pre[2] .. c)) or 0, args = {}, seen = {} }
    convs[c] = cv
    corder[#corder + 1] = c
  end
  if cv.seen[s] or s <= cv.hm or (s <= cv.top and redis.call('ZCOUNT', cv.hk, s, s) > 0) then
    skipped = skipped + 1
  else
    cv.seen[s] = true
    fresh[i] = true
    applied = applied + 1
    entries = entries + #lists[r[5]]
    cv.args[#cv.args + 1] = s
    cv.args[#cv.args + 1] = ARGV[4 + i]
  end
end
for _, c in ipairs(corder) do
  local cv = convs[c]
  if #cv.args > 0 then
    zadd(cv.hk, cv.args)
    trimHistory(cv.hk, cv.hmk, hcut, hret)
    redis.call('PEXPIRE', cv.hk, hret)
    if cv.hm > 0 then redis.call('PEXPIRE', cv.hmk, hret) end
  end
end
-- 2. per recipient list (the records to one group name the same list): its entries in record
-- order, joined once, its contacts and top seqs; per sender the read seqs to raise
local L, lorder, entryOf, raises = {}, {}, {}, {}
for i = 1, #recs do
  if fresh[i] then
    local r = recs[i]
    local c, s, t, u, li = r[1], r[2], r[3], r[4], r[5]
    local x = L[li]
    if not x then
      x = { ents = {}, idx = {}, ct = {}, mx = {} }
      L[li] = x
      lorder[#lorder + 1] = li
    end
    entryOf[i] = string.format('%d ', s) .. c
    x.ents[#x.ents + 1] = entryOf[i]
    x.idx[#x.idx + 1] = i
    if not x.ct[c] or t > x.ct[c] then x.ct[c] = t end
    if not x.mx[c] or s > x.mx[c] then x.mx[c] = s end
    if u ~= '' then
      local rs = raises[u]
      if not rs then rs = {}; raises[u] = rs end
      if not rs[c] or s > rs[c] then rs[c] = s end
    end
  end
end
-- each user's lists; a user in one list shares its joined entries and contacts
local users, uorder = {}, {}
for _, li in ipairs(lorder) do
  local x = L[li]
  x.body = table.concat(x.ents, '\\n')
  x.cargs = {}
  for c, t in pairs(x.ct) do x.cargs[#x.cargs + 1] = t; x.cargs[#x.cargs + 1] = c end
  local list = lists[li]
  for j = 1, #list do
    local m = users[list[j]]
    if m then m[#m + 1] = x else users[list[j]] = { x }; uorder[#uorder + 1] = list[j] end
  end
end
local changed = {}
for _, uid in ipairs(uorder) do
  local m = users[uid]
  local body, k, cargs = m[1].body, #m[1].ents, m[1].cargs
  if #m > 1 then
    local idx, ct = {}, {}
    for _, x in ipairs(m) do
      for _, i in ipairs(x.idx) do idx[#idx + 1] = i end
      for c, t in pairs(x.ct) do if not ct[c] or t > ct[c] then ct[c] = t end end
    end
    table.sort(idx)
    local ents = {}
    for q, i in ipairs(idx) do ents[q] = entryOf[i] end
    body, k, cargs = table.concat(ents, '\\n'), #ents, {}
    for c, t in pairs(ct) do cargs[#cargs + 1] = t; cargs[#cargs + 1] = c end
  end
  local ibk, ivk, ctk = pre[3] .. uid, pre[4] .. uid, pre[5] .. uid
  local st = ivRead(ivk)
  local old = st and st.v or 0
  if not st then st = { v = 0, e = 0, n = 0, o = 0 } end
  local base = math.max(st.v + 1, now)
  local segs = redis.call('RPUSH', ibk, string.format('%d %d\\n', base, k) .. body)
  -- A new list under an older state: the previous one expired, and with it every version so far.
  if segs == 1 then st.n, st.o, st.e = 0, base, math.max(st.e, old) end
  st.n = st.n + k
  st.v = base + k - 1
  if st.n > imax + islack or st.o < icut then evicted = evicted + dropOldest(ibk, st, st.n - imax, icut) end
  if segs == 1 or math.floor(st.v / istep) ~= math.floor(old / istep) then redis.call('PEXPIRE', ibk, iret + istep) end
  ivWrite(ivk, st, 4 * iret)
  local cadded = zadd(ctk, cargs, 'GT')
  if cadded > 0 then
    local cn = redis.call('ZCARD', ctk)
    if cn > cmax then
      local gone = redis.call('ZRANGE', ctk, 0, cn - cmax - 1)
      redis.call('ZREMRANGEBYRANK', ctk, 0, cn - cmax - 1)
      for i = 1, #gone, 4000 do redis.call('HDEL', pre[6] .. uid, unpack(gone, i, math.min(i + 3999, #gone))) end
    end
  end
  if cadded > 0 or old == 0 or math.floor(st.v / hstep) ~= math.floor(old / hstep) then redis.call('PEXPIRE', ctk, hret + hstep) end
  local rs, rose = raises[uid], false
  for _, x in ipairs(m) do
    for c, s in pairs(x.mx) do
      if not (rs and rs[c] and rs[c] >= s) then rose = true end
    end
  end
  if rose then changed[#changed + 1] = uid end
end
for u, rs in pairs(raises) do
  local rdk = pre[6] .. u
  local cs, ss = {}, {}
  for c, s in pairs(rs) do cs[#cs + 1] = c; ss[#ss + 1] = s end
  local cur = redis.call('HMGET', rdk, unpack(cs))
  local args = {}
  for j = 1, #cs do
    if (tonumber(cur[j]) or 0) < ss[j] then args[#args + 1] = cs[j]; args[#args + 1] = ss[j] end
  end
  if #args > 0 then
    redis.call('HSET', rdk, unpack(args))
    redis.call('PEXPIRE', rdk, hret)
  end
end
return { applied, skipped, evicted, changed, entries }`;

// ARGV: the assigned-id prefix, the sequence prefix, the ttl, MessagePack [[id, conv], ...].
// A replay finds the seq its first attempt took.
const ASSIGN = `local ids = cmsgpack.unpack(ARGV[4])
local out = {}
for i = 1, #ids do
  local k = ARGV[1] .. ids[i][1]
  local s = redis.call('GET', k)
  if not s then
    s = redis.call('INCR', ARGV[2] .. ids[i][2])
    redis.call('SET', k, s, 'PX', ARGV[3])
  end
  out[i] = tonumber(s)
end
return out`;

// ARGV: prefixes [ib, iv, h], uid, latest ('1'/'0'), after, limit, now, inbox ret, history ret,
// inbox max (the entries over it are trimmed first, as are those past retention).
// Returns [-1] (out of retention) or [more, v1, member1, v2, member2, ...] oldest first
// (member '' when the message is no longer in history).
const INBOX = `${LUA_LIB}
local pre = cmsgpack.unpack(ARGV[1])
local uid, latest, after, limit, now = ARGV[2], ARGV[3] == '1', tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local iret, hret, imax = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local icut, hcut = now - iret, now - hret
local ibk, ivk = pre[1] .. uid, pre[2] .. uid
local st = ivRead(ivk)
if not st then
  if not latest and after > 0 and after < icut then return { -1 } end
  return { 0 }
end
if st.n > imax or st.o < icut then
  dropOldest(ibk, st, st.n - imax, icut)
  ivWrite(ivk, st, 4 * iret)
end
if not latest and after > 0 and after < st.e then return { -1 } end
-- A device that is up to date (the usual poll) costs nothing more.
if not latest and after >= st.v then return { 0 } end
-- entries as [version, 'seq conv'], oldest first; only the segments holding wanted ones parsed.
-- The segments are read from the end, a growing tail at a time, until the tail reaches back
-- to the cursor (or holds \`limit\` entries for the latest): a read costs what it returns,
-- not the whole inbox.
local len = redis.call('LLEN', ibk)
local take, segs = 8, nil
while true do
  local from = math.max(0, len - take)
  segs = redis.call('LRANGE', ibk, from, -1)
  if from == 0 then break end
  if latest then
    local n = 0
    for i = 1, #segs do local _, k = segHead(segs[i]); n = n + k end
    if n >= limit then break end
  else
    local b = segHead(segs[1])
    if b <= after + 1 then break end
  end
  take = take * 4
end
local picked, more = {}, 0
if latest then
  for i = #segs, 1, -1 do
    local b, k, p = segHead(segs[i])
    local es = segEntries(segs[i], p)
    for j = k, 1, -1 do
      if #picked == limit then break end
      picked[#picked + 1] = { b + j - 1, es[j] }
    end
    if #picked == limit then break end
  end
  local n = #picked
  for i = 1, math.floor(n / 2) do picked[i], picked[n - i + 1] = picked[n - i + 1], picked[i] end
else
  for i = 1, #segs do
    local b, k, p = segHead(segs[i])
    if b + k - 1 > after then
      local es = segEntries(segs[i], p)
      for j = math.max(1, after - b + 2), k do
        if #picked == limit then more = 1; break end
        picked[#picked + 1] = { b + j - 1, es[j] }
      end
    end
    if more == 1 then break end
  end
end
local out = { more }
for _, x in ipairs(picked) do
  local seq, conv = string.match(x[2], '^(%d+) (.+)$')
  local m = redis.call('ZRANGEBYSCORE', pre[3] .. conv, seq, seq, 'LIMIT', 0, 1)[1]
  if not m or tOf(m) < hcut then m = '' end
  out[#out + 1] = x[1]
  out[#out + 1] = m
end
return out`;

// ARGV: prefixes [h, hm], conv, before ('' for the newest), limit, now, history ret.
// Returns [-1] (out of retention) or [more, trimmed, member1, member2, ...] newest first.
const HISTORY = `${LUA_LIB}
local pre = cmsgpack.unpack(ARGV[1])
local conv, before, limit, now, hret = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local hcut = now - hret
local hk, hmk = pre[1] .. conv, pre[2] .. conv
trimHistory(hk, hmk, hcut, hret)
local hm = tonumber(redis.call('GET', hmk)) or 0
if before ~= '' and hm > 0 and tonumber(before) <= hm + 1 then return { -1 } end
local items = redis.call('ZREVRANGEBYSCORE', hk, before == '' and '+inf' or '(' .. before, '-inf', 'LIMIT', 0, limit + 1)
local out, more, expired = { 0, 0 }, 0, false
for i = 1, #items do
  if tOf(items[i]) < hcut then expired = true; break end
  if i > limit then more = 1 else out[#out + 1] = items[i] end
end
out[1] = more
if more == 0 and (hm > 0 or expired) then out[2] = 1 end
return out`;

// ARGV: prefixes [ct, rd, h], uid, limit, now, history ret, MessagePack extra convs.
// Returns [total, then per contact: conv, t, read, unread, last member ('' none)].
const CONTACTS = `${LUA_LIB}
local pre = cmsgpack.unpack(ARGV[1])
local uid, limit, now, hret = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local hcut = now - hret
local list = convsOf(pre[1] .. uid, cmsgpack.unpack(ARGV[6]), hcut)
local total = unreads(pre[2] .. uid, list, pre[3])
for _, x in ipairs(list) do
  if not x[2] then
    local top = redis.call('ZREVRANGE', pre[3] .. x[1], 0, 0)[1]
    x[2] = top and tOf(top) or 0
    x[5] = top or ''
  end
end
table.sort(list, function(a, b) if a[2] ~= b[2] then return a[2] > b[2] end return a[1] < b[1] end)
local out = { total }
for i = 1, math.min(limit, #list) do
  local x = list[i]
  local last = x[5] or redis.call('ZREVRANGE', pre[3] .. x[1], 0, 0)[1] or ''
  if last ~= '' and tOf(last) < hcut then last = '' end
  out[#out + 1] = x[1]
  out[#out + 1] = x[2]
  out[#out + 1] = x[3]
  out[#out + 1] = x[4]
  out[#out + 1] = last
end
return out`;

// ARGV: prefixes [ct, rd, h, seq], uid, conv, seq, now, history ret, MessagePack extra convs.
// Returns [read, unread, total].
const READ = `${LUA_LIB}
local pre = cmsgpack.unpack(ARGV[1])
local uid, conv, seq, now, hret = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local rdk, hk = pre[2] .. uid, pre[3] .. conv
local cur = tonumber(redis.call('HGET', rdk, conv)) or 0
local top = redis.call('ZREVRANGE', hk, 0, 0, 'WITHSCORES')
local last = math.max(tonumber(redis.call('GET', pre[4] .. conv)) or 0, tonumber(top[2]) or 0)
local read = math.max(cur, math.min(seq, last))
if read > cur then
  redis.call('HSET', rdk, conv, read)
  redis.call('PEXPIRE', rdk, hret)
end
local unread = redis.call('ZCOUNT', hk, '(' .. string.format('%d', read), '+inf')
local total = unreads(rdk, convsOf(pre[1] .. uid, cmsgpack.unpack(ARGV[7]), now - hret), pre[3])
return { read, unread, total }`;

// ARGV: prefixes [ct, rd, h, seq], conv, history ret, MessagePack [joined...], MessagePack [left...].
// The position is the conversation's last number, given (the sequence key: messages still in
// the queue count as before) or stored, as READ's bound is.
const MEMBERSHIP = `local pre = cmsgpack.unpack(ARGV[1])
local conv, hret = ARGV[2], tonumber(ARGV[3])
local joined, left = cmsgpack.unpack(ARGV[4]), cmsgpack.unpack(ARGV[5])
local top = tonumber(redis.call('ZREVRANGE', pre[3] .. conv, 0, 0, 'WITHSCORES')[2]) or 0
local last = math.max(tonumber(redis.call('GET', pre[4] .. conv)) or 0, top)
if last > 0 then
  for i = 1, #joined do
    local rdk = pre[2] .. joined[i]
    if redis.call('HSETNX', rdk, conv, last) == 1 then redis.call('PEXPIRE', rdk, hret) end
  end
end
-- A former member: out of the contacts, and read up to the last number, so that a message
-- sent to them just before (still in the queue) does not bring back the whole history as
-- unread when it is stored.
for i = 1, #left do
  redis.call('ZREM', pre[1] .. left[i], conv)
  local rdk = pre[2] .. left[i]
  if last > 0 then
    local cur = tonumber(redis.call('HGET', rdk, conv)) or 0
    if last > cur then redis.call('HSET', rdk, conv, last); redis.call('PEXPIRE', rdk, hret) end
  end
end
return 0`;

/** users per membership script call */
const MEMBERSHIP_BATCH = 1000;

// ARGV: prefixes [ct, rd, h], now, history ret, MessagePack [[uid, [extra...]], ...].
const TOTALS = `${LUA_LIB}
local pre = cmsgpack.unpack(ARGV[1])
local hcut = tonumber(ARGV[2]) - tonumber(ARGV[3])
local users = cmsgpack.unpack(ARGV[4])
local out = {}
for i = 1, #users do
  local uid = users[i][1]
  out[i] = unreads(pre[2] .. uid, convsOf(pre[1] .. uid, users[i][2], hcut), pre[3])
end
return out`;

/** users per totals script call */
const TOTALS_BATCH = 256;

export class RedisChatStore implements ChatStore {
  private readonly limits: ChatStoreLimits;
  private readonly applyScript;
  private readonly assignScript;
  private readonly inboxScript;
  private readonly historyScript;
  private readonly contactsScript;
  private readonly readScript;
  private readonly totalsScript;
  private readonly membershipScript;
  private readonly pre: {
    apply: Buffer;
    inbox: Buffer;
    history: Buffer;
    contacts: Buffer;
    read: Buffer;
  };

  private readonly chunk: ChunkBounds;

  constructor(
    private readonly ctx: RedisContext,
    limits: Partial<ChatStoreLimits> = {},
    chunk: Partial<ChunkBounds> = {},
  ) {
    this.limits = { ...DEFAULT_CHAT_LIMITS, ...limits };
    this.chunk = { ...DEFAULT_CHUNK, ...chunk };
    const { redis, keys: k } = ctx;
    this.applyScript = defineScript(redis, 'danmakuChatApply', 0, APPLY);
    this.assignScript = defineScript(redis, 'danmakuChatAssign', 0, ASSIGN);
    this.inboxScript = defineScript(redis, 'danmakuChatInbox', 0, INBOX, { buffers: true });
    this.historyScript = defineScript(redis, 'danmakuChatHistory', 0, HISTORY, { buffers: true });
    this.contactsScript = defineScript(redis, 'danmakuChatContacts', 0, CONTACTS, { buffers: true });
    this.readScript = defineScript(redis, 'danmakuChatRead', 0, READ);
    this.totalsScript = defineScript(redis, 'danmakuChatTotals', 0, TOTALS);
    this.membershipScript = defineScript(redis, 'danmakuChatMembership', 0, MEMBERSHIP);
    const p = (...names: string[]) => asBuffer(encode(names));
    this.pre = {
      apply: p(k.chatHistory(''), k.chatTrimmed(''), k.chatInbox(''), k.chatInboxState(''), k.chatContacts(''), k.chatRead('')),
      inbox: p(k.chatInbox(''), k.chatInboxState(''), k.chatHistory('')),
      history: p(k.chatHistory(''), k.chatTrimmed('')),
      contacts: p(k.chatContacts(''), k.chatRead(''), k.chatHistory('')),
      read: p(k.chatContacts(''), k.chatRead(''), k.chatHistory(''), k.seq('')),
    };
  }

  async apply(records: readonly StoredRecord[], now: number): Promise<ApplyResult> {
    const sequenced = await this.assign(records);
    const out: ApplyResult = { applied: 0, skipped: 0, evicted: 0, inboxWrites: 0, unreadChanged: [] };
    const changed = new Set<string>();
    // Up to CHUNKS_IN_FLIGHT chunks are sent ahead: Redis runs them one after the other, in
    // order (a user's versions keep increasing), without waiting for this process in between;
    // more would wait in Redis' queue past the command timeout. If one fails, the whole batch
    // is delivered again and the chunks that were applied are skipped.
    const results: [number, number, number, string[], number][] = [];
    const inFlight: Promise<void>[] = [];
    let failure: { err: unknown } | null = null;
    for (const chunk of chunksOf(sequenced, this.chunk)) {
      if (failure) break;
      const i = results.length;
      results.push([0, 0, 0, [], 0]);
      const call = timed(this.ctx.observer, 'chat', () => this.applyScript(...this.applyArgs(chunk, now)) as Promise<[number, number, number, string[], number]>);
      // Settled here, never left rejected without a handler: the first failure fails the batch.
      inFlight.push(call.then((r) => void (results[i] = r), (err: unknown) => void (failure ??= { err })));
      if (inFlight.length >= CHUNKS_IN_FLIGHT) await inFlight.shift();
    }
    await Promise.all(inFlight);
    if (failure) throw (failure as { err: unknown }).err;
    for (const [applied, skipped, evicted, uids, entries] of results) {
      out.inboxWrites += entries;
      out.applied += applied;
      out.skipped += skipped;
      out.evicted += evicted;
      for (const u of uids) changed.add(u);
    }
    out.unreadChanged = [...changed];
    return out;
  }

  /** Unsequenced records with the seq they were given (the same on a replay) written in. */
  private async assign(records: readonly StoredRecord[]): Promise<readonly StoredRecord[]> {
    const unsequenced = records.filter((r) => r.s === 0);
    if (unsequenced.length === 0) return records;
    const { keys } = this.ctx;
    const packed = asBuffer(encode(unsequenced.map((r) => [r.id, r.c])));
    const seqs = await timed(this.ctx.observer, 'chat', () => this.assignScript(keys.chatAssigned(''), keys.seq(''), ASSIGNED_ID_TTL_MS, packed) as Promise<number[]>);
    const given = new Map(unsequenced.map((r, i) => [r, seqs[i]!]));
    return records.map((r) => {
      const s = given.get(r);
      return s === undefined ? r : { ...r, s, m: withSeq(r.m, s) };
    });
  }

  private applyArgs(chunk: readonly StoredRecord[], now: number): (Buffer | number)[] {
    const { historyRetentionMs: hret, inboxRetentionMs: iret, inboxMax, contactsMax } = this.limits;
    // Recipient lists repeat (every message to a group names its members): each is sent once.
    const lists: (readonly string[])[] = [];
    const listIndex = new Map<readonly string[] | string, number>();
    const recs: unknown[] = [];
    const members: Buffer[] = [];
    for (const r of chunk) {
      let i = listIndex.get(r.r);
      if (i === undefined) {
        const key = r.r.join(' ');
        i = listIndex.get(key);
        if (i === undefined) {
          i = lists.push(new Set(r.r).size === r.r.length ? r.r : [...new Set(r.r)]); // a uid named twice: one entry
          listIndex.set(key, i);
        }
        listIndex.set(r.r, i);
      }
      recs.push([r.c, r.s, r.t, r.u, i]);
      members.push(Buffer.concat([Buffer.from(String(r.t).padStart(TIME_DIGITS, '0'), 'latin1'), r.m]));
    }
    const params = [now, hret, iret, inboxMax, contactsMax, Math.max(1, Math.floor(iret / REFRESH_STEPS)), Math.max(1, Math.floor(hret / REFRESH_STEPS)), Math.floor(inboxMax / INBOX_SLACK)];
    return [this.pre.apply, asBuffer(encode(params)), asBuffer(encode(recs)), asBuffer(encode(lists)), ...members];
  }

  async inbox(uid: string, q: { after: number } | { latest: true }, limit: number, now: number): Promise<InboxPage> {
    const latest = 'latest' in q;
    const after = latest ? 0 : q.after;
    checkCursor(after, now);
    if (limit <= 0) return { items: [], cursor: after, more: false };
    const { inboxRetentionMs, historyRetentionMs } = this.limits;
    const flat = await timed(this.ctx.observer, 'chat', () => this.inboxScript(this.pre.inbox, uid, latest ? '1' : '0', after, limit, now, inboxRetentionMs, historyRetentionMs, this.limits.inboxMax) as Promise<(number | Buffer)[]>);
    if (flat[0] === -1) throw new OutOfRetentionError(`inbox of ${uid}: entries after ${after} are past retention`);
    const items: InboxPage['items'] = [];
    let cursor = after;
    for (let i = 1; i + 1 < flat.length; i += 2) {
      cursor = flat[i] as number;
      const m = flat[i + 1] as Buffer;
      if (m.length > TIME_DIGITS) items.push({ v: cursor, m: m.subarray(TIME_DIGITS) });
    }
    return { items, cursor, more: flat[0] === 1 };
  }

  async history(conv: string, before: number | undefined, limit: number, now: number): Promise<HistoryPage> {
    if (limit <= 0) return { items: [], more: false, trimmed: false };
    const flat = await timed(this.ctx.observer, 'chat', () => this.historyScript(this.pre.history, conv, before ?? '', limit, now, this.limits.historyRetentionMs) as Promise<(number | Buffer)[]>);
    if (flat[0] === -1) throw new OutOfRetentionError(`history of ${conv} before ${before} is past retention`);
    const items = (flat.slice(2) as Buffer[]).map((m) => m.subarray(TIME_DIGITS));
    return { items, more: flat[0] === 1, trimmed: flat[1] === 1 };
  }

  async contacts(uid: string, limit: number, extra: readonly string[], now: number): Promise<{ contacts: Contact[]; total: number }> {
    const flat = await timed(this.ctx.observer, 'chat', () => this.contactsScript(this.pre.contacts, uid, Math.max(0, limit), now, this.limits.historyRetentionMs, asBuffer(encode(extra))) as Promise<(number | Buffer)[]>);
    const contacts: Contact[] = [];
    for (let i = 1; i + 4 < flat.length; i += 5) {
      const last = flat[i + 4] as Buffer;
      contacts.push({ c: flat[i]!.toString(), t: flat[i + 1] as number, read: flat[i + 2] as number, unread: flat[i + 3] as number, last: last.length > TIME_DIGITS ? last.subarray(TIME_DIGITS) : null });
    }
    return { contacts, total: flat[0] as number };
  }

  async read(uid: string, conv: string, seq: number, extra: readonly string[], now: number): Promise<{ read: number; unread: number; total: number }> {
    const [read, unread, total] = await timed(this.ctx.observer, 'chat', () => this.readScript(this.pre.read, uid, conv, Math.max(0, Math.floor(seq)), now, this.limits.historyRetentionMs, asBuffer(encode(extra))) as Promise<number[]>);
    return { read: read!, unread: unread!, total: total! };
  }

  async membership(conv: string, joined: readonly string[], left: readonly string[], _now: number): Promise<void> {
    for (let i = 0; i < Math.max(joined.length, left.length); i += MEMBERSHIP_BATCH) {
      const j = asBuffer(encode(joined.slice(i, i + MEMBERSHIP_BATCH)));
      const l = asBuffer(encode(left.slice(i, i + MEMBERSHIP_BATCH)));
      await timed(this.ctx.observer, 'chat', () => this.membershipScript(this.pre.read, conv, this.limits.historyRetentionMs, j, l));
    }
  }

  async totals(uids: readonly string[], extra: (uid: string) => readonly string[], now: number): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const distinct = [...new Set(uids)];
    for (let i = 0; i < distinct.length; i += TOTALS_BATCH) {
      const batch = distinct.slice(i, i + TOTALS_BATCH);
      const packed = asBuffer(encode(batch.map((u) => [u, extra(u)])));
      const totals = await timed(this.ctx.observer, 'chat', () => this.totalsScript(this.pre.contacts, now, this.limits.historyRetentionMs, packed) as Promise<number[]>);
      batch.forEach((u, j) => out.set(u, totals[j]!));
    }
    return out;
  }
}

/** Records in script-call chunks within the bounds above; one record is never split. */
function* chunksOf(records: readonly StoredRecord[], bounds: ChunkBounds): Generator<StoredRecord[]> {
  let chunk: StoredRecord[] = [];
  let entries = 0;
  let bytes = 0;
  for (const r of records) {
    const e = r.r.length;
    const b = r.m.byteLength; // recipient lists travel once per distinct list: bounded by entries
    if (chunk.length > 0 && (chunk.length >= bounds.records || entries + e > bounds.entries || bytes + b > bounds.bytes)) {
      yield chunk;
      chunk = [];
      entries = 0;
      bytes = 0;
    }
    chunk.push(r);
    entries += e;
    bytes += b;
  }
  if (chunk.length > 0) yield chunk;
}
