// The load-test harness: npm run bench -- <scenario> [options]. Drives a deployment through
// the public protocol only; without --url it starts a standalone server itself, and the bare
// uWebSockets.js baseline in the same run, and reports our figures as ratios to it.

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { flashCrowd } from './flash-crowd.js';
import { groupChat } from './group-chat.js';
import { hotRoom } from './hot-room.js';
import { checkSlo, OPTION_HELP, parseOptions, serverCpuMax, type Options } from './lib/options.js';
import { svg } from './lib/chart.js';
import { markdown, type BenchReport } from './lib/report.js';
import { runPrefix } from './lib/run-id.js';
import { measure, type RunResult } from './lib/run.js';
import type { Scenario } from './lib/scenario.js';
import { probeCpuLimit } from './lib/cpu-limit.js';
import { remoteTarget, setServerCpu, startBaselineServer, startCluster, startServer, type Target } from './lib/target.js';
import { manyRooms } from './many-rooms.js';
import { switchStorm } from './switch-storm.js';
import { upstream, UPSTREAM } from './upstream.js';
import { UPSTREAM_HELP } from './lib/upstream-options.js';
import { chat, CHAT, CHAT_HELP } from './chat.js';
import { rehearsal, REHEARSAL, REHEARSAL_HELP } from './rehearsal.js';

import { overlayMain } from './overlay.js';
import { stopChildrenOnSignal } from './lib/children.js';

/**
 * --env for the standalone run beside a cluster run: without the settings that only cluster mode
 * takes (a standalone server refuses them), so that `cluster --env REDIS_WAIT_REPLICAS=1` still
 * has its standalone reference.
 */
function standaloneEnv(env: Record<string, string>): Record<string, string> {
  const { REDIS_WAIT_REPLICAS: _n, REDIS_WAIT_TIMEOUT_MS: _t, ...rest } = env;
  return rest;
}

/** The drained gateway's windows in a --drain run, unless --env sets them. */
const DRAIN_DEFAULTS = { DRAIN_NOT_READY_MS: '1000', DRAIN_WINDOW_MS: '10000' };

const SCENARIOS: Scenario[] = [hotRoom, manyRooms, flashCrowd, switchStorm, groupChat];
const CLUSTER = 'cluster';

function usage(): string {
  return `usage: npm run bench -- <scenario> [options]

scenarios:
${SCENARIOS.map((s) => `  ${s.name.padEnd(14)}${s.summary}`).join('\n')}
  ${CLUSTER.padEnd(14)}starts nats-server, redis-server, --gateways G gateways and --logics L logic processes on
                loopback and runs --scenario NAME on them, then on a standalone server (and the baseline)
  ${UPSTREAM.name.padEnd(14)}${UPSTREAM.summary}
  ${CHAT.name.padEnd(14)}${CHAT.summary}
  ${REHEARSAL.name.padEnd(14)}${REHEARSAL.summary}
  ${'overlay'.padEnd(14)}the danmaku overlay in Chromium at 1280x720 (60 danmaku/s + gifts): frame times and long
                tasks, against weizhenye's danmaku library (docs/overlay.md)

${OPTION_HELP}
${UPSTREAM_HELP}
${CHAT_HELP}
${REHEARSAL_HELP}

Results go to bench/results/<scenario>-<time>.{json,md,svg} (or --json FILE) and the
summary to stdout. Method and figures: docs/benchmarks.md.`;
}

async function runOn(start: () => Promise<Target>, scenario: Scenario, o: Options, faults = false, deflate = false, levels = false): Promise<RunResult> {
  const target = await start();
  try {
    const run = runPrefix();
    const plan = scenario.plan(o, run);
    await scenario.prepare?.(target, o, plan);
    return await measure(target, plan, {
      run,
      durationS: o.durationS,
      warmupS: o.warmupS,
      rampS: o.rampS,
      workers: o.workers,
      addresses: Array.from({ length: o.addresses }, (_, i) => `127.0.0.${i + 1}`),
      quiet: o.quiet,
      resume: o.resume,
      plainRejoin: !o.since,
      faults: faults ? o.faults : [],
      faultAtS: o.faultAtS,
      deflate,
      pinViewers: faults && o.drain,
      levels,
    });
  } finally {
    await target.stop();
  }
}

