// One cluster run of the chat scenario: the groups created through the admin API, the catch-up
// of a user with N waiting messages on the idle cluster, the online members connected, a
// warm-up, then the measured window at the target rate during which the offline members come
// online and sync their inboxes (and a second catch-up user logs in, under load); then the
// drain, the wait for the storage writers to finish, and the check of every acknowledged
// message against every inbox reader (loss, duplicates by seq with one id per seq) and against
// the live connections. Server-side figures come from the logic processes' /metrics (accepted
// messages, danmaku_store_lag_seconds, store writes), Redis INFO commandstats and nats-server's
// JetStream monitoring (/jsz). The members acknowledge MESSAGE pushes with RECEIVED (batched,
// --ack-delay); the RECEIVED frames, ids and bytes are counted per live MESSAGE, and the
// gateways' push counters (docs/metrics.md, danmaku_push_*) read over the window.

import { ChatFleet, accumulateChat, emptyChatTotals, type ChatTotals } from './chat-fleet.js';
import type { ChatUserSpec, ChatVerifyPart } from './chat-messages.js';
import { sendMessages, timeCatchUp, waitForInbox, type CatchUp } from './chat-catchup.js';
import { healthBetween, readHealth, type ProcessHealth } from './health.js';
import { callsBetween, redisCommandCalls, totalCalls, type CommandCalls } from './infra-stats.js';
import { metricOf, parseSamples, scrape } from './prom.js';
import { TYPICAL_TEXT } from './protocol.js';
import { progress } from './run.js';
import { tokens } from './scenario.js';
import type { Target, TargetProcess } from './target.js';
import { procUsage } from './usage.js';

export interface ChatRunOptions {
  readonly groups: number;
  readonly members: number;
  /** share of each group's members offline at the start (they come online during the window) */
  readonly offline: number;
  readonly rate: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly rampS: number;
  /** groups whose first member is a probe (polls SYNC) */
  readonly probes: number;
  readonly probePollMs: number;
  readonly syncPollMs: number;
  /** messages waiting for the catch-up users (0: no catch-up measured) */
  readonly catchUp: number;
  /** the offline members connect between these shares of the window */
  readonly wakeFrom: number;
  readonly wakeTo: number;
  readonly replyTimeoutS: number;
  readonly drainS: number;
  readonly workers: number;
  readonly addresses: string[];
  readonly tokenSecret: string;
  readonly quiet: boolean;
  /** how long the first MESSAGE id waits for others before a RECEIVED goes (0: end of the turn) */
  readonly ackDelayMs: number;
}

/** Push acknowledgement: what the clients sent, and what the gateways counted, over the window. */
export interface PushAckFigures {
  /** RECEIVED frames, ids and bytes (WebSocket payload) the clients sent */
  readonly frames: number;
  readonly ids: number;
  readonly bytes: number;
  /** per live MESSAGE received (first sight) */
  readonly framesPerMessage: number;
  readonly bytesPerMessage: number;
  /** MESSAGEs received again with their id (resends) */
  readonly resent: number;
  /** the gateways' counters (danmaku_push_*): null when a gateway's /metrics did not answer */
  readonly server: { acked: number; ackFrames: number; resends: number; givenUp: Record<string, number>; pendingAtEnd: number } | null;
}

export interface ChatSecond {
  readonly t: number;
  readonly phase: string;
  readonly offered: number;
  readonly accepted: number;
  readonly p99: number;
  readonly refused: number;
  readonly live: number;
  readonly inbox: number;
  readonly pending: number;
  readonly woken: number;
  readonly caughtUp: number;
}

export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** A Prometheus histogram's quantiles over a window: the bucket bound, and interpolated as histogram_quantile() does. */
export interface BucketQuantiles {
  readonly count: number;
  readonly p50: number | null;
  readonly p99: number | null;
  /** the upper bound of the bucket holding p99 */
  readonly p99Bound: number | null;
  /** messages per bucket (upper bound in s, '+Inf'), in order */
  readonly buckets: [string, number][];
}

export interface JetStreamStats {
  readonly stream: string;
  readonly messages: number;
  readonly bytes: number;
  readonly consumerPending: number | null;
  readonly ackPending: number | null;
  readonly redelivered: number | null;
}

