// One typed, validated configuration object, parsed once at boot from the environment.
// Nothing else reads process.env.

import { readFileSync } from 'node:fs';
import { parseTokenKeys } from './auth/keys.js';
import type { WindowLimits } from './store/history/window.js';
import { CLIENT_IP_HEADERS, parseTrustedProxies, type ClientIpHeader } from './gateway/client-address.js';
import { ORIGIN_PATTERN } from './gateway/ip-limits.js';
import { readTlsPair } from './gateway/tls.js';

export type Role = 'gateway' | 'logic' | 'all';

/** permessage-deflate on the WebSocket port (src/gateway/compression.ts) */
export type Compression = 'off' | 'shared';

export interface Config {
  readonly production: boolean;
  /** which roles this process runs */
  readonly role: Role;
  /** cluster mode when NATS and Redis (REDIS_URL or REDIS_SENTINELS) are set; standalone (memory bus and store) when neither */
  readonly natsUrl: string | null;
  /** with sentinels: only its credentials and db are used (the primary's address comes from them) */
  readonly redisUrl: string | null;
  /** Redis through Sentinel (docs/cluster.md, "Redis high availability: Sentinel"); null: REDIS_URL is the one Redis */
  readonly redisSentinel: RedisSentinelConfig | null;
  /** first token of every NATS subject (src/bus/subjects.ts) */
  readonly subjectPrefix: string;
  /** prefix of every Redis key (src/redis/keys.ts) */
  readonly redisPrefix: string;
  /** replicas that must hold a gift's, notice's or stored chat batch's writes before it is acknowledged (Redis WAIT); 0: none */
  readonly redisWaitReplicas: number;
  /** how long the acknowledgement waits for them (WAIT's timeout): after it, ERROR 30 */
  readonly redisWaitTimeoutMs: number;
  /** bearer secret of the admin HTTP API (the logic role's routes, the gateway's drain routes); null: the API is disabled */
  readonly adminSecret: string | null;
  readonly registryHeartbeatMs: number;
  readonly registryTtlMs: number;
  readonly groupMaxMembers: number;
  readonly host: string;
  readonly port: number;
  readonly metricsPort: number;
  /** the admin API's own port and address (logic and gateway processes; loopback unless set) */
  readonly adminPort: number;
  readonly adminHost: string;
  /** this process's id: the gateway id in the registry and NATS subjects, and a metric label */
  readonly gatewayId: string;
  readonly logLevel: string;
  readonly tokenSecret: string;
  readonly allowGuests: boolean;
  /** the gateway serves the SDK bundles and the demo page on its port (src/gateway/web.ts) */
  readonly web: boolean;
  /** longest token accepted; a longer one gets close 4504 */
  readonly maxTokenBytes: number;
  /** longest HTTP request head (request line and headers) uWS accepts; a longer one gets HTTP 431 */
  readonly maxHeaderBytes: number;
  readonly maxFrameBytes: number;
  readonly maxTextLength: number;
  readonly mergeMaxMessages: number;
  readonly mergeWindowMs: number;
  /** items in the plain JOINED replay (at most the recovery window's two sizes together) */
  readonly replaySize: number;
  /** the room recovery window (docs/protocol.md, "Resuming a room"): ordinary items kept */
  readonly roomRecoverySize: number;
  /** ordinary items' age limit in the recovery window */
  readonly roomRecoveryMs: number;
  /** never-shed items (gifts, notices) kept in the recovery window */
  readonly roomRecoveryKeepSize: number;
  /** never-shed items' age limit in the recovery window */
  readonly roomRecoveryKeepMs: number;
  /** how far before a resuming client's last item the replay reaches back (out-of-order arrivals) */
  readonly roomRecoveryMarginMs: number;
  readonly roomDisplayCap: number;
  readonly onlineIntervalMs: number;
  readonly heartbeatIntervalMs: number;
  readonly idleTimeoutMs: number;
  readonly outboundSoftLimitBytes: number;
  /** `shared`: permessage-deflate with uWS's shared compressor for clients that offer it */
  readonly compression: Compression;
  readonly slowConsumerGraceMs: number;
  readonly connFrameRate: number;
  readonly connFrameBurst: number;
  readonly floodCloseAfter: number;
  readonly userMessageRate: number;
  readonly userMessageBurst: number;
  readonly dedupeTtlMs: number;
  readonly upstreamTimeoutMs: number;
  readonly upstreamMaxPending: number;
  readonly logicMaxInflight: number;
  readonly shutdownTimeoutMs: number;
  /** drain (src/gateway/drain.ts): not ready while still serving and admitting, before clients are moved; 0: none */
  readonly drainNotReadyMs: number;
  /** drain: clients are moved at a steady rate over this long; 0: all at once */
  readonly drainWindowMs: number;
  /** chat storage (docs/protocol.md, "Offline inbox and history"; docs/cluster.md, "Chat storage") */
  readonly historyRetentionMs: number;
  readonly inboxRetentionMs: number;
  readonly inboxMax: number;
  /** inbox messages pushed in the INBOX frame on connect; 0: no push */
  readonly inboxPushSize: number;
  readonly contactsMax: number;
  /** groups with more members get no per-member inbox or contacts writes */
  readonly bigGroupSize: number;
  /** limit of the storage queue (JetStream stream, or the standalone in-process queue) */
  readonly chatQueueMaxBytes: number;
  /** replicas of the storage stream (a JetStream cluster of at least that many servers) */
  readonly chatQueueReplicas: number;
  /** how long a storage writer that died holds the batch it took before it is delivered again */
  readonly chatQueueAckWaitMs: number;
  /** whether this logic process also runs a storage writer */
  readonly storeWriter: boolean;
  /** the unread total pushed to a user at most this often after new messages */
  readonly unreadPushIntervalMs: number;
  /** push ACK (docs/protocol.md, "Acknowledging pushes"): first check after a tracked push */
  readonly pushAckTimeoutMs: number;
  /** between a resend and the next check */
  readonly pushResendIntervalMs: number;
  /** resends of an unacknowledged push before it is left to the inbox */
  readonly pushResends: number;
  /** unacknowledged pushes kept per connection; the oldest is given up beyond it */
  readonly pushPendingMax: number;
  /** how long a logic process reuses a registry answer for live chat delivery; 0: never */
  readonly registryCacheMs: number;
  /** how long a logic process reuses a group's member list; 0: read for every message */
  readonly groupCacheMs: number;
  /** admission (src/gateway/admission.ts): open connections at which upgrades are refused; 0: no cap */
  readonly maxConnections: number;
  /** upgrades are refused while the event-loop lag has stalled above this (ms) in each of the last two seconds; 0: never */
  readonly admitMaxLagMs: number;
  /** upgrades are refused while all send buffers together hold more than this (bytes); 0: never */
  readonly admitMaxOutboundBytes: number;
  /**
   * load-aware entry (GET /entry): the ws(s):// URL clients use to reach this gateway; null:
   * ws://<HOST, or 127.0.0.1 for a wildcard HOST>:<bound port>/ (gateway/entry.ts)
   */
  readonly publicUrl: string | null;
  /** adaptive degradation (src/gateway/degrade.ts): off keeps every room as configured */
  readonly degrade: boolean;
  /** the signals' thresholds: event-loop lag (ms), bytes in send buffers, CPU share (1 = a core); 0 leaves one out */
  readonly degradeLagMs: number;
  readonly degradeOutboundBytes: number;
  readonly degradeCpu: number;
  /** local members from which a room is hot (degraded while the level is above 0) */
  readonly degradeMinMembers: number;
  // moderation (docs/moderation.md)
  /** a JSON file of word lists loaded into the store at start when it has none; null: none */
  readonly filterFile: string | null;
  /** filter rejects or holds within filterAutomuteWindowMs that mute the sender; 0: no auto-mute */
  readonly filterAutomuteHits: number;
  readonly filterAutomuteWindowMs: number;
  /** how long an auto-mute lasts (ms) */
  readonly filterAutomuteMs: number;
  /** how often each process compares the store's moderation version (ms; a safety net for lost events); 0: never */
  readonly moderationPollMs: number;
  /** proxies whose CLIENT_IP_HEADER names the client (IPs and CIDRs); empty: the socket's peer is the client */
  readonly trustedProxies: readonly string[];
  readonly clientIpHeader: ClientIpHeader;
  /** per-client limits at the upgrade (gateway/admission.ts, ip-limits.ts); 0 turns one off */
  readonly maxConnectionsPerIp: number;
  readonly ipConnectRate: number;
  readonly ipConnectBurst: number;
  readonly maxConnectionsPerUser: number;
  /** origins browsers may connect from (exact, or `scheme://*.domain`); empty: any */
  readonly allowedOrigins: readonly string[];
  /** TLS on the WebSocket port (gateway/tls.ts): PEM file paths, both or neither; null: plain ws */
  readonly tlsCert: string | null;
  readonly tlsKey: string | null;
  readonly tlsPassphrase: string | null;
  /** how often the certificate files' mtimes are checked for a reload (ms); 0: never */
  readonly tlsReloadMs: number;
  // Tokens (issue 15; src/auth/token.ts, docs/protocol.md "Tokens")
  /** kid -> secret (TOKEN_KEYS): tokens whose header names a kid are verified with that key only */
  readonly tokenKeys: ReadonlyMap<string, string>;
  /** the `aud` every token must carry; '': not checked */
  readonly tokenAudience: string;
  /** the `iss` every token must carry; '': not checked */
  readonly tokenIssuer: string;
  /** an open connection whose token's exp has passed is closed with 4502 (false: exp checked at connect only) */
  readonly tokenExpiryClose: boolean;
  /** how long after exp that close comes (ms) */
  readonly tokenExpiryGraceMs: number;
}