function sloFigures(r: RunResult): Record<string, number> {
  return {
    p50: r.delay.p50,
    p90: r.delay.p90,
    p99: r.delay.p99,
    max: r.delay.max,
    loss: r.loss ? r.loss.danmaku + r.loss.likes + r.loss.gifts : 0,
    gifts: r.loss?.gifts ?? 0,
    dup: r.duplicates,
    failures: r.connections.failed,
    closed: r.connections.closed,
    isolation: r.isolationErrors,
    ack99: r.ack.p99,
    giftloss: r.delivery?.giftsLost ?? 0,
    gift99: r.gifts?.delay.p99 ?? 0,
    recover99: r.resume?.time.p99 ?? 0,
    notback: r.resume?.notBack ?? 0,
  };
}

/** Writes the JSON, markdown and SVG (bench/results/<scenario>-<time>.* or beside --json) and shows the summary. */
function write(o: Pick<Options, 'json' | 'svg'>, scenario: string, at: string, report: unknown, md: string, chart: string): void {
  const base = o.json ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results', `${scenario.replace('/', '-')}-${at.replace(/[:.]/g, '-')}.json`);
  mkdirSync(dirname(base), { recursive: true });
  writeFileSync(base, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(base.replace(/\.json$/, '') + '.md', md);
  writeFileSync(o.svg ?? base.replace(/\.json$/, '') + '.svg', chart);
  process.stdout.write(`${md}\nwritten: ${base} (and .md, .svg)\n`);
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(`${usage()}\n`);
    return name ? 0 : 2;
  }
  if (name === UPSTREAM.name) {
    const r = await upstream(rest);
    write(r.options, UPSTREAM.name, r.report.at, r.report, r.markdown, r.svg);
    return r.ok || !r.enforce ? 0 : 1;
  }
  if (name === REHEARSAL.name) {
    const r = await rehearsal(rest);
    write(r.options, REHEARSAL.name, r.report.at, r.report, r.markdown, r.svg);
    return 0;
  }
  if (name === 'overlay') {
    await overlayMain(rest);
    return 0;
  }
  if (name === CHAT.name) {
    const r = await chat(rest);
    write({ json: r.json, svg: r.svgFile }, CHAT.name, r.report.at, r.report, r.markdown, r.svg);
    return r.ok || !r.enforce ? 0 : 1;
  }
  const inner = name === CLUSTER ? parseOptions(rest).scenario : name;
  const scenario = SCENARIOS.find((s) => s.name === inner);
  if (!scenario) {
    process.stderr.write(`unknown scenario ${JSON.stringify(inner)}\n\n${usage()}\n`);
    return 2;
  }
  const o = parseOptions(rest, scenario.defaults);
  if (serverCpuMax(o) > 0 && o.url) throw new Error('--server-cpu limits the servers this harness starts; drop --url');
  if (serverCpuMax(o) > 0) probeCpuLimit(serverCpuMax(o));
  setServerCpu(o.serverCpu, o.serverCpuByRole);
  const runs: RunResult[] = [];
  const admin = o.adminUrl && o.adminSecret ? { url: o.adminUrl, secret: o.adminSecret } : null;
  if (o.faults.length > 0 && name !== CLUSTER) throw new Error('--faults applies to the cluster scenario (npm run bench -- cluster --faults ...)');
  if (o.faults.includes('kill-gateway') && o.gateways < 2) throw new Error('--faults kill-gateway needs --gateways 2 or more: the killed gateway\'s viewers move to the others');
  if (o.drain) {
    if (name !== CLUSTER || o.gateways < 2) throw new Error('--drain runs on the cluster scenario with --gateways 2 or more: the drained gateway\'s viewers move to the others');
    const drainS = (Number(o.env.DRAIN_NOT_READY_MS ?? DRAIN_DEFAULTS.DRAIN_NOT_READY_MS) + Number(o.env.DRAIN_WINDOW_MS ?? DRAIN_DEFAULTS.DRAIN_WINDOW_MS)) / 1000;
    if (o.faultAtS + drainS + 2 > o.durationS) throw new Error(`--drain: --duration ${o.durationS} is too short for the drain (${drainS} s from --fault-at ${o.faultAtS}, and 2 s for the last to come back): use --duration ${Math.ceil(o.faultAtS + drainS + 2)} or more`);
  }
  // Before any run starts: a bad combination must not cost a run first.
  if (o.overload) {
    if (o.url || name === CLUSTER || o.deflate) throw new Error('--overload runs a standalone server it starts (with DEGRADE=on, then off); drop --url, cluster and --deflate');
    if (o.env.DEGRADE !== undefined) throw new Error(`--overload runs the load with DEGRADE=on and then DEGRADE=off itself: drop --env DEGRADE=${o.env.DEGRADE} (for one run with degradation ${o.env.DEGRADE}, leave out --overload)`);
  }
  if (name === CLUSTER) {
    if (o.url) throw new Error('cluster starts its own processes; drop --url');
    runs.push(await runOn(() => startCluster(o.gateways, o.logics, { MERGE_WINDOW_MS: String(o.mergeWindowMs), TOKEN_SECRET: o.tokenSecret, ...(o.drain ? DRAIN_DEFAULTS : {}), ...o.env }, o.redisReplicas), scenario, o, true));
  }
  if (o.deflate) {
    if (o.url || name === CLUSTER) throw new Error('--deflate runs a standalone server it starts (with COMPRESSION=shared, then without); drop --url');
    // First, so that the ratio columns read "with compression / without" and "/ baseline".
    runs.push(await runOn(() => startServer({ MERGE_WINDOW_MS: String(o.mergeWindowMs), TOKEN_SECRET: o.tokenSecret, ...o.env, COMPRESSION: 'shared' }, o.nodeArgs, 'server-deflate'), scenario, o, false, true));
  }
  if (o.overload) {
    // First, so that the ratio column reads "with degradation / without".
    const env = { MERGE_WINDOW_MS: String(o.mergeWindowMs), TOKEN_SECRET: o.tokenSecret, ...o.env };
    runs.push(await runOn(() => startServer({ ...env, DEGRADE: 'on' }, o.nodeArgs, 'server-degrade'), scenario, o, false, false, true));
    runs.push(await runOn(() => startServer({ ...env, DEGRADE: 'off' }, o.nodeArgs, 'server-no-degrade'), scenario, o, false, false, true));
  } else if (o.url) runs.push(await runOn(async () => remoteTarget(o.url!.split(','), o.metricsUrls, admin), scenario, o));
  else if (!o.drain) runs.push(await runOn(() => startServer({ MERGE_WINDOW_MS: String(o.mergeWindowMs), TOKEN_SECRET: o.tokenSecret, ...standaloneEnv(o.env) }, o.nodeArgs), scenario, o));
  if (o.baseline && !o.drain) runs.push(await runOn(() => startBaselineServer(o.mergeWindowMs, 64), scenario, o));

  const slo = checkSlo(o.slo, sloFigures(runs[0]!));
  const { tokenSecret: _secret, ...shown } = o;
  const report: BenchReport = { scenario: name === CLUSTER ? `${CLUSTER}/${scenario.name}` : scenario.name, options: shown, at: new Date().toISOString(), machine: { cpus: cpus().length, node: process.version }, runs, slo };
  write(o, report.scenario, report.at, report, markdown(report), svg(report));
  return slo.every((s) => s.ok) ? 0 : 1;
}

stopChildrenOnSignal();
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
