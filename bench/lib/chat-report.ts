// The chat scenario's results as data, as a markdown summary and as a chart: the targets of
// issue 10 (met or missed), the run with storage writers beside the same traffic without them
// (the baseline) and, with --ack-baseline, beside members that never send RECEIVED (ratios
// where machine noise matters), what the push acknowledgements cost, and where the time went.

import { document, PALETTE, panel, type Line } from './chart.js';
import type { ChatRun } from './chat-run.js';
import { ERROR_NAMES } from './protocol.js';

export interface ChatReport {
  readonly scenario: 'chat';
  readonly options: Record<string, unknown>;
  readonly at: string;
  readonly machine: { cpus: number; node: string; loadBefore: number[]; loadAfter: number[] };
  readonly runs: ChatRun[];
  readonly checks: ChatCheck[];
}

export interface ChatCheck {
  readonly criterion: string;
  /** null: could not be measured (counts as missed) */
  readonly value: number | null;
  readonly shown: string;
  readonly ok: boolean;
}

const fmt = (n: number | null | undefined, d = 1) => (n === null || n === undefined || Number.isNaN(n) ? '–' : n.toLocaleString('en', { maximumFractionDigits: d }));
const ratio = (a: number | null | undefined, b: number | null | undefined) => (a === null || a === undefined || b === null || b === undefined || b === 0 ? null : a / b);
const x = (r: number | null) => (r === null ? '–' : `${r.toFixed(2)}x`);
const codes = (r: Record<string, number>) => Object.entries(r).map(([c, n]) => `ERROR ${c}${ERROR_NAMES[Number(c)] ? ` ${ERROR_NAMES[Number(c)]}` : ''} x ${fmt(n)}`).join(', ') || '–';

