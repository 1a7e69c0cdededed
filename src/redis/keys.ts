// Redis key names of every Redis-backed seam (store and registry), built in this one place
// (documented in docs/cluster.md). Every key starts with the configured prefix (REDIS_PREFIX,
// default `danmaku:`), so that several deployments or test runs can share one Redis.

export interface Keys {
  readonly prefix: string;
  /** STRING counter: the last sequence number of a scope (`room:<id>`, `group:<id>`, ...) */
  seq(scope: string): string;
  /** ZSET, score = seq, member = the encoded item: a room's replay window */
  history(room: string): string;
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
  /** HASH created -> ms: a group exists */
  group(id: string): string;
  /** SET of uids: a group's members */
  groupMembers(id: string): string;
}

export function keys(prefix: string): Keys {
  return {
    prefix,
    seq: (scope) => `${prefix}seq:${scope}`,
    history: (room) => `${prefix}hist:${room}`,
    onlineReport: (gw) => `${prefix}online:gw:${gw}`,
    onlineGateways: () => `${prefix}online:gws`,
    bucket: (key) => `${prefix}tb:${key}`,
    dedupe: (key) => `${prefix}dd:${key}`,
    userGateways: (uid) => `${prefix}reg:u:${uid}`,
    gatewayUsers: (gw) => `${prefix}reg:gw:${gw}`,
    gateways: () => `${prefix}reg:gws`,
    group: (id) => `${prefix}grp:${id}`,
    groupMembers: (id) => `${prefix}grp:${id}:m`,
  };
}
