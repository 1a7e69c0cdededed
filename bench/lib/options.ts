// Command-line options shared by every scenario, and the SLO gates.

import { parseArgs } from 'node:util';
import { FAULTS, type FaultName } from './faults.js';

export interface Options {
  readonly url: string | undefined;
  /** Prometheus endpoints of the deployment's gateways (--url): usage is summed over them */
  readonly metricsUrls: string[];
  readonly connections: number;
  readonly senders: number;
  readonly rooms: number;
  readonly groups: number;
  readonly rate: number;
  readonly likes: number;
  readonly gifts: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly rampS: number;
  readonly mergeWindowMs: number;
  readonly skew: 'uniform' | 'zipf';
  readonly switchRate: number;
  readonly tokenSecret: string;
  /** viewers connect with a token each (hot-room, many-rooms, switch-storm) instead of as guests */
  readonly viewerTokens: boolean;
  readonly baseline: boolean;
  readonly workers: number;
  readonly addresses: number;
  readonly json: string | undefined;
  readonly svg: string | undefined;
  readonly slo: string | undefined;
  readonly env: Record<string, string>;
  readonly nodeArgs: string[];
  /** cores each server process the run starts may use (a CFS quota, cpu-limit.ts); 0: no limit */
  readonly serverCpu: number;
  /** --server-cpu ROLE=CORES: the cores of the processes of that role, instead of `serverCpu` (serverCpuOf) */
  readonly serverCpuByRole: ServerCpuByRole;
  readonly quiet: boolean;
  /** cluster: the scenario to run, and the cluster's shape */
  readonly scenario: string;
  readonly gateways: number;
  readonly logics: number;
  /** --redis-replicas: replicas of the cluster target's Redis primary (for REDIS_WAIT_REPLICAS) */
  readonly redisReplicas: number;
  readonly adminUrl: string | undefined;
  readonly adminSecret: string | undefined;
  /** connections the server closes come back and resume their room with since/epoch (resume.ts) */
  readonly resume: boolean;
  /** coming back, JOIN with since/epoch (else plainly, as a client of before room recovery) */
  readonly since: boolean;
  /** cluster: faults injected during the measured window (faults.ts), at `faultAtS` s into it */
  readonly faults: readonly FaultName[];
  readonly faultAtS: number;
  /** compressed egress: a run with COMPRESSION=shared and clients that offer permessage-deflate first */
  readonly deflate: boolean;
  /** cluster: every viewer on the first gateway, which gets SIGTERM at `faultAtS` and drains (the drain-gateway fault) */
  readonly drain: boolean;
  /** adaptive degradation under overload: the server with DEGRADE=on, then with DEGRADE=off, the level read each second */
  readonly overload: boolean;
}

/** The server processes the harness starts, by role, as --server-cpu names them. */
export const SERVER_ROLES = ['server', 'baseline', 'gateway', 'logic'] as const;
export type ServerRole = (typeof SERVER_ROLES)[number];
export type ServerCpuByRole = Readonly<Partial<Record<ServerRole, number>>>;

