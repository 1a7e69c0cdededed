// Results as data (JSON) and as a markdown summary with our figures next to the same-run
// baseline's and their ratio. The chart is chart.ts.

import type { ClassDelivery } from './loss.js';
import { closedSummary, LEVEL_READ_TIMEOUT_MS, type RunResult } from './run.js';

export interface BenchReport {
  readonly scenario: string;
  readonly options: Record<string, unknown>;
  readonly at: string;
  readonly machine: { cpus: number; node: string };
  readonly runs: RunResult[];
  readonly slo: { rule: string; value: number; ok: boolean }[];
}

const fmt = (n: number | undefined | null, d = 1) => (n === undefined || n === null || Number.isNaN(n) ? '–' : n.toLocaleString('en', { maximumFractionDigits: d }));

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || b === 0) return '–';
  return `${(a / b).toFixed(2)}x`;
}

/** The figures of a run, in the order the summaries show them. */
export const FIGURES: [string, (x: RunResult) => number | undefined][] = [
    ['connected', (x) => x.connections.connected],
    ['connect failures', (x) => x.connections.failed],
    ['closed during the run (not in loss)', (x) => x.connections.closed],
    ['connect + join rate (/s)', (x) => x.connections.perSecond],
    ['join latency p99 (ms)', (x) => x.connections.joinP99],
    ['delivery delay p50 (ms)', (x) => x.delay.p50],
    ['delivery delay p90 (ms)', (x) => x.delay.p90],
    ['delivery delay p99 (ms)', (x) => x.delay.p99],
    ['delivery delay max (ms)', (x) => x.delay.max],
    ['delivered items/s', (x) => x.itemsPerSec],
    ['delivered frames/s', (x) => x.framesPerSec],
    ['sent (acknowledged) /s', (x) => x.sentPerSec],
    ['sender ack p99 (ms)', (x) => x.ack.p99],
    ['wire bytes per delivered item', (x) => x.wire?.bytesPerItem],
    ['wire bytes per delivered frame', (x) => x.wire?.bytesPerFrame],
    ['message bytes per delivered item (inflated)', (x) => x.wire?.payloadBytesPerItem],
    ['server CPU per frame (us)', (x) => x.server?.cpuPerFrameUs],
    ['server CPU per item (us)', (x) => x.server?.cpuPerItemUs],
    ['server CPU (s in window)', (x) => x.server?.cpuSeconds],
    ['server RSS per connection (bytes)', (x) => x.server?.rssPerConnBytes],
    ['server RSS (MB)', (x) => (x.server ? x.server.rssBytes / 1048576 : undefined)],
    ['load generator CPU (cores)', (x) => x.loadgen.cores],
    ['lost gifts', (x) => x.loss?.gifts],
    ['acknowledged gifts some viewer never got (by seq)', (x) => x.delivery?.giftsLost],
    ['gift delivery delay p50 (ms)', (x) => x.gifts?.delay.p50],
    ['gift delivery delay p99 (ms)', (x) => x.gifts?.delay.p99],
    ['gift delivery delay max (ms)', (x) => x.gifts?.delay.max],
    ['lost danmaku (not shown, not shed)', (x) => x.loss?.danmaku],
    ['lost likes', (x) => x.loss?.likes],
    ['duplicates', (x) => x.duplicates],
    ['isolation errors', (x) => x.isolationErrors],
    ['room switches', (x) => x.switches],
];

/** The numeric figures of resumes, for the medians of repeated runs (summary.ts). */
export const RESUME_FIGURES: [string, (x: RunResult) => number | undefined][] = [
  ['viewers back after losing their connection', (x) => x.resume?.back],
  ['of which JOINED recovered', (x) => (x.resume ? (x.resume.outcomes.recovered ?? 0) : undefined)],
  ['time to come back p50 (ms)', (x) => (x.resume?.time.count ? x.resume.time.p50 : undefined)],
  ['time to come back p99 (ms)', (x) => (x.resume?.time.count ? x.resume.time.p99 : undefined)],
  ['time to come back max (ms)', (x) => (x.resume?.time.count ? x.resume.time.max : undefined)],
  ['JOIN to JOINED on coming back p99 (ms)', (x) => (x.resume?.join?.count ? x.resume.join.p99 : undefined)],
  ['items recovered from the replays', (x) => x.resume?.recoveredItems],
  ['viewers that came back: missing gifts (pairs)', (x) => (x.resume ? x.delivery?.resumed.gifts : undefined)],
  ['viewers that came back: missing danmaku (pairs)', (x) => (x.resume ? x.delivery?.resumed.danmaku : undefined)],
  ['viewers that came back: missing likes (by count)', (x) => (x.resume ? x.delivery?.resumed.likes : undefined)],
  ['viewers that came back: missing chat messages (pairs)', (x) => (x.resume && x.delivery?.resumed.expectedChat ? x.delivery.resumed.chat : undefined)],
  ['viewers that stayed: missing chat messages (pairs)', (x) => (x.delivery?.stayed.expectedChat ? x.delivery.stayed.chat : undefined)],
];

