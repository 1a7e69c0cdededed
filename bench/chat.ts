// chat: the chat storage path of issue 10 on a loopback cluster (nats-server with JetStream,
// redis-server, --gateways gateways and --logics logic processes with STORE_WRITER on). --groups
// G groups of --members M; a share (--offline) of each group is offline at the start. The
// online members send MSG to their group at --rate in total (open loop, client ids) and
// receive it live; during the measured window the offline members come online with `since=0`
// and sync their inbox. Reported: accepted messages/s, ACK p99, the storage lag (server
// histogram, and probe SYNC sampling), Redis commands per message, JetStream state, the time
// for a user with --catchup waiting messages to hold them all (idle, and under load), and loss
// and duplicates against every acknowledged message. Then (unless --no-baseline) the same
// traffic on a fresh cluster without storage writers, for ratios. Every member acknowledges the
// MESSAGE pushes with RECEIVED (batched); with --ack-baseline the same traffic runs once more
// with storage writers, members that never acknowledge and PUSH_RESENDS=0 (nothing resent), so
// that the bytes and CPU the acknowledgements add show as ratios. Method: docs/benchmarks.md.

import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { chatChecks, chatMarkdown, chatSvg, type ChatReport } from './lib/chat-report.js';
import { measureChat, type ChatRun, type ChatRunOptions } from './lib/chat-run.js';
import { runPrefix } from './lib/run-id.js';
import { startCluster } from './lib/target.js';

export const CHAT = {
  name: 'chat',
  summary: 'chat groups with offline members coming online: MSG throughput, ACK p99, storage lag, inbox catch-up, loss; a cluster with storage writers, then without',
};

export const CHAT_HELP = `chat options:
  --groups G            chat groups (default 20)
  --members M           members per group (default 100)
  --offline F           share of each group offline at the start (default 0.5); they connect
                        with since=0 during the window (between --wake-from and --wake-to of it,
                        default 0.1 and 0.7) and sync their whole inbox
  --rate R              MSGs per second offered in total by the online members (default 5000)
  --duration S          measured window (default 20), after --warmup S (default 5)
  --ramp S              seconds to open the online members' connections (default 2)
  --gateways G, --logics L   processes of the cluster (default 1 and 1)
  --probes N            groups whose first member polls SYNC every --probe-poll MS (default 10, 25)
  --sync-poll MS        offline members keep syncing this often once caught up (default 0: no)
  --catchup N           messages waiting for the catch-up users (default 1000; 0: skip)
  --reply-timeout S     a MSG unanswered after S s counts as timed out (default 5)
  --drain S             at most S s to drain ACKs, and again for the writers (default 60)
  --no-baseline         skip the run without storage writers
  --ack-delay MS        members acknowledge MESSAGE pushes with RECEIVED, the first id waiting
                        this long for others (default 200, as the reference client; 0: to the end
                        of the event-loop turn)
  --no-push-ack         members never send RECEIVED (then the gateways resend: PUSH_RESENDS)
  --ack-baseline        also run with storage writers, members that never acknowledge and
                        PUSH_RESENDS=0, for the bytes and gateway CPU the RECEIVED frames add
  --workers N, --addresses N, --env K=V,..., --token-secret S, --json FILE, --svg FILE, --quiet
  --enforce             exit 1 when a target of issue 10 is missed`;

export interface ChatOutcome {
  readonly report: ChatReport;
  readonly markdown: string;
  readonly svg: string;
  readonly json: string | undefined;
  readonly svgFile: string | undefined;
  readonly ok: boolean;
  readonly enforce: boolean;
}