export const OPTION_HELP = `options:
  --url URL[,URL...]    drive this deployment (ws://...; connections spread over several gateways)
                        instead of starting a standalone server
  --metrics-url URL[,URL...]
                        its Prometheus endpoints, one per gateway, for server CPU and RSS (with --url):
                        summed over all of them
  --connections N       viewers (default 1000)
  --senders N           sending connections, each with a token (default 10)
  --rooms K             rooms (many-rooms, switch-storm; default 100)
  --groups G            chat groups (group-chat; default 20): the viewers are spread over them
  --rate R              danmaku per second, in total (default 60)
  --likes L             likes per second, in total (default 20)
  --gifts G             gifts per second, in total (default 1)
  --duration S          measured seconds (default 10)
  --warmup S            seconds of traffic before measuring (default 2)
  --ramp S              seconds over which the connections are opened (default 2)
  --merge-window MS     MERGE_WINDOW_MS of the server and the baseline (default 50; 0: no merging)
  --skew uniform|zipf   how viewers spread over rooms (default uniform)
  --switch-rate N       room switches per second (switch-storm; default 200)
  --token-secret S      HS256 secret for sender tokens (default $TOKEN_SECRET or the development one)
  --viewer-tokens       viewers connect with a token each, as signed-in users, instead of as guests
                        (hot-room, many-rooms, switch-storm; flash-crowd always does)
  --resume              a connection the server closes (or loses) comes back on the next URL and
                        JOINs with since/epoch; the report counts the outcomes (recovered, kept,
                        lost), recovered items and the time to come back (default: on with
                        --faults, else off; --no-resume turns it off)
  --no-since            with --resume, come back with a plain JOIN (no since), as a client of
                        before room recovery would: what since recovers shows against it
  --no-baseline         do not run the bare uWebSockets.js baseline (default: run it, unless --url)
  --workers N           load-generator threads (default 2)
  --addresses N         source addresses 127.0.0.1..N, each good for ~28k connections (default 4)
  --env K=V,K=V         extra environment for the server the harness starts
  --node-args=ARGS      node flags for that server, e.g. --node-args="--cpu-prof --cpu-prof-dir=prof"
  --server-cpu CORES    a CPU limit on every server process the run starts (ours, the baseline,
                        a cluster's), as a container's CPU limit: a cgroup CFS quota (root only),
                        e.g. 0.25; finds one gateway's breaking point below the load generator's
  --server-cpu ROLE=CORES[,ROLE=CORES...]
                        the limit of the processes of one role only (server: standalone, baseline,
                        gateway, logic), e.g. logic=0.25 (the gateways unlimited) or
                        gateway=0.5,logic=0.25; a plain number among them (0.5,logic=0.25) is the
                        limit of every other role
  --redis-replicas N    the cluster target's Redis primary gets N replicas (asynchronous replication),
                        for --env REDIS_WAIT_REPLICAS=N: what waiting for them costs (default 0)
  --json FILE           write the result as JSON (and FILE.md, FILE.svg beside it)
  --svg FILE            write the chart here (default: beside --json, else bench/results/)
  --slo RULES           fail (exit 1) on breach, e.g. p99=200ms,loss=0,closed=0,failures=0,dup=0;
                        upper bounds on p50 p90 p99 max ack99 gift99 recover99 (ms), loss gifts
                        giftloss (acknowledged gifts some viewer never got, by seq) dup isolation,
                        failures (connections that never joined), closed (closed by the server after
                        joining), notback (viewers closed and not back by the end, with --resume)
  --deflate             compressed egress: first a run of the server with COMPRESSION=shared whose
                        clients offer permessage-deflate (server-deflate), then the same load on the
                        server without it and on the baseline; the report gives wire bytes per
                        delivered item and CPU per frame of each, as ratios (standalone only)
  --overload            adaptive degradation under overload: the load on the server with DEGRADE=on
                        (server-degrade), then on the same server with DEGRADE=off (server-no-degrade),
                        each gateway's degradation level read every second (beside the measuring
                        loop, at most 800 ms a read) and its level steps by signal at the end; offer
                        about 2x what one gateway sustains (docs/benchmarks.md, T13). No baseline
                        unless --baseline (standalone only; --env DEGRADE=... is refused with it)
  --quiet               no progress line
  --admin-url URL       admin API of a logic process (group-chat with --url)
  --admin-secret S      its ADMIN_SECRET (group-chat with --url)
cluster options:
  --scenario NAME       the scenario to run on the cluster (default hot-room)
  --gateways G          gateway processes (default 2)
  --logics L            logic processes (default 1)
  --faults LIST         faults injected into the cluster run during the window: kill-gateway
                        (SIGKILL one gateway by PID; its viewers come back on the others with
                        since). Reported: loss by kind, viewers that stayed apart from those that
                        came back, time to recover. Needs --gateways 2 or more
  --fault-at S          seconds into the measured window (default: half of --duration)
  --drain               every viewer connects to the first gateway (senders to the last), which gets
                        SIGTERM at --fault-at and drains (the drain-gateway fault: not ready for
                        DRAIN_NOT_READY_MS, then GOAWAY and 1012 spread over DRAIN_WINDOW_MS; 1000
                        and 10000 unless --env sets them); the viewers come back on the others after
                        GOAWAY's delay. Reported: their reconnect rate per 100 ms and per 1 s, peak
                        against the average over the window, drawn in the SVG. Needs --gateways 2+
                        and a --duration that holds the drain after --fault-at`;

function urlList(raw: string | undefined, flag: string): string[] {
  const urls = (raw ?? '').split(',').map((u) => u.trim()).filter(Boolean);
  for (const u of urls) if (!URL.canParse(u)) throw new Error(`${flag}: not a URL: ${JSON.stringify(u)}`);
  return urls;
}

