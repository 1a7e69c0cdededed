// The upstream scenario's own options (steps, overload, Redis window); the shared ones
// (--connections, --rooms, --workers, --env, --json, ...) are parsed by options.ts.

import { parseArgs } from 'node:util';

export type UpstreamTargetName = 'standalone' | 'cluster';

export interface UpstreamOptions {
  /** steps of offered SENDs/s: from `start`, `step` more each, up to `max` */
  readonly start: number;
  readonly step: number;
  readonly max: number;
  readonly stepSeconds: number;
  readonly settleSeconds: number;
  readonly overloadFactor: number;
  readonly overloadSeconds: number;
  readonly recoverFactor: number;
  readonly recoverSeconds: number;
  /** cluster: Redis commands per SEND over this window at `redisRate` (default: half the first step), before the steps */
  readonly redisSeconds: number;
  readonly redisRate: number | null;
  /** cluster: a window without traffic first, for the background commands per second */
  readonly redisIdleSeconds: number;
  /** a SEND unanswered this long counts as timed out */
  readonly replyTimeoutS: number;
  /** after the last phase, wait at most this long for a second without replies or deliveries before checking loss */
  readonly drainSeconds: number;
  readonly targets: UpstreamTargetName[];
  /** exit 1 when a target of issue 9 is missed */
  readonly enforce: boolean;
}

export const UPSTREAM_HELP = `upstream options (with --connections users, default 200, --rooms, default 20, and
--warmup S, default 5, at half of --start before anything is measured):
  --start R             first step, SENDs/s offered in total (default 2000)
  --step R              added at each step (default 2000)
  --max R               last step at most (default 40000)
  --step-seconds S      measured seconds per step (default 3), after --settle S (default 1)
  --overload-factor F   overload at F x the ceiling (default 3) for --overload S (default 20)
  --recover-factor F    then F x the ceiling (default 0.5) for --recover S (default 15)
  --redis-seconds S     cluster, before the steps: Redis commands per SEND over S seconds
                        (default 5) at --redis-rate R (default half of --start), after
                        --redis-idle S seconds without traffic (default 2)
  --reply-timeout S     a SEND without a reply after S s counts as timed out (default 5)
  --drain S             at the end, wait at most S s (default 30) for a second without any
                        reply or delivery, then check every acknowledged message
  --targets LIST        standalone,cluster (default both)
  --enforce             exit 1 when a target of issue 9 is missed`;

const FLAGS = {
  start: { type: 'string' },
  step: { type: 'string' },
  max: { type: 'string' },
  'step-seconds': { type: 'string' },
  settle: { type: 'string' },
  'overload-factor': { type: 'string' },
  overload: { type: 'string' },
  'recover-factor': { type: 'string' },
  recover: { type: 'string' },
  'redis-seconds': { type: 'string' },
  'redis-rate': { type: 'string' },
  'redis-idle': { type: 'string' },
  'reply-timeout': { type: 'string' },
  drain: { type: 'string' },
  targets: { type: 'string' },
  enforce: { type: 'boolean' },
} as const;

/** Splits the arguments into this scenario's own and the rest (for options.ts). */
export function parseUpstreamOptions(args: string[]): { upstream: UpstreamOptions; rest: string[] } {
  const own: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = /^--([\w-]+)/.exec(args[i]!)?.[1];
    const flag = name !== undefined && name in FLAGS ? FLAGS[name as keyof typeof FLAGS] : undefined;
    const into = flag ? own : rest;
    into.push(args[i]!);
    const takesNext = flag ? flag.type === 'string' && !args[i]!.includes('=') : false;
    if (takesNext && i + 1 < args.length) own.push(args[++i]!);
  }
  const { values } = parseArgs({ args: own, options: FLAGS });
  const num = (key: keyof typeof FLAGS, def: number, min = 0): number => {
    const raw = values[key];
    if (raw === undefined) return def;
    const n = Number(raw);
    if (typeof raw !== 'string' || !Number.isFinite(n) || n < min) throw new Error(`--${key} must be a number >= ${min}, got ${JSON.stringify(raw)}`);
    return n;
  };
  const targets = (values.targets ?? 'standalone,cluster').split(',').filter(Boolean);
  for (const t of targets) if (t !== 'standalone' && t !== 'cluster') throw new Error(`--targets: standalone or cluster, got ${JSON.stringify(t)}`);
  const start = num('start', 2000, 1);
  return {
    upstream: {
      start,
      step: num('step', 2000, 1),
      max: num('max', 40_000, start),
      stepSeconds: num('step-seconds', 3, 1),
      settleSeconds: num('settle', 1),
      overloadFactor: num('overload-factor', 3, 0),
      overloadSeconds: num('overload', 20, 1),
      recoverFactor: num('recover-factor', 0.5, 0),
      recoverSeconds: num('recover', 15, 1),
      redisSeconds: num('redis-seconds', 5, 1),
      redisRate: values['redis-rate'] === undefined ? null : num('redis-rate', 0, 1),
      redisIdleSeconds: num('redis-idle', 2),
      replyTimeoutS: num('reply-timeout', 5, 0.1),
      drainSeconds: num('drain', 30, 1),
      targets: targets as UpstreamTargetName[],
      enforce: values.enforce ?? false,
    },
    rest,
  };
}