export async function chat(argv: string[]): Promise<ChatOutcome> {
  const { values } = parseArgs({
    args: argv,
    allowNegative: true,
    options: {
      groups: { type: 'string' },
      members: { type: 'string' },
      offline: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      ramp: { type: 'string' },
      gateways: { type: 'string' },
      logics: { type: 'string' },
      probes: { type: 'string' },
      'probe-poll': { type: 'string' },
      'sync-poll': { type: 'string' },
      catchup: { type: 'string' },
      'wake-from': { type: 'string' },
      'wake-to': { type: 'string' },
      'reply-timeout': { type: 'string' },
      drain: { type: 'string' },
      baseline: { type: 'boolean' },
      'ack-delay': { type: 'string' },
      'push-ack': { type: 'boolean' },
      'ack-baseline': { type: 'boolean' },
      workers: { type: 'string' },
      addresses: { type: 'string' },
      env: { type: 'string' },
      'token-secret': { type: 'string' },
      json: { type: 'string' },
      svg: { type: 'string' },
      quiet: { type: 'boolean' },
      enforce: { type: 'boolean' },
    },
  });
  const num = (key: keyof typeof values, def: number, min = 0, max = Infinity): number => {
    const raw = values[key];
    if (raw === undefined) return def;
    const n = Number(raw);
    if (typeof raw !== 'string' || !Number.isFinite(n) || n < min || n > max) throw new Error(`--${key} must be a number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    return n;
  };
  const env: Record<string, string> = {};
  for (const kv of (values.env ?? '').split(',').filter(Boolean)) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new Error(`--env takes K=V pairs, got ${JSON.stringify(kv)}`);
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const groups = Math.round(num('groups', 20, 1));
  const o: ChatRunOptions = {
    groups,
    members: Math.round(num('members', 100, 2, 10_000)),
    offline: num('offline', 0.5, 0, 0.99),
    rate: num('rate', 5000, 1),
    durationS: num('duration', 20, 2),
    warmupS: num('warmup', 5),
    rampS: num('ramp', 2),
    probes: Math.round(num('probes', Math.min(10, groups), 0)),
    probePollMs: num('probe-poll', 25, 1),
    syncPollMs: num('sync-poll', 0),
    catchUp: Math.round(num('catchup', 1000, 0)),
    wakeFrom: num('wake-from', 0.1, 0, 1),
    wakeTo: num('wake-to', 0.7, 0, 1),
    replyTimeoutS: num('reply-timeout', 5, 0.1),
    drainS: num('drain', 60, 1),
    workers: Math.round(num('workers', 2, 1)),
    addresses: Array.from({ length: Math.round(num('addresses', 4, 1)) }, (_, i) => `127.0.0.${i + 1}`),
    tokenSecret: values['token-secret'] ?? process.env.TOKEN_SECRET ?? 'danmaku-dev-secret-change-me',
    quiet: values.quiet ?? false,
    ackDelayMs: num('ack-delay', 200, 0, 60_000),
  };
  if (o.wakeTo < o.wakeFrom) throw new Error('--wake-to must not be before --wake-from');
  const gateways = Math.round(num('gateways', 1, 1));
  const logics = Math.round(num('logics', 1, 1));
  // INBOX_MAX as high as it goes: an offline member's backlog must not be evicted during the
  // run (this measures loss, not eviction; docs/protocol.md, "Out of retention").
  const base = { TOKEN_SECRET: o.tokenSecret, INBOX_MAX: '100000', ...env };
  const loadBefore = loadavg();
  const runs: ChatRun[] = [];
  const pushAck = values['push-ack'] ?? true;
  const runOn = async (storeWriter: boolean, acks: boolean, extra: Record<string, string> = {}) => {
    const target = await startCluster(gateways, logics, { ...base, STORE_WRITER: String(storeWriter), ...extra });
    try {
      runs.push(await measureChat(target, runPrefix(), o, storeWriter, acks));
    } finally {
      await target.stop();
    }
  };
  await runOn(true, pushAck);
  // Members that never acknowledge, and a server that resends nothing: the same pushes, no RECEIVED.
  if (values['ack-baseline'] && pushAck) await runOn(true, false, { PUSH_RESENDS: '0' });
  if (values.baseline ?? true) await runOn(false, pushAck);
  const { tokenSecret: _secret, addresses, ...shown } = o;
  const report: ChatReport = {
    scenario: 'chat',
    options: { ...shown, addresses: addresses.length, gateways, logics, pushAck, ackBaseline: values['ack-baseline'] ?? false, env: { INBOX_MAX: '100000', ...env } },
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version, loadBefore, loadAfter: loadavg() },
    runs,
    checks: chatChecks(runs, logics),
  };
  return { report, markdown: chatMarkdown(report), svg: chatSvg(report), json: values.json, svgFile: values.svg, ok: report.checks.every((c) => c.ok), enforce: values.enforce ?? false };
}