export function parseOptions(args: string[], defaults: Partial<Options> = {}): Options {
  const { values } = parseArgs({
    args,
    allowNegative: true,
    options: {
      url: { type: 'string' },
      'metrics-url': { type: 'string' },
      connections: { type: 'string' },
      senders: { type: 'string' },
      rooms: { type: 'string' },
      groups: { type: 'string' },
      scenario: { type: 'string' },
      gateways: { type: 'string' },
      logics: { type: 'string' },
      'admin-url': { type: 'string' },
      'admin-secret': { type: 'string' },
      rate: { type: 'string' },
      likes: { type: 'string' },
      gifts: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      ramp: { type: 'string' },
      'merge-window': { type: 'string' },
      skew: { type: 'string' },
      'switch-rate': { type: 'string' },
      'token-secret': { type: 'string' },
      'viewer-tokens': { type: 'boolean' },
      baseline: { type: 'boolean' },
      workers: { type: 'string' },
      addresses: { type: 'string' },
      env: { type: 'string' },
      'node-args': { type: 'string' },
      'server-cpu': { type: 'string' },
      'redis-replicas': { type: 'string' },
      json: { type: 'string' },
      svg: { type: 'string' },
      slo: { type: 'string' },
      quiet: { type: 'boolean' },
      deflate: { type: 'boolean' },
      drain: { type: 'boolean' },
      overload: { type: 'boolean' },
      resume: { type: 'boolean' },
      since: { type: 'boolean' },
      faults: { type: 'string' },
      'fault-at': { type: 'string' },
    },
  });
  const num = (key: keyof typeof values, def: number, min = 0): number => {
    const raw = values[key];
    if (raw === undefined) return def;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${key} must be a number >= ${min}, got ${JSON.stringify(raw)}`);
    return n;
  };
  const skew = values.skew ?? defaults.skew ?? 'uniform';
  if (skew !== 'uniform' && skew !== 'zipf') throw new Error('--skew must be uniform or zipf');
  const env: Record<string, string> = {};
  for (const kv of (values.env ?? '').split(',').filter(Boolean)) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new Error(`--env takes K=V pairs, got ${JSON.stringify(kv)}`);
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const faults = (values.faults ?? '').split(',').map((f) => f.trim()).filter(Boolean);
  if (values.drain && !faults.includes('drain-gateway')) faults.push('drain-gateway');
  for (const f of faults) if (!(FAULTS as readonly string[]).includes(f)) throw new Error(`--faults: unknown fault ${JSON.stringify(f)}: one of ${FAULTS.join(', ')}`);
  const durationS = num('duration', defaults.durationS ?? 10, 1);
  const faultAtS = num('fault-at', Math.max(1, Math.floor(durationS / 2)), 1);
  if (faults.length > 0 && faultAtS >= durationS) throw new Error(`--fault-at must be within the measured window (under --duration ${durationS})`);
  return {
    url: values.url === undefined ? undefined : urlList(values.url, '--url').join(','),
    metricsUrls: urlList(values['metrics-url'], '--metrics-url'),
    connections: num('connections', defaults.connections ?? 1000),
    senders: num('senders', defaults.senders ?? 10),
    rooms: num('rooms', defaults.rooms ?? 100, 1),
    groups: num('groups', defaults.groups ?? 20, 1),
    scenario: values.scenario ?? 'hot-room',
    gateways: num('gateways', defaults.gateways ?? 2, 1),
    logics: num('logics', defaults.logics ?? 1, 1),
    redisReplicas: num('redis-replicas', 0),
    adminUrl: values['admin-url'],
    adminSecret: values['admin-secret'],
    rate: num('rate', defaults.rate ?? 60),
    likes: num('likes', defaults.likes ?? 20),
    gifts: num('gifts', defaults.gifts ?? 1),
    durationS,
    warmupS: num('warmup', defaults.warmupS ?? 2),
    rampS: num('ramp', defaults.rampS ?? 2),
    mergeWindowMs: num('merge-window', defaults.mergeWindowMs ?? 50),
    skew,
    switchRate: num('switch-rate', defaults.switchRate ?? 200),
    tokenSecret: values['token-secret'] ?? process.env.TOKEN_SECRET ?? 'danmaku-dev-secret-change-me',
    viewerTokens: values['viewer-tokens'] ?? defaults.viewerTokens ?? false,
    baseline: values.baseline ?? (values.url === undefined && values.overload !== true),
    workers: num('workers', defaults.workers ?? 2, 1),
    addresses: num('addresses', defaults.addresses ?? 4, 1),
    json: values.json,
    svg: values.svg,
    slo: values.slo,
    env,
    nodeArgs: (values['node-args'] ?? '').split(/\s+/).filter(Boolean),
    ...serverCpu(values['server-cpu']),
    quiet: values.quiet ?? false,
    resume: values.resume ?? faults.length > 0,
    since: values.since ?? true,
    faults: faults as FaultName[],
    faultAtS,
    deflate: values.deflate ?? false,
    drain: values.drain ?? false,
    overload: values.overload ?? false,
  };
}

export interface SloCheck {
  readonly rule: string;
  readonly value: number;
  readonly ok: boolean;
}

/** Checks rules like `p99=200ms,loss=0` against a result's figures (upper bounds). */
export function checkSlo(rules: string | undefined, figures: Record<string, number>): SloCheck[] {
  if (!rules) return [];
  return rules
    .split(',')
    .filter(Boolean)
    .map((rule) => {
      const m = /^(\w+)=([\d.]+)(ms|s)?$/.exec(rule.trim());
      if (!m) throw new Error(`bad SLO rule ${JSON.stringify(rule)}: use name=number[ms|s]`);
      const [, name, raw, unit] = m as unknown as [string, string, string, string | undefined];
      if (!(name in figures)) throw new Error(`unknown SLO ${name}: one of ${Object.keys(figures).join(', ')}`);
      const limit = Number(raw) * (unit === 's' ? 1000 : 1);
      const value = figures[name]!;
      return { rule, value, ok: value <= limit };
    });
}

/**
 * --server-cpu: a decimal number of cores above 0 (0.25, 1.5) for every server process, or
 * ROLE=CORES pairs for the processes of a role (logic=0.25), or both (0.5,logic=0.25: the
 * pairs override the number for their role); absent: no limit.
 */
function serverCpu(v: string | undefined): { serverCpu: number; serverCpuByRole: ServerCpuByRole } {
  if (v === undefined) return { serverCpu: 0, serverCpuByRole: {} };
  const cores = (raw: string): number => {
    if (!/^[0-9]+(\.[0-9]+)?$/.test(raw) || !(Number(raw) > 0) || Number(raw) > 64) throw new Error(`--server-cpu must be a number of cores above 0 and at most 64, such as 0.25, or ROLE=CORES pairs such as logic=0.25 (${JSON.stringify(v)})`);
    return Number(raw);
  };
  let all = 0;
  const byRole: Partial<Record<ServerRole, number>> = {};
  for (const part of v.split(',')) {
    const i = part.indexOf('=');
    if (i < 0) {
      if (all > 0) throw new Error(`--server-cpu must give the number for every server once (${JSON.stringify(v)})`);
      all = cores(part);
      continue;
    }
    const role = part.slice(0, i);
    if (!(SERVER_ROLES as readonly string[]).includes(role)) throw new Error(`--server-cpu must name a role of ${SERVER_ROLES.join(', ')} (${JSON.stringify(role)} in ${JSON.stringify(v)})`);
    if (byRole[role as ServerRole] !== undefined) throw new Error(`--server-cpu must give ${role} once (${JSON.stringify(v)})`);
    byRole[role as ServerRole] = cores(part.slice(i + 1));
  }
  return { serverCpu: all, serverCpuByRole: byRole };
}

type ServerCpuOptions = Pick<Options, 'serverCpu' | 'serverCpuByRole'>;

/** The cores a server process of `role` may use under --server-cpu; 0: no limit. */
export function serverCpuOf(o: ServerCpuOptions, role: ServerRole): number {
  return o.serverCpuByRole[role] ?? o.serverCpu;
}

/** The highest limit --server-cpu sets for any role (0: none): what to probe the cgroup with before starting anything. */
export function serverCpuMax(o: ServerCpuOptions): number {
  return Math.max(o.serverCpu, ...Object.values(o.serverCpuByRole));
}

/** --server-cpu as given, for reports: "0.5", "logic=0.25", "0.5,logic=0.25"; '' without a limit. */
export function serverCpuText(o: ServerCpuOptions): string {
  return [...(o.serverCpu > 0 ? [String(o.serverCpu)] : []), ...Object.entries(o.serverCpuByRole).map(([role, cores]) => `${role}=${cores}`)].join(',');
}