/** Where the Redis primary is found when Sentinel manages it. */
export interface RedisSentinelConfig {
  readonly sentinels: ReadonlyArray<{ readonly host: string; readonly port: number }>;
  /** the master name the sentinels monitor (`sentinel monitor <name> ...`) */
  readonly name: string;
  /** the sentinels' own password (`requirepass` in sentinel.conf); null: none */
  readonly password: string | null;
}

/** The standalone development secret. Refused when NODE_ENV=production. */
export const DEV_TOKEN_SECRET = 'danmaku-dev-secret-change-me';

/** The standalone development admin secret. Refused when NODE_ENV=production. */
export const DEV_ADMIN_SECRET = 'danmaku-dev-admin-secret';

/** Ids that become NATS subject tokens (gateway ids): no dots, wildcards or spaces. */
export const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const DAY_MS = 86_400_000;

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The variables that may come from a file (`<NAME>_FILE`): the secrets, and the URLs that carry
 * credentials. Only these: other readers of the environment (the image's HEALTHCHECK reading
 * METRICS_PORT, libraries reading NODE_ENV) would not see a value from a file.
 */
export const FILE_KEYS: ReadonlySet<string> = new Set(['TOKEN_SECRET', 'TOKEN_KEYS', 'ADMIN_SECRET', 'NATS_URL', 'REDIS_URL', 'REDIS_SENTINEL_PASSWORD', 'TLS_PASSPHRASE']);