const classLoss = (c: ClassDelivery) =>
  c.viewers === 0
    ? '–'
    : `${fmt(c.viewers)}: ${fmt(c.danmaku)} / ${fmt(c.gifts)} / ${fmt(c.likes)} / ${fmt(c.chat ?? 0)} (of ${fmt(c.expectedDanmaku)} / ${fmt(c.expectedGifts)} / – / ${fmt(c.expectedChat ?? 0)})`;

/** Faults and resumes (faults.ts, resume.ts): shown when a run had either. */
export const RESUME_ROWS: [string, (x: RunResult) => string][] = [
  ['fault', (x) => x.faults.map((f) => `${f.fault} ${f.process} (pid ${f.pid}) at ${f.atS} s`).join(', ') || '–'],
  ['viewers back after losing their connection (not back by the end)', (x) => (x.resume ? `${fmt(x.resume.back)} (${fmt(x.resume.notBack)})` : '–')],
  ['JOINED outcomes on coming back', (x) => (x.resume ? Object.entries(x.resume.outcomes).map(([k, n]) => `${k} ${fmt(n)}`).join(', ') || '–' : '–')],
  ['time to come back: loss to JOINED p50 / p99 / max (ms)', (x) => (x.resume && x.resume.time.count > 0 ? `${fmt(x.resume.time.p50)} / ${fmt(x.resume.time.p99)} / ${fmt(x.resume.time.max)}` : '–')],
  ['of which JOIN to JOINED p50 / p99 / max (ms)', (x) => (x.resume && x.resume.join?.count > 0 ? `${fmt(x.resume.join.p50)} / ${fmt(x.resume.join.p99)} / ${fmt(x.resume.join.max)}` : '–')],
  ['items recovered from the replays; replay items already held (de-duplicated)', (x) => (x.resume ? `${fmt(x.resume.recoveredItems)}; ${fmt(x.resume.replayDuplicates)}` : '–')],
  ['attempts without a JOINED; senders back; JOINED rid 0 (numbering restarted)', (x) => (x.resume ? `${fmt(x.resume.dialFailures)}; ${fmt(x.resume.senderResumes)}; ${fmt(x.resume.epochResets ?? 0)}` : '–')],
  ['viewers that stayed: missing danmaku / gifts / likes / chat messages, (viewer, item) pairs', (x) => (x.delivery ? classLoss(x.delivery.stayed) : '–')],
  ['viewers that came back: missing danmaku / gifts / likes / chat messages', (x) => (x.delivery ? classLoss(x.delivery.resumed) : '–')],
];

/** A drain (`cluster --drain`, drain-report.ts): shown when a run had one. */
export const DRAIN_ROWS: [string, (x: RunResult) => string][] = [
  ['drained gateway: SIGTERM at (s into the window); exit code', (x) => (x.drain ? `${x.drain.gateway} at ${x.drain.atS} s; exit ${x.drain.exitCode ?? 'not yet'}` : '–')],
  ['its connections; not-ready and drain windows (ms), as it logged them', (x) => (x.drain ? `${fmt(x.drain.log.connections)}; ${fmt(x.drain.log.notReadyMs)} and ${fmt(x.drain.log.windowMs)}` : '–')],
  ['moving began / drained, ms after SIGTERM', (x) => (x.drain ? `${x.drain.log.movingAt === null ? '–' : fmt(x.drain.log.movingAt - x.drain.signalAt, 0)} / ${x.drain.log.drainedAt === null ? '–' : fmt(x.drain.log.drainedAt - x.drain.signalAt, 0)}` : '–')],
  ['reconnects after SIGTERM (in the window + 1 s); first / last, ms after SIGTERM', (x) => (x.drain ? `${fmt(x.drain.reconnects)} (${fmt(x.drain.inWindow)}); ${fmt(x.drain.firstMs, 0)} / ${fmt(x.drain.lastMs, 0)}` : '–')],
  ['reconnect rate over the window: average (/s)', (x) => (x.drain ? fmt(x.drain.average) : '–')],
  ['peak 1 s bucket (/s), and its ratio to the average (target <= 2)', (x) => (x.drain ? `${fmt(x.drain.peak1s)} (${x.drain.ratio1s.toFixed(2)}x${x.drain.ratio1s <= 2 ? ', ok' : ', **over**'})` : '–')],
  ['peak 100 ms bucket (as /s), and its ratio to the average', (x) => (x.drain ? `${fmt(x.drain.peak100ms)} (${x.drain.ratio100ms.toFixed(2)}x)` : '–')],
];

