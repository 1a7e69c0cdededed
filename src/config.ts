// One typed, validated configuration object, parsed once at boot from the environment.
// Nothing else reads process.env.

export interface Config {
  readonly production: boolean;
  readonly host: string;
  readonly port: number;
  readonly metricsPort: number;
  readonly gatewayId: string;
  readonly logLevel: string;
  readonly tokenSecret: string;
  readonly allowGuests: boolean;
  readonly maxFrameBytes: number;
  readonly maxTextLength: number;
  readonly mergeMaxMessages: number;
  readonly mergeWindowMs: number;
  readonly replaySize: number;
  readonly roomDisplayCap: number;
  readonly onlineIntervalMs: number;
  readonly heartbeatIntervalMs: number;
  readonly idleTimeoutMs: number;
  readonly outboundSoftLimitBytes: number;
  readonly slowConsumerGraceMs: number;
  readonly connFrameRate: number;
  readonly connFrameBurst: number;
  readonly floodCloseAfter: number;
  readonly userMessageRate: number;
  readonly userMessageBurst: number;
  readonly dedupeTtlMs: number;
  readonly upstreamTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
}

/** The standalone development secret. Refused when NODE_ENV=production. */
export const DEV_TOKEN_SECRET = 'danmaku-dev-secret-change-me';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;

function int(env: Env, key: string, def: number, min: number, max: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${key} must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  }
  return n;
}

function bool(env: Env, key: string, def: boolean): boolean {
  const raw = env[key];
  if (raw === undefined || raw === '') return def;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${key} must be true or false, got ${JSON.stringify(raw)}`);
}

function str(env: Env, key: string, def: string): string {
  const raw = env[key];
  return raw === undefined || raw === '' ? def : raw;
}

export function loadConfig(env: Env = process.env): Config {
  const production = env.NODE_ENV === 'production';
  const tokenSecret = str(env, 'TOKEN_SECRET', DEV_TOKEN_SECRET);
  if (production && tokenSecret === DEV_TOKEN_SECRET) {
    throw new ConfigError('TOKEN_SECRET is the public development secret; set your own secret when NODE_ENV=production');
  }
  if (tokenSecret.length < 16) throw new ConfigError('TOKEN_SECRET must be at least 16 characters');
  const heartbeatIntervalMs = int(env, 'HEARTBEAT_INTERVAL_MS', 30_000, 100, 600_000);
  const idleTimeoutMs = int(env, 'IDLE_TIMEOUT_MS', heartbeatIntervalMs * 2 + 15_000, 200, 1_800_000);
  if (idleTimeoutMs <= heartbeatIntervalMs) {
    throw new ConfigError('IDLE_TIMEOUT_MS must be longer than HEARTBEAT_INTERVAL_MS');
  }
  const connFrameRate = int(env, 'CONN_FRAME_RATE', 20, 1, 100_000);
  return {
    production,
    host: str(env, 'HOST', '0.0.0.0'),
    port: int(env, 'PORT', 9001, 0, 65535),
    metricsPort: int(env, 'METRICS_PORT', 9100, 0, 65535),
    gatewayId: str(env, 'GATEWAY_ID', `gw-${process.pid}-${Math.random().toString(36).slice(2, 8)}`),
    logLevel: str(env, 'LOG_LEVEL', 'info'),
    tokenSecret,
    allowGuests: bool(env, 'ALLOW_GUESTS', true),
    maxFrameBytes: int(env, 'MAX_FRAME_BYTES', 4096, 256, 1 << 20),
    maxTextLength: int(env, 'MAX_TEXT_LENGTH', 100, 1, 2000),
    mergeMaxMessages: int(env, 'MERGE_MAX_MESSAGES', 64, 1, 10_000),
    mergeWindowMs: int(env, 'MERGE_WINDOW_MS', 50, 0, 5_000),
    replaySize: int(env, 'REPLAY_SIZE', 50, 0, 1_000),
    roomDisplayCap: int(env, 'ROOM_DISPLAY_CAP', 60, 1, 1_000_000),
    onlineIntervalMs: int(env, 'ONLINE_INTERVAL_MS', 5_000, 100, 600_000),
    heartbeatIntervalMs,
    idleTimeoutMs,
    outboundSoftLimitBytes: int(env, 'OUTBOUND_SOFT_LIMIT_BYTES', 256 * 1024, 1024, 64 << 20),
    slowConsumerGraceMs: int(env, 'SLOW_CONSUMER_GRACE_MS', 10_000, 100, 600_000),
    connFrameRate,
    connFrameBurst: int(env, 'CONN_FRAME_BURST', connFrameRate * 2, 1, 200_000),
    floodCloseAfter: int(env, 'FLOOD_CLOSE_AFTER', 50, 1, 1_000_000),
    userMessageRate: int(env, 'USER_MESSAGE_RATE', 5, 1, 100_000),
    userMessageBurst: int(env, 'USER_MESSAGE_BURST', 10, 1, 1_000_000),
    dedupeTtlMs: int(env, 'DEDUPE_TTL_MS', 120_000, 1_000, 86_400_000),
    upstreamTimeoutMs: int(env, 'UPSTREAM_TIMEOUT_MS', 3_000, 50, 60_000),
    shutdownTimeoutMs: int(env, 'SHUTDOWN_TIMEOUT_MS', 5_000, 100, 120_000),
  };
}
