// The Redis connection of a cluster process (ioredis), shared by every Redis-backed seam (the
// store's and the registry), and timing each operation into metrics. Commands fail fast while
// Redis is unreachable (no offline queue) so that callers fall back or answer with an error
// instead of stalling; ioredis keeps reconnecting in the background. With sentinels (Redis
// high availability, docs/cluster.md) every connection asks them where the primary is, on
// the first connect and on every reconnect, so a failover is one more reconnect.

import { Redis, type RedisOptions } from 'ioredis';
import type { RedisSentinelConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { RedisOp } from '../metric-labels.js';
import type { Keys } from './keys.js';

/** Metrics of Redis use, by operation (a domain name, not a command: bounded cardinality). */
export interface RedisObserver {
  redisCommand(op: RedisOp, seconds: number, failed: boolean): void;
  redisConnected(up: boolean): void;
  redisEvent(event: string): void;
}

export interface RedisClientOptions {
  /** the Redis; with `sentinel`, only its credentials and db (null: none) */
  readonly url: string | null;
  /** find the primary through these sentinels */
  readonly sentinel?: RedisSentinelConfig | null;
  readonly name: string;
  readonly observer: RedisObserver;
  readonly log: Logger;
  /** a command without an answer in this time fails (default 1000 ms) */
  readonly commandTimeoutMs?: number;
  /** how long to wait for the first connection before giving up (default 10 s) */
  readonly connectTimeoutMs?: number;
}

/** What every Redis-backed seam is built from: one connection, the key names, the metrics. */
export interface RedisContext {
  readonly redis: Redis;
  readonly keys: Keys;
  readonly observer: RedisObserver;
}

export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

/**
 * Whether `err` says Redis could not be reached or did not answer in time (a retry may
 * succeed), as opposed to a Redis error answer or a bug: ioredis' command timeout, and its
 * refusals while the connection is down (no offline queue, no retries per request).
 */
export function isRedisUnavailable(err: unknown): boolean {
  if (err instanceof RedisUnavailableError) return true;
  if (!(err instanceof Error)) return false;
  return err.name === 'MaxRetriesPerRequestError' || /^Command timed out$|Stream isn't writeable|Connection is closed/.test(err.message);
}

/** Connects and waits until Redis answers; logs each connection loss and recovery once. */
export async function connectRedis(opts: RedisClientOptions): Promise<Redis> {
  const { log, observer } = opts;
  const commandTimeout = opts.commandTimeoutMs ?? 1_000;
  const options: RedisOptions = {
    connectionName: opts.name,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1_000),
    ...(opts.sentinel ? sentinelOptions(opts.sentinel, commandTimeout, opts.url?.startsWith('rediss:') ?? false) : {}),
  };
  if (opts.url === null && !opts.sentinel) throw new RedisUnavailableError('no Redis: neither a URL nor sentinels');
  const redis = opts.url === null ? new Redis(options) : new Redis(opts.url, options);
  const target = opts.sentinel ? `master ${opts.sentinel.name} of sentinels ${opts.sentinel.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}` : `Redis at ${opts.url}`;
  let up = false;
  redis.on('ready', () => {
    // Where it landed: after a failover, the promoted replica's address.
    if (!up) log.info({ at: `${redis.stream?.remoteAddress}:${redis.stream?.remotePort}` }, 'Redis connected');
    up = true;
    observer.redisConnected(true);
  });
  redis.on('close', () => {
    if (up) {
      log.warn('Redis connection lost; reconnecting');
      observer.redisEvent('disconnect');
    }
    up = false;
    observer.redisConnected(false);
  });
  // ioredis emits 'error' for every failed reconnect attempt: the close above logs the event once.
  redis.on('error', (err: Error) => log.debug({ err }, 'Redis error'));
  const timeout = opts.connectTimeoutMs ?? 10_000;
  const ready = new Promise<void>((resolve) => redis.once('ready', () => resolve()));
  redis.connect().catch(() => undefined); // retried by retryStrategy; 'ready' tells success
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisUnavailableError(`${target} did not answer within ${timeout} ms`)), timeout);
  });
  try {
    await Promise.race([ready, gaveUp]);
  } catch (err) {
    redis.disconnect();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return redis;
}

/**
 * ioredis's Sentinel mode: on every (re)connect it asks the sentinels, in turn, for the
 * primary's address and checks that the server there is a primary (a demoted one is left for
 * the next). failoverDetector subscribes to the sentinels' +switch-master too, so a primary
 * that is demoted while still reachable (SENTINEL FAILOVER, a partition healed) is left at
 * once rather than when it refuses a write.
 */
function sentinelOptions(s: RedisSentinelConfig, commandTimeout: number, tls: boolean): RedisOptions {
  return {
    // A rediss:// REDIS_URL: TLS to the primary the sentinels name (ioredis would otherwise
    // connect to it in plain TCP); the sentinels themselves are asked in plain TCP.
    ...(tls ? { enableTLSForSentinelMode: true } : {}),
    sentinels: s.sentinels.map((x) => ({ host: x.host, port: x.port })),
    name: s.name,
    ...(s.password !== null ? { sentinelPassword: s.password } : {}),
    sentinelCommandTimeout: commandTimeout,
    // every sentinel tried: wait and go round again (the connection's retryStrategy then applies)
    sentinelRetryStrategy: (times) => Math.min(100 * times, 1_000),
    failoverDetector: true,
  };
}

/** Closes the connection politely, or at once if Redis does not answer. */
export async function closeRedis(redis: Redis): Promise<void> {
  await redis.quit().catch(() => redis.disconnect());
}

/** Runs one Redis operation, recording its latency and outcome under `op`. */
export async function timed<T>(observer: RedisObserver, op: RedisOp, run: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    const v = await run();
    observer.redisCommand(op, (performance.now() - started) / 1000, false);
    return v;
  } catch (err) {
    observer.redisCommand(op, (performance.now() - started) / 1000, true);
    throw err;
  }
}