/** A secret as the server reads it (`<key>` or `<key>_FILE`), for the CLI; undefined when unset. */
export function envSecret(key: string, env: Env = process.env): string | undefined {
  const v = lookup(env, key);
  return v === '' ? undefined : v;
}

/**
 * The value of `key`: the variable itself or, when `<key>_FILE` is set (for FILE_KEYS only), the content of the file
 * it names less one trailing newline. Any variable can come from a file this way; it is meant for
 * secrets mounted by Kubernetes or compose (TOKEN_SECRET_FILE=/run/secrets/token-secret), which
 * then never appear in the environment or `docker inspect`. Setting both, an unreadable file and
 * an empty one are errors: each is a mistake in the mount, never a reason to fall back to a default.
 */
function lookup(env: Env, key: string): string | undefined {
  if (!FILE_KEYS.has(key)) return env[key];
  const file = env[`${key}_FILE`];
  if (file === undefined || file === '') return env[key];
  if (env[key] !== undefined && env[key] !== '') throw new ConfigError(`set ${key} or ${key}_FILE, not both`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
    throw new ConfigError(`${key}_FILE: cannot read ${JSON.stringify(file)} (${why})`, { cause: err });
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new ConfigError(`${key}_FILE: ${JSON.stringify(file)} is empty`);
  return value;
}

function int(env: Env, key: string, def: number, min: number, max: number): number {
  const raw = lookup(env, key);
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${key} must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  }
  return n;
}

