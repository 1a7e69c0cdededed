// Lua scripts on Redis: multi-key updates of every Redis-backed seam are scripts, so each is
// atomic. Shared helpers, so that each seam's file holds only its own scripts.

import type { Redis } from 'ioredis';

type ScriptFn = (...args: (string | number | Buffer)[]) => Promise<unknown>;

/**
 * Defines a Lua script (EVALSHA, loaded on first use) and returns a function that runs it.
 * `numberOfKeys` null: a variable number, passed as the function's first argument. `buffers`:
 * its strings come back as Buffers (binary content), not decoded as UTF-8.
 */
export function defineScript(redis: Redis, name: string, numberOfKeys: number | null, lua: string, opts: { buffers?: boolean } = {}): ScriptFn {
  redis.defineCommand(name, numberOfKeys === null ? { lua } : { numberOfKeys, lua });
  const fn = (redis as unknown as Record<string, ScriptFn>)[opts.buffers ? `${name}Buffer` : name]!;
  return (...args) => fn.apply(redis, args);
}

/** Lua: the server's clock in ms, so that expiries do not depend on each host's clock. */
export const LUA_NOW = `local _t = redis.call('TIME')
local now = tonumber(_t[1]) * 1000 + math.floor(tonumber(_t[2]) / 1000)
`;

/** Splits a list into chunks, so that no script call blocks Redis for long. */
export function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** The same bytes as a Buffer, without a copy (ioredis sends Buffers as they are). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