export interface ChatRun {
  readonly target: string;
  /** with storage writers (the scenario), or without (the baseline) */
  readonly storeWriter: boolean;
  /** the clients acknowledged MESSAGE pushes with RECEIVED (else the run had PUSH_RESENDS=0) */
  readonly pushAck: boolean;
  readonly acks: PushAckFigures;
  /** gateway CPU (summed over the gateways) per live MESSAGE received, µs */
  readonly gatewayCpuPerMessageUs: number | null;
  readonly run: string;
  readonly users: { online: number; probes: number; offline: number; senders: number; connected: number; failed: number; closed: number; closeCodes: Record<string, number> };
  readonly window: {
    readonly seconds: number;
    readonly rate: number;
    readonly offered: number;
    /** ACKs per second received in the window (within the reply timeout) */
    readonly accepted: number;
    /** group messages the logic processes accepted per second (their /metrics) */
    readonly acceptedByLogic: number | null;
    readonly ack: LatencySummary;
    readonly refused: Record<string, number>;
    readonly timeouts: number;
    readonly late: number;
    /** live MESSAGE delay from the message's `t` (server accept) */
    readonly live: LatencySummary & { readonly perSecond: number };
    /** CPU cores per process (and the load generator: '') */
    readonly cores: Record<string, number>;
  };
  /** danmaku_store_lag_seconds over the window (accept to applied), all logic processes */
  readonly storeLag: BucketQuantiles | null;
  /** probes: from a message's `t` to its first sight in a SYNC reply (poll interval included) */
  readonly probeLag: LatencySummary | null;
  /** Redis commands (Lua-inner calls included) per accepted message over the window, and by command */
  readonly redis: { readonly calls: number; readonly perMessage: number | null; readonly byCommand: Record<string, number> } | null;
  /** store writes over the window, by kind (danmaku_store_writes_total) */
  readonly storeWrites: Record<string, number> | null;
  readonly jetstream: { readonly atEnd: JetStreamStats | null; readonly afterSettle: JetStreamStats | null } | null;
  /** offline members: connect to the first INBOX saying no more, and messages held then */
  readonly offlineCatchUp: (LatencySummary & { readonly users: number; readonly caughtUp: number; readonly meanMessages: number }) | null;
  readonly catchUpIdle: CatchUp | null;
  readonly catchUpLoaded: CatchUp | null;
  /** after the last ACK: seconds until the storage writers had applied everything */
  readonly settle: { readonly seconds: number; readonly done: boolean } | null;
  readonly drain: { readonly seconds: number; readonly quiet: boolean };
  readonly acknowledged: number;
  readonly verify: ChatVerifyPart;
  readonly duplicates: { readonly live: number; readonly inbox: number; readonly idConflicts: number };
  readonly syncErrors: Record<string, number>;
  readonly unsequenced: number;
  readonly processes: ProcessHealth[];
  /** distinct error and warning lines the processes logged (the last ones kept), by process */
  readonly logErrors: Record<string, string[]>;
  readonly timeline: ChatSecond[];
}

const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const latency = (h: { count: number; quantile(q: number): number; max: number }): LatencySummary => ({ count: h.count, p50: round(h.quantile(0.5), 1), p99: round(h.quantile(0.99), 1), max: round(h.max, 1) });

/** The members of every group, and the catch-up group; uids carry the run's prefix. */
export function chatUsers(run: string, o: ChatRunOptions, token: (uid: string) => string, withOffline: boolean): { users: ChatUserSpec[]; groups: Map<string, string[]> } {
  const users: ChatUserSpec[] = [];
  const groups = new Map<string, string[]>();
  const online = o.members - Math.round(o.members * o.offline);
  for (let g = 0; g < o.groups; g++) {
    const group = `c${g}`;
    const members: string[] = [];
    for (let m = 0; m < o.members; m++) {
      const uid = `${run}-g${g}-m${m}`;
      members.push(uid);
      const role = m >= online ? 'offline' : m === 0 && g < o.probes && withOffline ? 'probe' : 'online';
      if (role === 'offline' && !withOffline) continue;
      users.push({ uid, token: token(uid), group, role, sender: role !== 'offline' });
    }
    groups.set(group, members);
  }
  return { users, groups };
}