function bool(env: Env, key: string, def: boolean): boolean {
  const raw = lookup(env, key);
  if (raw === undefined || raw === '') return def;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${key} must be true or false, got ${JSON.stringify(raw)}`);
}

/** A plain decimal number (`0.9`, `2`, `.5`) in [min, max]: no hex, exponent, sign or spaces, which Number() would take. */
function num(env: Env, key: string, def: number, min: number, max: number): number {
  const raw = lookup(env, key);
  if (raw === undefined || raw === '') return def;
  const n = /^(\d+(\.\d*)?|\.\d+)$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new ConfigError(`${key} must be a decimal number in [${min}, ${max}] (digits and one point), got ${JSON.stringify(raw)}`);
  }
  return n;
}

function str(env: Env, key: string, def: string): string {
  const raw = lookup(env, key);
  return raw === undefined || raw === '' ? def : raw;
}

export function loadConfig(env: Env = process.env): Config {
  const production = env.NODE_ENV === 'production';
  const tokenSecret = str(env, 'TOKEN_SECRET', DEV_TOKEN_SECRET);
  if (production && tokenSecret === DEV_TOKEN_SECRET) {
    throw new ConfigError('TOKEN_SECRET is the public development secret; set your own secret when NODE_ENV=production');
  }
  if (tokenSecret.length < 16) throw new ConfigError('TOKEN_SECRET must be at least 16 characters');
  let tokenKeys: ReadonlyMap<string, string>;
  try {
    tokenKeys = parseTokenKeys(str(env, 'TOKEN_KEYS', ''));
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err), { cause: err });
  }
  const heartbeatIntervalMs = int(env, 'HEARTBEAT_INTERVAL_MS', 30_000, 100, 600_000);
  const idleTimeoutMs = int(env, 'IDLE_TIMEOUT_MS', heartbeatIntervalMs * 2 + 15_000, 200, 1_800_000);
  if (idleTimeoutMs <= heartbeatIntervalMs) {
    throw new ConfigError('IDLE_TIMEOUT_MS must be longer than HEARTBEAT_INTERVAL_MS');
  }
  const connFrameRate = int(env, 'CONN_FRAME_RATE', 20, 1, 100_000);
  const natsUrl = str(env, 'NATS_URL', '') || null;
  const redisUrl = str(env, 'REDIS_URL', '') || null;
  const redisSentinel = sentinel(env);
  if ((natsUrl === null) !== (redisUrl === null && redisSentinel === null)) {
    throw new ConfigError('cluster mode needs both NATS_URL and REDIS_URL (or REDIS_SENTINELS) (standalone mode: set neither)');
  }
  const redisWaitReplicas = int(env, 'REDIS_WAIT_REPLICAS', 0, 0, 16);
  if (redisWaitReplicas > 0 && natsUrl === null) {
    throw new ConfigError('REDIS_WAIT_REPLICAS needs cluster mode: in standalone mode nothing is replicated');
  }
  const redisWaitTimeoutMs = int(env, 'REDIS_WAIT_TIMEOUT_MS', 500, 10, 10_000);
  // A send can wait for the round under way and then its own: both within the gateway's
  // timeout, or the gateway answers ERROR 30 while the item is published after all.
  const upstreamTimeoutMs = int(env, 'UPSTREAM_TIMEOUT_MS', 3_000, 50, 60_000);
  if (redisWaitReplicas > 0 && 2 * redisWaitTimeoutMs >= upstreamTimeoutMs) {
    throw new ConfigError(`REDIS_WAIT_TIMEOUT_MS (${redisWaitTimeoutMs}) must be under half of UPSTREAM_TIMEOUT_MS (${upstreamTimeoutMs}): a send may wait for two rounds`);
  }
  const role = str(env, 'ROLE', 'all');
  if (role !== 'gateway' && role !== 'logic' && role !== 'all') {
    throw new ConfigError(`ROLE must be gateway, logic or all, got ${JSON.stringify(role)}`);
  }
  if (role !== 'all' && natsUrl === null) {
    throw new ConfigError(`ROLE=${role} needs cluster mode (NATS_URL and REDIS_URL); standalone runs every role`);
  }
  const gatewayId = str(env, 'GATEWAY_ID', `${role === 'logic' ? 'logic' : 'gw'}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  if (!NODE_ID.test(gatewayId)) throw new ConfigError(`GATEWAY_ID must match ${NODE_ID}, got ${JSON.stringify(gatewayId)}`);
  const subjectPrefix = str(env, 'NATS_SUBJECT_PREFIX', 'danmaku');
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(subjectPrefix)) {
    throw new ConfigError(`NATS_SUBJECT_PREFIX must be dot-separated tokens of [A-Za-z0-9_-], got ${JSON.stringify(subjectPrefix)}`);
  }
  // The public development secret only in standalone development: in a cluster the API is
  // reached from other hosts (ADMIN_HOST), so there it must be set on purpose.
  let adminSecret: string | null = str(env, 'ADMIN_SECRET', DEV_ADMIN_SECRET);
  if (adminSecret === DEV_ADMIN_SECRET && (production || natsUrl !== null)) adminSecret = null;
  else if (adminSecret.length < 16) throw new ConfigError('ADMIN_SECRET must be at least 16 characters');
  const registryHeartbeatMs = int(env, 'REGISTRY_HEARTBEAT_MS', 5_000, 50, 600_000);
  const registryTtlMs = int(env, 'REGISTRY_TTL_MS', registryHeartbeatMs * 3, 100, 3_600_000);
  if (registryTtlMs <= registryHeartbeatMs) throw new ConfigError('REGISTRY_TTL_MS must be longer than REGISTRY_HEARTBEAT_MS');
  const maxHeaderBytes = int(env, 'MAX_HEADER_BYTES', 16 * 1024, 4096, 64 * 1024);
  // The default leaves the other headers 2 KiB under a smaller MAX_HEADER_BYTES too.
  const maxTokenBytes = int(env, 'MAX_TOKEN_BYTES', Math.min(4096, maxHeaderBytes - 2048), 256, 64 * 1024);
  if (maxTokenBytes > maxHeaderBytes - 2048) {
    // a token that only just fits must leave room for the other headers, or it gets HTTP 431 rather than close 4504
    throw new ConfigError('MAX_TOKEN_BYTES must be at least 2048 below MAX_HEADER_BYTES');
  }
  const historyRetentionMs = int(env, 'HISTORY_RETENTION_MS', 180 * DAY_MS, 60_000, 3650 * DAY_MS);
  const inboxRetentionMs = int(env, 'INBOX_RETENTION_MS', 7 * DAY_MS, 60_000, 365 * DAY_MS);
  // An inbox entry points at its message in the conversation's history: the history must keep
  // it at least as long.
  if (inboxRetentionMs > historyRetentionMs) throw new ConfigError('INBOX_RETENTION_MS must not be longer than HISTORY_RETENTION_MS');
  const replaySize = int(env, 'REPLAY_SIZE', 50, 0, 1_000);
  const roomRecoverySize = int(env, 'ROOM_RECOVERY_SIZE', 500, 0, 10_000);
  const roomRecoveryKeepSize = int(env, 'ROOM_RECOVERY_KEEP_SIZE', 1_000, 0, 10_000);
  // The plain replay is the tail of the window: it cannot hold more than the window does.
  if (replaySize > roomRecoverySize + roomRecoveryKeepSize) {
    throw new ConfigError('REPLAY_SIZE must not be more than ROOM_RECOVERY_SIZE + ROOM_RECOVERY_KEEP_SIZE');
  }
  const compression = str(env, 'COMPRESSION', 'off');
  if (compression !== 'off' && compression !== 'shared') {
    throw new ConfigError(`COMPRESSION must be off or shared, got ${JSON.stringify(compression)}`);
  }
  const roomRecoveryMs = int(env, 'ROOM_RECOVERY_MS', 120_000, 1_000, DAY_MS);
  // Never-shed items are the ones a client must not lose: kept at least as long as the others,
  // and at most as long as an idle room's window lives at all (HISTORY_IDLE_MS).
  const roomRecoveryKeepMs = int(env, 'ROOM_RECOVERY_KEEP_MS', Math.max(600_000, roomRecoveryMs), 1_000, DAY_MS);
  if (roomRecoveryKeepMs < roomRecoveryMs) throw new ConfigError('ROOM_RECOVERY_KEEP_MS must not be shorter than ROOM_RECOVERY_MS');
  return {
    production,
    role,
    natsUrl,
    redisUrl,
    redisSentinel,
    subjectPrefix,
    redisPrefix: str(env, 'REDIS_PREFIX', 'danmaku:'),
    redisWaitReplicas,
    redisWaitTimeoutMs,
    adminSecret,
    registryHeartbeatMs,
    registryTtlMs,
    groupMaxMembers: int(env, 'GROUP_MAX_MEMBERS', 10_000, 1, 1_000_000),
    host: str(env, 'HOST', '0.0.0.0'),
    port: int(env, 'PORT', 9001, 0, 65535),
    metricsPort: int(env, 'METRICS_PORT', 9100, 0, 65535),
    adminPort: int(env, 'ADMIN_PORT', 9102, 0, 65535),
    adminHost: str(env, 'ADMIN_HOST', '127.0.0.1'),
    gatewayId,
    logLevel: str(env, 'LOG_LEVEL', 'info'),
    tokenSecret,
    allowGuests: bool(env, 'ALLOW_GUESTS', true),
    web: bool(env, 'WEB', true),
    maxTokenBytes,
    maxHeaderBytes,
    maxFrameBytes: int(env, 'MAX_FRAME_BYTES', 4096, 256, 1 << 20),
    maxTextLength: int(env, 'MAX_TEXT_LENGTH', 100, 1, 2000),
    mergeMaxMessages: int(env, 'MERGE_MAX_MESSAGES', 64, 1, 10_000),
    mergeWindowMs: int(env, 'MERGE_WINDOW_MS', 50, 0, 5_000),
    replaySize,
    roomRecoverySize,
    roomRecoveryMs,
    roomRecoveryKeepSize,
    roomRecoveryKeepMs,
    roomRecoveryMarginMs: int(env, 'ROOM_RECOVERY_MARGIN_MS', 1_000, 0, 60_000),
    roomDisplayCap: int(env, 'ROOM_DISPLAY_CAP', 60, 1, 1_000_000),
    onlineIntervalMs: int(env, 'ONLINE_INTERVAL_MS', 5_000, 100, 600_000),
    heartbeatIntervalMs,
    idleTimeoutMs,
    outboundSoftLimitBytes: int(env, 'OUTBOUND_SOFT_LIMIT_BYTES', 256 * 1024, 1024, 64 << 20),
    compression,
    slowConsumerGraceMs: int(env, 'SLOW_CONSUMER_GRACE_MS', 10_000, 100, 600_000),
    connFrameRate,
    connFrameBurst: int(env, 'CONN_FRAME_BURST', connFrameRate * 2, 1, 200_000),
    floodCloseAfter: int(env, 'FLOOD_CLOSE_AFTER', 50, 1, 1_000_000),
    userMessageRate: int(env, 'USER_MESSAGE_RATE', 5, 1, 100_000),
    userMessageBurst: int(env, 'USER_MESSAGE_BURST', 10, 1, 1_000_000),
    dedupeTtlMs: int(env, 'DEDUPE_TTL_MS', 120_000, 1_000, 86_400_000),
    upstreamTimeoutMs,
    upstreamMaxPending: int(env, 'UPSTREAM_MAX_PENDING', 1_024, 1, 1_000_000),
    logicMaxInflight: int(env, 'LOGIC_MAX_INFLIGHT', 4_096, 1, 1_000_000),
    shutdownTimeoutMs: int(env, 'SHUTDOWN_TIMEOUT_MS', 5_000, 100, 120_000),
    // Standalone (no NATS) has no load balancer to deregister from and no other gateway to move
    // to: it stops at once unless told otherwise.
    drainNotReadyMs: int(env, 'DRAIN_NOT_READY_MS', natsUrl === null ? 0 : 5_000, 0, 600_000),
    drainWindowMs: int(env, 'DRAIN_WINDOW_MS', natsUrl === null ? 0 : 30_000, 0, 600_000),
    historyRetentionMs,
    inboxRetentionMs,
    inboxMax: int(env, 'INBOX_MAX', 1_000, 10, 100_000),
    inboxPushSize: int(env, 'INBOX_PUSH_SIZE', 50, 0, 200),
    contactsMax: int(env, 'CONTACTS_MAX', 1_000, 10, 100_000),
    bigGroupSize: int(env, 'BIG_GROUP_SIZE', 500, 1, 1_000_000),
    chatQueueMaxBytes: int(env, 'CHAT_QUEUE_MAX_BYTES', 1 << 30, 1 << 20, 2 ** 40),
    chatQueueAckWaitMs: int(env, 'CHAT_QUEUE_ACK_WAIT_MS', 30_000, 1_000, 3_600_000),
    chatQueueReplicas: int(env, 'CHAT_QUEUE_REPLICAS', 1, 1, 5),
    storeWriter: bool(env, 'STORE_WRITER', true),
    unreadPushIntervalMs: int(env, 'UNREAD_PUSH_INTERVAL_MS', 1_000, 50, 60_000),
    pushAckTimeoutMs: int(env, 'PUSH_ACK_TIMEOUT_MS', 5_000, 100, 600_000),
    pushResendIntervalMs: int(env, 'PUSH_RESEND_INTERVAL_MS', 2_000, 100, 600_000),
    pushResends: int(env, 'PUSH_RESENDS', 2, 0, 10),
    pushPendingMax: int(env, 'PUSH_PENDING_MAX', 1_000, 1, 100_000),
    registryCacheMs: int(env, 'REGISTRY_CACHE_MS', 250, 0, 60_000),
    groupCacheMs: int(env, 'GROUP_CACHE_MS', 1_000, 0, 60_000),
    maxConnections: int(env, 'MAX_CONNECTIONS', 0, 0, 10_000_000),
    admitMaxLagMs: int(env, 'ADMIT_MAX_LAG_MS', 200, 0, 60_000),
    admitMaxOutboundBytes: int(env, 'ADMIT_MAX_OUTBOUND_BYTES', 256 << 20, 0, 2 ** 40),
    publicUrl: publicUrl(env),
    degrade: bool(env, 'DEGRADE', true),
    degradeLagMs: int(env, 'DEGRADE_LAG_MS', 200, 0, 60_000),
    degradeOutboundBytes: int(env, 'DEGRADE_OUTBOUND_BYTES', 64 << 20, 0, 2 ** 40),
    degradeCpu: num(env, 'DEGRADE_CPU', 0.9, 0, 64),
    degradeMinMembers: int(env, 'DEGRADE_MIN_MEMBERS', 500, 1, 10_000_000),
    filterFile: str(env, 'FILTER_FILE', '') || null,
    filterAutomuteHits: int(env, 'FILTER_AUTOMUTE_HITS', 5, 0, 1_000),
    filterAutomuteWindowMs: int(env, 'FILTER_AUTOMUTE_WINDOW_MS', 60_000, 1_000, 86_400_000),
    filterAutomuteMs: int(env, 'FILTER_AUTOMUTE_MS', 600_000, 1_000, 31_536_000_000),
    moderationPollMs: int(env, 'MODERATION_POLL_MS', 1_000, 0, 600_000),
    tokenKeys,
    tokenAudience: str(env, 'TOKEN_AUDIENCE', ''),
    tokenIssuer: str(env, 'TOKEN_ISSUER', ''),
    tokenExpiryClose: bool(env, 'TOKEN_EXPIRY_CLOSE', true),
    tokenExpiryGraceMs: int(env, 'TOKEN_EXPIRY_GRACE_MS', 0, 0, DAY_MS),
    ...edge(env),
  };
}