/** Issue 10's targets against the run with storage writers. */
export function chatChecks(runs: readonly ChatRun[], logics: number): ChatCheck[] {
  const r = runs.find((x) => x.storeWriter);
  if (!r) return [];
  const out: ChatCheck[] = [];
  const accepted = r.window.acceptedByLogic ?? r.window.accepted;
  const perLogic = accepted / Math.max(1, logics);
  out.push({ criterion: 'accepted group messages/s per logic process ≥ 5,000', value: perLogic, shown: `${fmt(perLogic)}/s (${fmt(r.window.offered)}/s offered, ${logics} logic)`, ok: perLogic >= 5000 });
  out.push({ criterion: 'sender ACK p99 < 50 ms', value: r.window.ack.p99, shown: `${fmt(r.window.ack.p99)} ms`, ok: r.window.ack.count > 0 && r.window.ack.p99 < 50 });
  const lag = r.storeLag;
  out.push({
    criterion: 'storage lag p99 < 1 s (danmaku_store_lag_seconds)',
    value: lag?.p99 ?? null,
    shown: lag && lag.p99 !== null ? `${fmt(lag.p99 * 1000, 0)} ms (bucket ≤ ${fmt(lag.p99Bound, 3)} s; ${fmt(lag.count)} messages)${r.probeLag ? `; probe SYNC sampling p99 ${fmt(r.probeLag.p99)} ms` : ''}` : 'not measured',
    ok: lag !== null && lag.p99 !== null && lag.p99 < 1,
  });
  for (const [label, c] of [['idle', r.catchUpIdle], ['under load', r.catchUpLoaded]] as const) {
    if (!c) continue;
    out.push({ criterion: `catch-up of ${fmt(c.waiting)} waiting messages < 1 s (${label})`, value: c.ms, shown: c.ms === null ? `never: ${c.error}` : `${fmt(c.ms)} ms (${c.frames} INBOX frames)`, ok: c.ms !== null && c.ms < 1000 });
  }
  const v = r.verify;
  const unsettled = r.settle && !r.settle.done ? '; the storage writers had not finished when checked' : '';
  out.push({ criterion: 'zero acknowledged messages lost (every inbox reader)', value: v.inboxMissing, shown: `${fmt(v.inboxMissing)} missing of ${fmt(v.inboxExpected)} (user, message) pairs over ${fmt(v.inboxUsers)} inbox readers${v.syncFailed ? `; ${v.syncFailed} readers' final sync failed` : ''}${unsettled}`, ok: v.inboxMissing === 0 && v.inboxUsers > 0 && v.syncFailed === 0 });
  const dups = r.duplicates.inbox + r.duplicates.live + r.duplicates.idConflicts;
  out.push({ criterion: 'zero duplicates (inbox stream and live, by seq; one id per seq)', value: dups, shown: `inbox ${fmt(r.duplicates.inbox)}, live ${fmt(r.duplicates.live)}, ids conflicting ${fmt(r.duplicates.idConflicts)}`, ok: dups === 0 });
  return out;
}

const title = (r: ChatRun) => (r.storeWriter ? (r.pushAck === false ? 'writers, no RECEIVED' : 'with storage writers') : 'baseline: no writer');
const coresOf = (r: ChatRun, role: string) => {
  const names = r.processes.filter((p) => p.role === role).map((p) => p.name);
  const vals = names.map((n) => r.window.cores[n]).filter((v): v is number => v !== undefined);
  return vals.length > 0 ? vals.reduce((a, b) => a + b, 0) : null;
};

/** Rows of the side-by-side table: label, figure, and whether a ratio makes sense. */
const ROWS: [string, (r: ChatRun) => number | string | null, boolean?][] = [
  ['online members (probes) / offline members / senders', (r) => `${fmt(r.users.online + r.users.probes)} (${r.users.probes}) / ${fmt(r.users.offline)} / ${fmt(r.users.senders)}`],
  ['connections open at the end (failed, closed)', (r) => `${fmt(r.users.connected)} (${fmt(r.users.failed)}, ${fmt(r.users.closed)})`],
  ['MSGs/s offered (planned)', (r) => `${fmt(r.window.offered)} (${fmt(r.window.rate)})`],
  ['**accepted**: ACKs/s', (r) => r.window.accepted, true],
  ['accepted by the logic processes, /s (their /metrics)', (r) => r.window.acceptedByLogic, true],
  ['**ACK p50 / p99 / max** (ms)', (r) => `${fmt(r.window.ack.p50)} / ${fmt(r.window.ack.p99)} / ${fmt(r.window.ack.max)}`],
  ['ACK p99 (ms)', (r) => r.window.ack.p99, true],
  ['refused, timed out, late', (r) => `${codes(r.window.refused)}; ${fmt(r.window.timeouts)} timed out, ${fmt(r.window.late)} late`],
  ['live MESSAGEs/s received; delay from `t` p50 / p99 (ms)', (r) => `${fmt(r.window.live.perSecond)}; ${fmt(r.window.live.p50)} / ${fmt(r.window.live.p99)}`],
  ['RECEIVED frames / ids / KiB the members sent in the window', (r) => (r.acks ? `${fmt(r.acks.frames)} / ${fmt(r.acks.ids)} / ${fmt(r.acks.bytes / 1024)}` : '–')],
  ['**RECEIVED frames per live MESSAGE**', (r) => r.acks?.framesPerMessage ?? null, true],
  ['**RECEIVED bytes per live MESSAGE**', (r) => r.acks?.bytesPerMessage ?? null, true],
  ['MESSAGEs received again with their id (resends)', (r) => r.acks?.resent ?? null],
  ['gateways: pushes acknowledged / RECEIVED frames / resends / given up by reason / pending at the end', (r) => (r.acks?.server ? `${fmt(r.acks.server.acked)} / ${fmt(r.acks.server.ackFrames)} / ${fmt(r.acks.server.resends)} / ${Object.entries(r.acks.server.givenUp).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${fmt(n)}`).join(', ') || 'none'} / ${fmt(r.acks.server.pendingAtEnd)}` : '–')],
  ['**gateway CPU per live MESSAGE (µs)**', (r) => r.gatewayCpuPerMessageUs ?? null, true],
  ['**storage lag** p50 / p99, server histogram (ms)', (r) => (r.storeLag ? `${fmt((r.storeLag.p50 ?? NaN) * 1000, 0)} / ${fmt((r.storeLag.p99 ?? NaN) * 1000, 0)} (p99 bucket ≤ ${fmt(r.storeLag.p99Bound, 3)} s)` : '–')],
  ['storage lag by probe SYNC sampling p50 / p99 / max (ms)', (r) => (r.probeLag ? `${fmt(r.probeLag.p50)} / ${fmt(r.probeLag.p99)} / ${fmt(r.probeLag.max)} (${fmt(r.probeLag.count)} samples)` : '–')],
  ['**Redis commands per accepted message** (Lua-inner included)', (r) => r.redis?.perMessage ?? null, true],
  ['store writes in the window, by kind', (r) => (r.storeWrites ? Object.entries(r.storeWrites).map(([k, v]) => `${k} ${fmt(v)}`).join(', ') : '–')],
  ['CPU cores: logic', (r) => coresOf(r, 'logic'), true],
  ['CPU cores: gateway', (r) => coresOf(r, 'gateway'), true],
  ['CPU cores: redis-server', (r) => coresOf(r, 'redis-server'), true],
  ['CPU cores: nats-server', (r) => coresOf(r, 'nats-server'), true],
  ['CPU cores: load generator', (r) => r.window.cores['load generator'] ?? null, true],
  ['JetStream at the window end: messages, bytes, consumer pending + unacked', (r) => (r.jetstream?.atEnd ? `${fmt(r.jetstream.atEnd.messages)}, ${fmt(r.jetstream.atEnd.bytes / 1e6)} MB, ${fmt(r.jetstream.atEnd.consumerPending)} + ${fmt(r.jetstream.atEnd.ackPending)}` : '–')],
  ['offline members: connect to holding their inbox, p50 / p99 / max (ms); mean messages', (r) => (r.offlineCatchUp ? `${fmt(r.offlineCatchUp.p50)} / ${fmt(r.offlineCatchUp.p99)} / ${fmt(r.offlineCatchUp.max)}; ${fmt(r.offlineCatchUp.meanMessages)} (${r.offlineCatchUp.caughtUp} of ${r.offlineCatchUp.users} caught up in the window)` : '–')],
  ['catch-up of N waiting (idle): total, to WELCOME, to the push (ms)', (r) => (r.catchUpIdle ? `${r.catchUpIdle.ms === null ? `never (${r.catchUpIdle.error})` : fmt(r.catchUpIdle.ms)}, ${fmt(r.catchUpIdle.welcomeMs)}, ${fmt(r.catchUpIdle.pushMs)}; ${fmt(r.catchUpIdle.bytes / 1024)} KiB in ${r.catchUpIdle.frames} frames, ${r.catchUpIdle.retries} retries` : '–')],
  ['catch-up of N waiting (under load)', (r) => (r.catchUpLoaded ? `${r.catchUpLoaded.ms === null ? `never (${r.catchUpLoaded.error})` : fmt(r.catchUpLoaded.ms)}, ${fmt(r.catchUpLoaded.welcomeMs)}, ${fmt(r.catchUpLoaded.pushMs)}; ${r.catchUpLoaded.frames} frames, ${r.catchUpLoaded.retries} retries (ERROR 30/32)` : '–')],
  ['drain (s until no MSG awaited its ACK); settle (s until the writers had applied all)', (r) => `${r.drain.quiet ? r.drain.seconds : `not quiet after ${r.drain.seconds}`}; ${r.settle ? (r.settle.done ? fmt(r.settle.seconds) : `not done after ${fmt(r.settle.seconds)}`) : '–'}`],
  ['acknowledged messages (whole run)', (r) => r.acknowledged],
  ['**inbox: missing** (user, message) pairs / expected; readers checked', (r) => (r.storeWriter ? `${fmt(r.verify.inboxMissing)} / ${fmt(r.verify.inboxExpected)}; ${fmt(r.verify.inboxUsers)}${r.verify.example ? ` (${r.verify.example})` : ''}` : '–')],
  ['inbox: (user, message) pairs no ACK covered (MSGs timed out or refused with ERROR 30 that were stored all the same); readers whose final sync failed', (r) => (r.storeWriter ? `${fmt(r.verify.inboxUnacknowledged)}; ${fmt(r.verify.syncFailed)}` : '–')],
  ['live: missing / expected (best effort by contract); members checked', (r) => `${fmt(r.verify.liveMissing)} / ${fmt(r.verify.liveExpected)}; ${fmt(r.verify.liveUsers)}`],
  ['**duplicates**: inbox / live / conflicting ids', (r) => `${fmt(r.duplicates.inbox)} / ${fmt(r.duplicates.live)} / ${fmt(r.duplicates.idConflicts)}`],
  ['SYNC errors (retried when 30/32)', (r) => codes(r.syncErrors)],
  ['processes running at the end', (r) => r.processes.map((p) => `${p.name} ${p.alive ? 'yes' : '**no**'}`).join(', ')],
  ['ERRORs sent by the server, by reason', (r) => r.processes.flatMap((p) => Object.entries(p.errors ?? {}).map(([k, n]) => `${p.name} ${k} x ${fmt(n)}`)).join(', ') || 'none'],
  ['dropped by the server, by reason', (r) => r.processes.flatMap((p) => Object.entries(p.dropped ?? {}).map(([k, n]) => `${p.name} ${k} x ${fmt(n)}`)).join(', ') || 'none'],
];

/** The numeric rows and the run titles, for the medians of repeated runs (summary.ts). */
export const chatFigures = {
  title,
  numeric: ROWS.filter(([, , numeric]) => numeric).map(([label, get]): [string, (r: ChatRun) => number | null] => [label.replace(/\*\*/g, ''), (r) => {
    const v = get(r);
    return typeof v === 'number' ? v : null;
  }]),
};

function redisLines(r: ChatRun): string[] {
  if (!r.redis) return [];
  const shown = Object.entries(r.redis.byCommand).filter(([, n]) => n >= 0.01);
  return [`- ${title(r)}: Redis commands per accepted message by command: ${shown.map(([c, n]) => `${c} ${fmt(n, 2)}`).join(', ') || '–'} (${fmt(r.redis.calls)} calls in the window; the offline members' SYNC reads included)`];
}

export function chatMarkdown(rep: ChatReport): string {
  const cols = rep.runs.map(title);
  // The first run as a ratio to each of the others.
  const others = rep.runs.slice(1).map(title);
  const head = `| | ${[...cols, ...others.map((o) => `${cols[0]} / ${o}`)].join(' | ')} |\n|---|${[...cols, ...others].map(() => '---:').join('|')}|`;
  const body = ROWS.map(([label, get, numeric]) => {
    const vals = rep.runs.map(get);
    const cells = vals.map((v) => (typeof v === 'number' ? fmt(v) : v === null ? '–' : v));
    const rel = vals.slice(1).map((v) => (numeric && typeof vals[0] === 'number' && typeof v === 'number' ? x(ratio(vals[0], v)) : ''));
    return `| ${label} | ${[...cells, ...rel].join(' | ')} |`;
  });
  const load = (l: number[]) => l.map((v) => v.toFixed(2)).join(' ');
  const lag = rep.runs.find((r) => r.storeLag)?.storeLag;
  return [
    `## chat (${rep.at})`,
    '',
    `Options: \`${JSON.stringify(rep.options)}\`; ${rep.machine.cpus} CPUs, Node ${rep.machine.node}; load average ${load(rep.machine.loadBefore)} at the start, ${load(rep.machine.loadAfter)} at the end. Everything (load generator, gateway, logic, nats-server, redis-server) shares this machine.`,
    '',
    '| criterion (issue 10) | measured | |',
    '|---|---|---|',
    ...rep.checks.map((c) => `| ${c.criterion} | ${c.shown} | ${c.ok ? 'met' : '**missed**'} |`),
    '',
    head,
    ...body,
    '',
    ...rep.runs.flatMap(redisLines),
    ...rep.runs.flatMap((r) => Object.entries(r.logErrors).map(([p, lines]) => `- ${title(r)}: ${p} logged: ${lines.map((l) => `\`${l}\``).join('; ')}`)),
    ...(lag ? [`- storage lag buckets over the window (s: messages): ${lag.buckets.filter(([, n]) => n > 0).map(([le, n]) => `≤ ${le}: ${fmt(n)}`).join(', ')}`] : []),
    '',
    ...(rep.runs.some((r) => r.pushAck === false && r.storeWriter) ? ['What RECEIVED costs: the run "with storage writers" has every member acknowledge MESSAGE pushes, "writers, no RECEIVED" has none acknowledge and the gateways resend nothing (PUSH_RESENDS=0), so that both carry the same pushes; the gateways track pushes in both (and give each up at its first check in the second), so the ratio of gateway CPU per live MESSAGE is the RECEIVED frames\' own cost: reading them and settling the pending pushes.', ''] : []),
    'Storage lag: the server histogram danmaku_store_lag_seconds (from the accept time `t` to the inbox and history writes applied, per message, read from every logic process before and after the window; p99 interpolated within its bucket as histogram_quantile() does, with the bucket bound beside it), and by sampling: probes (one online member of each of the first groups) poll SYNC and time each entry from its `t` to its first sight, which adds up to one poll interval and a SYNC round trip.',
    '',
  ].join('\n');
}

export function chatSvg(rep: ChatReport): string {
  const names = rep.runs.map(title);
  const colorOf = (label: string) => PALETTE[(1 + 2 * Math.max(0, names.findIndex((n) => label.startsWith(`${n} `)))) % PALETTE.length]!;
  const rates: Line[] = rep.runs.flatMap((run) => [
    { label: `${title(run)} offered/s`, dash: true, points: run.timeline.map((p): [number, number] => [p.t, p.offered]) },
    { label: `${title(run)} ACKed/s`, points: run.timeline.map((p): [number, number] => [p.t, p.accepted]) },
  ]);
  const p99: Line[] = rep.runs.map((run) => ({ label: `${title(run)} ACK p99`, points: run.timeline.map((p): [number, number] => [p.t, p.accepted > 0 ? p.p99 : NaN]) }));
  const inbox: Line[] = rep.runs.filter((r) => r.storeWriter).map((run) => ({ label: `${title(run)} inbox messages read/s`, points: run.timeline.map((p): [number, number] => [p.t, p.inbox]) }));
  const xLabel = 'seconds since the warm-up began (one point per second)';
  const parts: string[] = [];
  let y = 0;
  for (const p of [
    panel(rates, 0, 'chat: MSGs per second, offered and acknowledged', 'MSGs/s', colorOf, { xLabel }),
    panel(p99, 0, 'ACK p99 per second (log scale)', 'ms', colorOf, { xLabel, log: true, reference: { value: 50, label: '50 ms' } }),
    panel(inbox, 0, 'inbox messages read per second (offline members coming online, probes)', 'per second', colorOf, { xLabel }),
  ]) {
    parts.push(`<g transform="translate(0 ${y})">${p.svg}</g>`);
    y += p.height;
  }
  return document(parts, y);
}