async function putGroup(admin: { url: string; secret: string }, group: string, members: string[]): Promise<void> {
  const res = await fetch(`${admin.url}/api/groups/${group}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${admin.secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ members }),
  });
  if (res.status >= 300) throw new Error(`creating group ${group}: HTTP ${res.status} ${await res.text()}`);
}

/** The /metrics texts of the logic processes (null for one that did not answer). */
async function logicTexts(processes: readonly TargetProcess[], role: TargetProcess['role'] = 'logic'): Promise<(string | null)[]> {
  return Promise.all(processes.filter((p) => p.role === role && p.metricsUrl).map((p) => scrape(p.metricsUrl!, 3000).catch(() => null)));
}

function sumOf(texts: readonly (string | null)[], name: string, labels: Record<string, string> = {}): number | null {
  if (texts.some((t) => t === null)) return null;
  return texts.reduce((a, t) => a + (metricOf(t!, name, labels) ?? 0), 0);
}

function byLabel(texts: readonly (string | null)[], name: string, label: string): Record<string, number> | null {
  if (texts.some((t) => t === null)) return null;
  const out: Record<string, number> = {};
  for (const t of texts) for (const s of parseSamples(t!)) if (s.name === name && s.labels[label] !== undefined) out[s.labels[label]!] = (out[s.labels[label]!] ?? 0) + s.value;
  return out;
}

/** Quantiles of a Prometheus histogram between two readings of its cumulative buckets. */
export function bucketQuantiles(before: Record<string, number>, after: Record<string, number>): BucketQuantiles {
  const bounds = Object.keys(after)
    .filter((le) => le !== '+Inf')
    .map(Number)
    .sort((a, b) => a - b);
  const cum = (le: string) => (after[le] ?? 0) - (before[le] ?? 0);
  const count = cum('+Inf');
  const buckets: [string, number][] = [];
  let prev = 0;
  for (const b of bounds) {
    buckets.push([String(b), cum(String(b)) - prev]);
    prev = cum(String(b));
  }
  buckets.push(['+Inf', count - prev]);
  const q = (p: number): { value: number | null; bound: number | null } => {
    if (count === 0) return { value: null, bound: null };
    const rank = p * count;
    let lower = 0;
    let below = 0;
    for (const b of bounds) {
      const c = cum(String(b));
      if (c >= rank) return { value: round(lower + ((b - lower) * (rank - below)) / Math.max(1, c - below), 4), bound: b };
      lower = b;
      below = c;
    }
    return { value: lower, bound: Infinity }; // beyond the last bound: histogram_quantile says the last bound
  };
  const p99 = q(0.99);
  return { count, p50: q(0.5).value, p99: p99.value, p99Bound: p99.bound, buckets };
}

/** DANMAKU_CHAT's state and its consumer's backlog, from nats-server's /jsz; null when not there. */
async function jetStream(monitorUrl: string | null): Promise<JetStreamStats | null> {
  if (!monitorUrl) return null;
  try {
    const res = await fetch(`${monitorUrl}/jsz?streams=true&consumers=true`, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) return null;
    const jsz = (await res.json()) as { account_details?: { stream_detail?: { name: string; state: { messages: number; bytes: number }; consumer_detail?: { num_pending: number; num_ack_pending: number; num_redelivered: number }[] }[] }[] };
    const streams = (jsz.account_details ?? []).flatMap((a) => a.stream_detail ?? []);
    const s = streams.find((x) => /CHAT/i.test(x.name)) ?? streams[0];
    if (!s) return null;
    const c = s.consumer_detail ?? [];
    const sum = (get: (x: (typeof c)[number]) => number) => (c.length > 0 ? c.reduce((a, x) => a + get(x), 0) : null);
    return { stream: s.name, messages: s.state.messages, bytes: s.state.bytes, consumerPending: sum((x) => x.num_pending), ackPending: sum((x) => x.num_ack_pending), redelivered: sum((x) => x.num_redelivered) };
  } catch {
    return null;
  }
}

interface Reading {
  readonly at: number;
  readonly texts: (string | null)[];
  readonly gateways: (string | null)[];
  readonly redis: CommandCalls | null;
  readonly cpu: Map<string, number>;
}

async function readServer(target: Target): Promise<Reading> {
  const [texts, gateways, redis] = await Promise.all([logicTexts(target.processes), logicTexts(target.processes, 'gateway'), target.infra ? redisCommandCalls(target.infra.redisPort) : null]);
  const cpu = new Map<string, number>();
  const gen = procUsage(process.pid);
  if (gen) cpu.set('', gen.cpu);
  for (const p of target.processes) {
    const u = p.pid === undefined ? null : procUsage(p.pid);
    if (u) cpu.set(p.name, u.cpu);
  }
  return { at: Date.now(), texts, gateways, redis, cpu };
}

const bucketsOf = (texts: readonly (string | null)[]) => {
  const out: Record<string, number> = {};
  for (const t of texts) if (t) for (const s of parseSamples(t)) if (s.name === 'danmaku_store_lag_seconds_bucket') out[s.labels.le!] = (out[s.labels.le!] ?? 0) + s.value;
  return out;
};

const ACCEPTED = { kind: 'group', result: 'accepted' };

/** Seconds between the last ACK and checking live deliveries. */
const GRACE_S = 3;

/** Distinct warnings and errors (pino level >= 40) among a process's kept log lines. */
function logErrorsOf(processes: readonly TargetProcess[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const p of processes) {
    const seen = new Set<string>();
    for (const l of p.logs?.() ?? []) {
      if (typeof l.level !== 'number' || l.level < 40) continue;
      const err = l.err as { message?: string } | undefined;
      seen.add(`${String(l.msg)}${err?.message ? `: ${err.message}` : ''}`.slice(0, 300));
    }
    if (seen.size > 0) out[p.name] = [...seen].slice(0, 8);
  }
  return out;
}

/** The gateways' push counters over the window (docs/metrics.md, danmaku_push_*). */
function pushCounters(r0: Reading, r1: Reading): PushAckFigures['server'] {
  const between = (name: string) => {
    const a = sumOf(r0.gateways, name);
    const b = sumOf(r1.gateways, name);
    return a === null || b === null ? null : b - a;
  };
  const acked = between('danmaku_push_acked_total');
  const ackFrames = between('danmaku_push_ack_frames_total');
  const resends = between('danmaku_push_resends_total');
  const given0 = byLabel(r0.gateways, 'danmaku_push_given_up_total', 'reason');
  const given1 = byLabel(r1.gateways, 'danmaku_push_given_up_total', 'reason');
  const pending = sumOf(r1.gateways, 'danmaku_push_pending');
  if (acked === null || ackFrames === null || resends === null || !given0 || !given1 || pending === null) return null;
  return { acked, ackFrames, resends, givenUp: Object.fromEntries(Object.entries(given1).map(([k, v]) => [k, v - (given0[k] ?? 0)])), pendingAtEnd: pending };
}

export async function measureChat(target: Target, run: string, o: ChatRunOptions, storeWriter: boolean, pushAck = true): Promise<ChatRun> {
  const say = (line: string) => progress(o.quiet, `[${storeWriter ? (pushAck ? 'chat' : 'chat, no RECEIVED') : 'baseline: no writer'}] ${line}`);
  if (!target.admin) throw new Error('chat needs the admin API of a logic process');
  const admin = target.admin;
  const token = tokens(o.tokenSecret);
  const { users, groups } = chatUsers(run, o, token, storeWriter);
  say(`creating ${groups.size} groups of ${o.members}...`);
  for (const [g, members] of groups) await putGroup(admin, g, members);

  // The catch-up users' messages, written before any other traffic.
  const url = target.urls[0]!;
  let catchUpIdle: CatchUp | null = null;
  let loadedUser: string | null = null;
  if (storeWriter && o.catchUp > 0) {
    const [sender, idle, loaded] = ['cs', 'ci', 'cl'].map((n) => `${run}-${n}`) as [string, string, string];
    await putGroup(admin, 'catchup', [sender, idle, loaded]);
    say(`catch-up: sending ${o.catchUp} messages to the users who will log in...`);
    await sendMessages(url, token(sender), 'catchup', o.catchUp, `${run}-cu`, TYPICAL_TEXT);
    await waitForInbox(admin, loaded, o.catchUp);
    await waitForInbox(admin, idle, o.catchUp);
    catchUpIdle = await timeCatchUp(url, token(idle), o.catchUp + 0);
    say(`catch-up on the idle cluster: ${catchUpIdle.ms === null ? catchUpIdle.error : `${round(catchUpIdle.ms, 1)} ms`}`);
    loadedUser = loaded;
  }

  const senders = users.filter((u) => u.sender).length;
  const perSender = o.rate / Math.max(1, senders);
  const counts = { online: users.filter((u) => u.role === 'online').length, probes: users.filter((u) => u.role === 'probe').length, offline: users.filter((u) => u.role === 'offline').length };
  say(`connecting ${counts.online + counts.probes} online members over ${o.rampS} s (${counts.offline} offline)...`);
  const fleet = await ChatFleet.start({ run, urls: target.urls, addresses: o.addresses, users, workers: o.workers, replyTimeoutMs: o.replyTimeoutS * 1000, probePollMs: o.probePollMs, syncPollMs: o.syncPollMs, text: TYPICAL_TEXT, ackDelayMs: pushAck ? o.ackDelayMs : null });
  try {
    await fleet.connect(o.rampS * 1000);
    const healthBefore = await readHealth(target.processes);
    const timeline: ChatSecond[] = [];
    const all = emptyChatTotals();
    let t = 0;
    let last = emptyChatTotals();
    /** one-second reports for `seconds`; the window's totals */
    const phase = async (name: string, seconds: number): Promise<ChatTotals> => {
      accumulateChat(all, await fleet.report());
      const totals = emptyChatTotals();
      const started = Date.now();
      for (let s = 1; s <= seconds; s++) {
        await sleep(started + s * 1000 - Date.now());
        const r = await fleet.report();
        accumulateChat(totals, r);
        accumulateChat(all, r);
        last = r;
        const refused = Object.values(r.refused).reduce((a, b) => a + b, 0) + r.timeouts;
        timeline.push({ t: ++t, phase: name, offered: r.offered, accepted: r.ack.count, p99: round(r.ack.quantile(0.99), 1), refused, live: r.live, inbox: r.inboxMessages, pending: r.pendingAcks, woken: r.woken, caughtUp: r.caughtUp });
        say(`${name} ${s}/${seconds} s | offered ${r.offered}, ACKed ${r.ack.count}, ACK p99 ${round(r.ack.quantile(0.99), 1)} ms${refused ? `, ${refused} refused or timed out` : ''} | live ${r.live}, inbox ${r.inboxMessages} | ${r.pendingAcks} awaiting | offline online ${r.woken}, caught up ${r.caughtUp}`);
      }
      return totals;
    };

    fleet.send(perSender);
    if (o.warmupS > 0) await phase('warm-up', o.warmupS);
    const r0 = await readServer(target);
    const windowMs = o.durationS * 1000;
    if (storeWriter) fleet.wake(Date.now() + o.wakeFrom * windowMs, (o.wakeTo - o.wakeFrom) * windowMs);
    const loaded = loadedUser ? sleep(windowMs / 2).then(() => timeCatchUp(url, token(loadedUser!), o.catchUp)) : Promise.resolve(null);
    const w = await phase('window', o.durationS);
    const r1 = await readServer(target);
    const jsAtEnd = await jetStream(target.infra?.natsMonitorUrl ?? null);
    fleet.send(0);
    const catchUpLoaded = await loaded;
    if (catchUpLoaded) say(`catch-up under load: ${catchUpLoaded.ms === null ? catchUpLoaded.error : `${round(catchUpLoaded.ms, 1)} ms`}`);

    // Drain: until no MSG awaits its ACK (or the limit).
    let drained = 0;
    let quiet = false;
    while (drained < o.drainS) {
      await phase('drain', 1);
      drained++;
      if (last.pendingAcks === 0) {
        quiet = true;
        break;
      }
    }
    // Live MESSAGEs of the last ACKs may still be on their way.
    await phase('grace', GRACE_S);
    // Settle: until the storage writers have applied everything (JetStream consumer, else the backlog gauge).
    let settle: ChatRun['settle'] = null;
    if (storeWriter) {
      const started = Date.now();
      let done = false;
      while (Date.now() - started < o.drainS * 1000) {
        const js = await jetStream(target.infra?.natsMonitorUrl ?? null);
        const backlog = js && js.consumerPending !== null && js.ackPending !== null ? js.consumerPending + js.ackPending : sumOf(await logicTexts(target.processes), 'danmaku_store_queue_backlog');
        if (backlog === 0) {
          done = true;
          break;
        }
        await sleep(250);
      }
      settle = { seconds: round((Date.now() - started) / 1000, 1), done };
    }
    const jsAfterSettle = await jetStream(target.infra?.natsMonitorUrl ?? null);
    const acked = await fleet.acked();
    say('checking every acknowledged message against every inbox reader and live member...');
    const verify = await fleet.verify(acked);
    const acknowledged = Object.values(acked).reduce((a, bits) => a + bitsCount(bits), 0);
    accumulateChat(all, await fleet.report()); // the final syncs' duplicates and errors

    const seconds = (r1.at - r0.at) / 1000;
    const accepted1 = sumOf(r1.texts, 'danmaku_upstream_messages_total', ACCEPTED);
    const accepted0 = sumOf(r0.texts, 'danmaku_upstream_messages_total', ACCEPTED);
    const acceptedByLogic = accepted0 !== null && accepted1 !== null ? accepted1 - accepted0 : null;
    const cores: Record<string, number> = {};
    for (const [name, cpu] of r1.cpu) cores[name === '' ? 'load generator' : name] = round((cpu - (r0.cpu.get(name) ?? cpu)) / seconds);
    let redis: ChatRun['redis'] = null;
    if (r0.redis && r1.redis) {
      const calls = callsBetween(r0.redis, r1.redis);
      const n = acceptedByLogic ?? w.ack.count;
      const per = (x: number) => (n > 0 ? round(x / n, 3) : 0);
      redis = { calls: totalCalls(calls), perMessage: n > 0 ? per(totalCalls(calls)) : null, byCommand: Object.fromEntries(Object.entries(calls).map(([c, x]) => [c, per(x)])) };
    }
    const writes0 = byLabel(r0.texts, 'danmaku_store_writes_total', 'kind');
    const writes1 = byLabel(r1.texts, 'danmaku_store_writes_total', 'kind');
    const offlineUsers = counts.offline;
    // CPU seconds of the gateways over the window, unrounded (cores are rounded for show).
    const gatewayCpu = target.processes.filter((p) => p.role === 'gateway').reduce<number | null>((a, p) => {
      const c0 = r0.cpu.get(p.name);
      const c1 = r1.cpu.get(p.name);
      return a === null || c0 === undefined || c1 === undefined ? null : a + c1 - c0;
    }, 0);
    const perMessage = (n: number) => (w.live > 0 ? round(n / w.live, 4) : 0);
    return {
      target: target.name,
      storeWriter,
      pushAck,
      acks: { frames: w.ackFrames, ids: w.ackIds, bytes: w.ackBytes, framesPerMessage: perMessage(w.ackFrames), bytesPerMessage: perMessage(w.ackBytes), resent: w.liveResent, server: pushCounters(r0, r1) },
      gatewayCpuPerMessageUs: gatewayCpu !== null && w.live > 0 ? round((gatewayCpu * 1e6) / w.live, 2) : null,
      run,
      users: { ...counts, senders, connected: last.connected, failed: last.failed, closed: last.closed, closeCodes: last.closeCodes },
      window: {
        seconds: round(seconds, 1),
        rate: o.rate,
        offered: round(w.offered / seconds, 1),
        accepted: round(w.ack.count / seconds, 1),
        acceptedByLogic: acceptedByLogic === null ? null : round(acceptedByLogic / seconds, 1),
        ack: latency(w.ack),
        refused: w.refused,
        timeouts: w.timeouts,
        late: w.late,
        live: { ...latency(w.liveDelay), perSecond: round(w.live / seconds) },
        cores,
      },
      storeLag: storeWriter && r0.texts.every((x) => x !== null) && r1.texts.every((x) => x !== null) ? bucketQuantiles(bucketsOf(r0.texts), bucketsOf(r1.texts)) : null,
      probeLag: storeWriter && counts.probes > 0 ? latency(w.probeLag) : null,
      redis,
      storeWrites: writes0 && writes1 ? Object.fromEntries(Object.entries(writes1).map(([k, v]) => [k, v - (writes0[k] ?? 0)])) : null,
      jetstream: target.infra?.natsMonitorUrl ? { atEnd: jsAtEnd, afterSettle: jsAfterSettle } : null,
      offlineCatchUp: storeWriter && offlineUsers > 0 ? { ...latency(all.catchUp), users: offlineUsers, caughtUp: last.caughtUp, meanMessages: all.catchUp.count > 0 ? round(all.catchUpMessages / all.catchUp.count, 1) : 0 } : null,
      catchUpIdle,
      catchUpLoaded,
      settle,
      drain: { seconds: drained, quiet },
      acknowledged,
      verify,
      duplicates: { live: all.liveDuplicates, inbox: all.inboxDuplicates, idConflicts: all.idConflicts },
      syncErrors: all.syncErrors,
      unsequenced: all.unsequenced,
      processes: healthBetween(target.processes, healthBefore, await readHealth(target.processes)),
      logErrors: logErrorsOf(target.processes),
      timeline,
    };
  } finally {
    if (!o.quiet && process.stderr.isTTY) process.stderr.write('\n');
    await fleet.close();
  }
}

function bitsCount(bits: Uint8Array): number {
  let n = 0;
  for (const b of bits) for (let x = b; x; x &= x - 1) n++;
  return n;
}