function list(raw: string): string[] {
  return raw
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
}

/** The per-client limits, client addresses behind proxies, and TLS. */
function edge(env: Env) {
  const trustedProxies = list(str(env, 'TRUSTED_PROXIES', ''));
  try {
    parseTrustedProxies(trustedProxies.join(','));
  } catch (err) {
    throw new ConfigError(`TRUSTED_PROXIES: ${(err as Error).message} (IPs and CIDRs separated by commas)`);
  }
  if (trustedProxies.some((p) => /^(0\.0\.0\.0|::)\/0$/.test(p))) throw new ConfigError('TRUSTED_PROXIES must not trust every address (0.0.0.0/0, ::/0): anyone could then choose the address the per-IP limits count; name your proxies');
  const clientIpHeader = str(env, 'CLIENT_IP_HEADER', 'x-forwarded-for').toLowerCase() as ClientIpHeader;
  if (!CLIENT_IP_HEADERS.includes(clientIpHeader)) throw new ConfigError(`CLIENT_IP_HEADER must be one of ${CLIENT_IP_HEADERS.join(', ')}, got ${JSON.stringify(clientIpHeader)}`);
  const allowedOrigins = list(str(env, 'ALLOWED_ORIGINS', ''));
  for (const o of allowedOrigins) {
    if (!ORIGIN_PATTERN.test(o)) throw new ConfigError(`ALLOWED_ORIGINS entries must be origins like https://a.example or https://*.example.com (scheme required, no path), got ${JSON.stringify(o)}`);
  }
  const tlsCert = str(env, 'TLS_CERT', '') || null;
  const tlsKey = str(env, 'TLS_KEY', '') || null;
  const tlsPassphrase = str(env, 'TLS_PASSPHRASE', '') || null;
  if ((tlsCert === null) !== (tlsKey === null)) throw new ConfigError('set both TLS_CERT and TLS_KEY (PEM file paths), or neither');
  if (tlsCert !== null && tlsKey !== null) {
    try {
      readTlsPair({ cert: tlsCert, key: tlsKey, passphrase: tlsPassphrase });
    } catch (err) {
      throw new ConfigError(`TLS_CERT/TLS_KEY: ${(err as Error).message}`, { cause: err });
    }
  } else if (tlsPassphrase !== null) throw new ConfigError('TLS_PASSPHRASE is set but TLS_CERT and TLS_KEY are not');
  return {
    trustedProxies,
    clientIpHeader,
    maxConnectionsPerIp: int(env, 'MAX_CONNECTIONS_PER_IP', 0, 0, 10_000_000),
    ipConnectRate: num(env, 'IP_CONNECT_RATE', 0, 0, 1_000_000),
    ipConnectBurst: int(env, 'IP_CONNECT_BURST', 20, 1, 1_000_000),
    maxConnectionsPerUser: int(env, 'MAX_CONNECTIONS_PER_USER', 0, 0, 1_000_000),
    allowedOrigins,
    tlsCert,
    tlsKey,
    tlsPassphrase,
    tlsReloadMs: int(env, 'TLS_RELOAD_MS', 60_000, 0, DAY_MS),
  };
}

