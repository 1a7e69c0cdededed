// What a loopback cluster's infrastructure counted: Redis commands by name (INFO commandstats,
// where commands that Lua scripts call are counted as well as the EVALSHA itself), and NATS
// messages per client connection and slow consumers (nats-server's monitoring endpoint). Read
// before and after a window, the differences say what one SEND costs upstream.

import { redisInfo } from './services.js';

/** Calls per command name, e.g. {evalsha: 10, incr: 10}. */
export type CommandCalls = Record<string, number>;

/** `cmdstat_<name>:calls=<n>,usec=...` lines of INFO commandstats. */
export function parseCommandStats(text: string): CommandCalls {
  const out: CommandCalls = {};
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

export async function redisCommandCalls(port: number): Promise<CommandCalls | null> {
  const text = await redisInfo(port, 'commandstats');
  return text === null ? null : parseCommandStats(text);
}

/** Calls made between two readings, busiest first; `info` (the readings themselves) left out. */
export function callsBetween(before: CommandCalls, after: CommandCalls): CommandCalls {
  return Object.fromEntries(
    Object.entries(after)
      .filter(([name]) => name !== 'info')
      .map(([name, n]): [string, number] => [name, n - (before[name] ?? 0)])
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1]),
  );
}

export const totalCalls = (c: CommandCalls): number => Object.values(c).reduce((a, b) => a + b, 0);

export interface NatsStats {
  /** clients nats-server has found too slow and cut off, since it started */
  readonly slowConsumers: number;
  /** per client connection (by its name): messages it published, and messages delivered to it */
  readonly conns: Record<string, { published: number; delivered: number }>;
}

/** From nats-server's varz and connz; null when its monitoring endpoint does not answer. */
export async function natsStats(monitorUrl: string): Promise<NatsStats | null> {
  try {
    const get = async (path: string) => {
      const res = await fetch(`${monitorUrl}${path}`, { signal: AbortSignal.timeout(2000) });
      if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
      return res.json() as Promise<Record<string, unknown>>;
    };
    const varz = (await get('/varz')) as { slow_consumers?: number };
    const connz = (await get('/connz?limit=4096')) as { connections?: { name?: string; cid: number; in_msgs: number; out_msgs: number }[] };
    const conns: Record<string, { published: number; delivered: number }> = {};
    // in_msgs: what nats-server received from the client; out_msgs: what it sent to it.
    for (const c of connz.connections ?? []) conns[c.name || `cid-${c.cid}`] = { published: c.in_msgs, delivered: c.out_msgs };
    return { slowConsumers: varz.slow_consumers ?? 0, conns };
  } catch {
    return null; // not answering (or gone): no figure rather than a wrong one
  }
}