/** "up 3 (cpu 2, lag 1), down 1", or why there is nothing to say. */
export function stepsSummary(steps: Record<string, number> | null): string {
  if (steps === null) return 'not read (its /metrics did not answer)';
  const count = (dir: string) => Object.entries(steps).filter(([k]) => k.startsWith(`${dir}:`));
  const up = count('up');
  const total = (xs: [string, number][]) => xs.reduce((n, [, v]) => n + v, 0);
  const by = up.filter(([, v]) => v > 0).map(([k, v]) => `${k.slice(3)} ${v}`);
  return `up ${total(up)}${by.length > 0 ? ` (${by.join(', ')})` : ''}, down ${total(count('down'))}`;
}

export function markdown(r: BenchReport): string {
  const rows = FIGURES;
  // One column per run, then the first run as a ratio to each of the others (the baseline last).
  const [first, ...others] = r.runs;
  const cols = [...r.runs.map((x) => x.target), ...others.map((x) => `${first!.target} / ${x.target}`)];
  const head = `| | ${cols.join(' | ')} |\n|---|${cols.map(() => '---:').join('|')}|`;
  const body = rows.map(([name, get]) => `| ${name} | ${[...r.runs.map((x) => fmt(get(x))), ...others.map((x) => ratio(get(first!), get(x)))].join(' | ')} |`).join('\n');
  const errors = r.runs.filter((x) => Object.keys(x.errors).length > 0).map((x) => `- ${x.target} error frames: ${JSON.stringify(x.errors)}`);
  const closed = r.runs
    .filter((x) => x.connections.closed > 0)
    .map((x) => `- ${x.target}: **${closedSummary(x.connections)}** during the run${x.loss && x.loss.closedViewers > 0 ? `; loss counts only the ${fmt(x.loss.viewers)} viewers open at the end (with --resume: back), not these ${fmt(x.loss.closedViewers)}` : ''}`);
  const slo = r.slo.map((s) => `- SLO ${s.rule}: ${fmt(s.value, 2)} ${s.ok ? 'ok' : '**BREACHED**'}`);
  const leveled = r.runs.filter((x) => x.timeline.some((p) => p.level !== undefined));
  const levels = leveled.length > 0
    ? [
        '### Degradation level over time',
        '',
        `The highest \`danmaku_degrade_level\` of the gateways, read at each second of the measured window (after the warm-up; – where the read took over ${LEVEL_READ_TIMEOUT_MS} ms). Then the level steps each one took over the whole run (\`danmaku_degrade_steps_total\`, by direction and the signal that raised it).`,
        '',
        ...leveled.map((x) => `- ${x.target}: ${x.timeline.map((p) => p.level ?? '–').join(' ')}`),
        ...leveled.flatMap((x) => (x.degradeSteps ?? []).map((d) => `- ${d.process === x.target ? x.target : `${x.target}, ${d.process}`} level steps: ${stepsSummary(d.steps)}`)),
        '',
      ]
    : [];
  const resumed = r.runs.some((x) => x.resume || x.faults.length > 0)
    ? [
        '### Faults and resumes',
        '',
        `| | ${r.runs.map((x) => x.target).join(' | ')} |\n|---|${r.runs.map(() => '---:').join('|')}|`,
        ...RESUME_ROWS.map(([name, get]) => `| ${name} | ${r.runs.map(get).join(' | ')} |`),
        '',
        'Danmaku missing are counted by seq less what the BATCH frames said was shed; gifts and chat messages by seq, exactly (members that came back read their inbox: SYNC); likes by count (never replayed). A viewer closed and not back by the end is not checked.',
        '',
      ]
    : [];
  const drains = r.runs.filter((x) => x.drain);
  const drain = drains.length > 0
    ? [
        '### Drain: reconnect rate',
        '',
        `| | ${drains.map((x) => x.target).join(' | ')} |\n|---|${drains.map(() => '---:').join('|')}|`,
        ...DRAIN_ROWS.map(([name, get]) => `| ${name} | ${drains.map(get).join(' | ')} |`),
        '',
        'Reconnects are timed when the viewer\'s new WebSocket opens, in buckets aligned on the instant the gateway began moving clients; the average is the reconnects within its window over the window\'s length.',
        '',
      ]
    : [];
  return [`## ${r.scenario} (${r.at})`, '', `Options: \`${JSON.stringify(r.options)}\`; ${r.machine.cpus} CPUs, Node ${r.machine.node}.`, '', head, body, '', ...resumed, ...drain, ...levels, ...closed, ...errors, ...slo, ''].join('\n');
}