/**
 * REDIS_SENTINELS `host:port,host:port,...` (at least one; IPv6 in brackets), with
 * REDIS_SENTINEL_NAME (default `mymaster`) and REDIS_SENTINEL_PASSWORD; null when unset.
 */
function sentinel(env: Env): RedisSentinelConfig | null {
  const raw = str(env, 'REDIS_SENTINELS', '');
  if (raw === '') {
    for (const key of ['REDIS_SENTINEL_NAME', 'REDIS_SENTINEL_PASSWORD']) {
      if (str(env, key, '') !== '') throw new ConfigError(`${key} is set but REDIS_SENTINELS is not`);
    }
    return null;
  }
  const sentinels = raw.split(',').map((entry) => {
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(entry.trim());
    const port = m ? Number(m[3]) : 0;
    if (!m || port < 1 || port > 65535) {
      throw new ConfigError(`REDIS_SENTINELS must be host:port pairs separated by commas, got ${JSON.stringify(entry)}`);
    }
    return { host: m[1] ?? m[2]!, port };
  });
  const name = str(env, 'REDIS_SENTINEL_NAME', 'mymaster');
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw new ConfigError(`REDIS_SENTINEL_NAME must match [A-Za-z0-9._-]{1,64}, got ${JSON.stringify(name)}`);
  return { sentinels, name, password: str(env, 'REDIS_SENTINEL_PASSWORD', '') || null };
}

/** PUBLIC_URL: an absolute ws:// or wss:// URL without credentials or a fragment. */
function publicUrl(env: Env): string | null {
  const raw = str(env, 'PUBLIC_URL', '');
  if (raw === '') return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`PUBLIC_URL must be an absolute ws:// or wss:// URL, got ${JSON.stringify(raw)}`);
  }
  if ((url.protocol !== 'ws:' && url.protocol !== 'wss:') || url.username !== '' || url.password !== '' || url.hash !== '') {
    throw new ConfigError(`PUBLIC_URL must be a ws:// or wss:// URL without credentials or fragment, got ${JSON.stringify(raw)}`);
  }
  return url.toString();
}

/** The recovery window's bounds, as the stores and the gateway's rooms take them. */
export function recoveryLimits(c: Config): WindowLimits {
  return { size: c.roomRecoverySize, ageMs: c.roomRecoveryMs, keepSize: c.roomRecoveryKeepSize, keepAgeMs: c.roomRecoveryKeepMs };
}
