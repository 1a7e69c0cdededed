// Redis key names of every Redis-backed seam (store and registry), built in this one place
// (documented in docs/cluster.md). Every key starts with the configured prefix (REDIS_PREFIX,
// default `danmaku:`), so that several deployments or test runs can share one Redis.

export interface Keys {
  readonly prefix: string;
  /** STRING counter: the last sequence number of a scope (`room:<id>`, `group:<id>`, ...) */
  seq(scope: string): string;
  /**
   * ZSET, score = seq, member = 13-digit zero-padded t (ms) + the encoded item: the ordinary
   * items (danmaku) of a room's recovery window
   */
  recoveryOrdinary(room: string): string;
  /** ZSET like recoveryOrdinary: the never-shed items (gifts, notices) of a room's window */
  recoveryKept(room: string): string;
  /** HASH {e: epoch, f: floor, kf: keepFloor}: a room's recovery window's life and floors */
  recoveryMeta(room: string): string;
  /** HASH room -> local members: one gateway's online report (expires with its ttl) */
  onlineReport(gatewayId: string): string;
  /** ZSET gateway id -> expiry (ms): gateways whose online reports are current */
  onlineGateways(): string;
  /** STRING "<tokens> <at ms>": a token bucket (`tb:`; before issue 9 a HASH under `rl:`) */
  bucket(key: string): string;
  /** STRING: a de-duplication claim; value = the seq of the accepted message, -1 while in flight */
  dedupe(key: string): string;
  /** HASH gateway id -> connections: where a user is connected */
  userGateways(uid: string): string;
  /** SET of uids: the users one gateway has registered (for cleanup when it dies) */
  gatewayUsers(gatewayId: string): string;
  /** ZSET gateway id -> expiry (ms): live gateways, kept by their heartbeats */
  gateways(): string;
  /** STRING, JSON with a PX ttl: a gateway's load announcement (GatewayLoad, for GET /entry) */
  gatewayLoad(gatewayId: string): string;
  /** HASH created -> ms: a group exists */
  group(id: string): string;
  /** SET of uids: a group's members */
  groupMembers(id: string): string;
  /** SET of group ids: the groups a user is a member of (kept with groupMembers, atomically) */
  userGroups(uid: string): string;
  /**
   * ZSET, score = seq, member = 13-digit zero-padded accept time (ms) + the encoded message:
   * a conversation's history, each message stored once (retention by the time prefix)
   */
  chatHistory(conv: string): string;
  /** STRING: the highest seq trimmed from a conversation's history (past retention) */
  chatTrimmed(conv: string): string;
  /**
   * LIST of segments, oldest first: a user's inbox (references to history). A segment holds the
   * entries one write gave the user: `<first version> <count>` then `\n<seq> <conv>` per entry,
   * versions consecutive from the first (one RPUSH per user and write, not one per entry)
   */
  chatInbox(uid: string): string;
  /**
   * STRING "<v> <e> <n> <o>": a user's inbox state: last version given, highest version
   * evicted, an upper bound of the entries held, a lower bound of the oldest one's version
   */
  chatInboxState(uid: string): string;
  /** ZSET, score = time of the last message (ms), member = conv: a user's contacts */
  chatContacts(uid: string): string;
  /** HASH conv -> read seq: how far a user has read each conversation */
  chatRead(uid: string): string;
  /** STRING: the seq given to an unsequenced message (by its server id), for its replays */
  chatAssigned(id: string): string;
  /** STRING counter: the moderation version, +1 with every change of mutes, bans or word lists */
  modVersion(): string;
  /** HASH `<uid>|<room or *>` -> JSON {uid, room, until?, by, source, reason?, at}: mutes */
  modMutes(): string;
  /** HASH `<uid>|<room>` -> JSON, as modMutes: room bans */
  modBans(): string;
  /** HASH list name -> JSON {name, action, words}: the word lists of the filter */
  modLists(): string;
  /** HASH id -> JSON: items held for review; ids from modHeldSeq */
  modHeld(): string;
  /** STRING counter: the last id given to a held item */
  modHeldSeq(): string;
  /** STRING counter with a PX ttl (the window): filter hits of `<uid>|<room or *>`, for auto-mute */
  modHits(key: string): string;
  /** STRING with a PX ttl: a process's marker, written before each WAIT for replicas (REDIS_WAIT_REPLICAS, replica-wait.ts) */
  replicaMarker(processId: string): string;
}

export function keys(prefix: string): Keys {
  return {
    prefix,
    seq: (scope) => `${prefix}seq:${scope}`,
    recoveryOrdinary: (room) => `${prefix}rw:o:${room}`,
    recoveryKept: (room) => `${prefix}rw:k:${room}`,
    recoveryMeta: (room) => `${prefix}rw:m:${room}`,
    onlineReport: (gw) => `${prefix}online:gw:${gw}`,
    onlineGateways: () => `${prefix}online:gws`,
    bucket: (key) => `${prefix}tb:${key}`,
    dedupe: (key) => `${prefix}dd:${key}`,
    userGateways: (uid) => `${prefix}reg:u:${uid}`,
    gatewayUsers: (gw) => `${prefix}reg:gw:${gw}`,
    gateways: () => `${prefix}reg:gws`,
    gatewayLoad: (gw) => `${prefix}reg:load:${gw}`,
    group: (id) => `${prefix}grp:${id}`,
    groupMembers: (id) => `${prefix}grp:${id}:m`,
    userGroups: (uid) => `${prefix}grp:u:${uid}`,
    chatHistory: (conv) => `${prefix}chat:h:${conv}`,
    chatTrimmed: (conv) => `${prefix}chat:hm:${conv}`,
    chatInbox: (uid) => `${prefix}chat:ib:${uid}`,
    chatInboxState: (uid) => `${prefix}chat:iv:${uid}`,
    chatContacts: (uid) => `${prefix}chat:ct:${uid}`,
    chatRead: (uid) => `${prefix}chat:rd:${uid}`,
    chatAssigned: (id) => `${prefix}chat:id:${id}`,
    modVersion: () => `${prefix}mod:ver`,
    modMutes: () => `${prefix}mod:mutes`,
    modBans: () => `${prefix}mod:bans`,
    modLists: () => `${prefix}mod:lists`,
    modHeld: () => `${prefix}mod:held`,
    modHeldSeq: () => `${prefix}mod:held:seq`,
    modHits: (key) => `${prefix}mod:hits:${key}`,
    replicaMarker: (id) => `${prefix}wait:${id}`,
  };
}
