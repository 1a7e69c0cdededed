// Chat storage under failures (cluster; docs/protocol.md, MSG: "The ACK means stored"): every
// acknowledged message ends up in every recipient's inbox and in its conversation's history
// exactly once, after (a) a logic process killed (SIGKILL) while messages flow, (b) Redis
// killed and restarted on its append-only file while messages flow (MSG keeps being
// acknowledged: the intake falls back, the message is stored once Redis is back), (c)
// nats-server killed and restarted on its JetStream file store with a backlog in it, (d) a
// writer killed in the middle of a backlog. Only acknowledged messages are counted; nothing is
// retried, so no message may be stored twice. Checked through the admin API, with bounded
// polling (storage is asynchronous; a killed writer's batch comes back after the consumer's
// ack_wait, 30 s).

import { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import { natsMonitorUrl } from '../../bench/lib/services.js';
import { Op } from '../../src/protocol/ops.js';
import { FAST, startCluster, type Cluster } from '../helpers/cluster.js';
import { adminHistory, adminInbox, ChatConn, pollUntil, RequestFailed, type AdminCall, type ChatMessage } from '../helpers/chat.js';
import { metricValue, sleep, type RunningServer } from '../helpers/server.js';

t.setTimeout(420_000);

// ack_wait 5 s (default 30 s): a killed writer's batch comes back sooner; the behaviour is the same.
const ENV = { ...FAST, UPSTREAM_TIMEOUT_MS: '1500', INBOX_MAX: '10000', UNREAD_PUSH_INTERVAL_MS: '100', CHAT_QUEUE_ACK_WAIT_MS: '5000' };
const SENDERS = ['p0', 'p1', 'p2', 'p3'];
const READERS = ['r0', 'r1'];
const GROUP = 'crew';
const MEMBERS = [...SENDERS, ...READERS];
/** A killed writer's unacknowledged batch is delivered again after ack_wait (5 s here): wait well past it. */
const CONVERGE_MS = 30_000;

interface Sent {
  readonly x: string;
  /** conversation path of the admin API's history read */
  readonly history: string;
  readonly recipients: readonly string[];
  outcome: 'pending' | 'ack' | 'error' | 'silent';
  s?: number;
  code?: number;
}

/**
 * Senders sending MSGs without pause (each loop one at a time), to the group and directly to
 * the readers, until stopped. Nothing is retried: an ERROR or silence leaves the message
 * unacknowledged (it may or may not be stored, but at most once).
 */
class Pump {
  readonly sent: Sent[] = [];
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(senders: Map<string, ChatConn>, tag: string, opts: { groups: boolean; loopsPerSender?: number }) {
    this.loops = [...senders.entries()].flatMap(([uid, conn]) =>
      Array.from({ length: opts.loopsPerSender ?? 2 }, (_, loop) => this.loop(uid, conn, `${tag}-${uid}-${loop}`, opts.groups)),
    );
  }

  private async loop(uid: string, conn: ChatConn, prefix: string, groups: boolean): Promise<void> {
    for (let i = 0; this.running; i++) {
      const x = `${prefix}-${i}`;
      const toGroup = groups && i % 3 === 0;
      const reader = READERS[i % READERS.length]!;
      const rec: Sent = toGroup
        ? { x, history: `/api/groups/${GROUP}/history`, recipients: MEMBERS, outcome: 'pending' }
        : { x, history: `/api/users/${uid}/direct/${reader}/history`, recipients: [uid, reader], outcome: 'pending' };
      this.sent.push(rec);
      try {
        const ack = await conn.request(Op.Msg, { ...(toGroup ? { g: GROUP } : { to: reader }), x, id: x }, 8_000);
        rec.outcome = 'ack';
        rec.s = ack.body.s as number;
      } catch (err) {
        if (err instanceof RequestFailed) {
          rec.outcome = 'error';
          rec.code = err.frame.body.code as number;
        } else rec.outcome = 'silent';
        await sleep(50); // a failing service answers at once: do not spin
      }
    }
  }

  acked(): Sent[] {
    return this.sent.filter((m) => m.outcome === 'ack');
  }

  /** Resolves once `n` more messages than now have been acknowledged (rejects after `timeoutMs`). */
  async ackedMore(n: number, timeoutMs = 20_000): Promise<void> {
    const target = this.acked().length + n;
    await pollUntil(async () => this.acked().length, (k) => k >= target, timeoutMs, `${n} more acknowledged messages`, 20);
  }

  /** Resolves once `n` of the messages sent from index `from` on have been acknowledged. */
  async ackedSince(from: number, n: number, timeoutMs = 20_000): Promise<void> {
    await pollUntil(async () => this.sent.slice(from).filter((m) => m.outcome === 'ack').length, (k) => k >= n, timeoutMs, `${n} acknowledged messages sent after a point`, 20);
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  summary(): string {
    const by = new Map<string, number>();
    for (const m of this.sent) {
      const k = m.outcome === 'error' ? `error ${m.code}` : m.outcome;
      by.set(k, (by.get(k) ?? 0) + 1);
    }
    return [...by].map(([k, n]) => `${n} ${k}`).join(', ');
  }
}

interface Check {
  /** acknowledged messages missing from an inbox or a history: (place, x) */
  readonly missing: string[];
  /** messages stored more than once in one place */
  readonly doubled: string[];
  /** messages in an inbox or history where they do not belong (never sent there) */
  readonly stray: string[];
  /** histories whose seqs repeat or are 0 */
  readonly badSeqs: string[];
  readonly stored: Map<string, ChatMessage>;
}

/** Reads every recipient's inbox and every conversation's history and compares them with what was sent. */
async function check(api: AdminCall, sent: readonly Sent[]): Promise<Check> {
  const missing: string[] = [];
  const doubled: string[] = [];
  const stray: string[] = [];
  const badSeqs: string[] = [];
  const stored = new Map<string, ChatMessage>();
  const byX = new Map(sent.map((m) => [m.x, m]));
  const compare = (place: string, messages: ChatMessage[], belongs: (m: Sent) => boolean) => {
    const counts = new Map<string, number>();
    for (const m of messages) {
      counts.set(m.x, (counts.get(m.x) ?? 0) + 1);
      const rec = byX.get(m.x);
      if (rec && belongs(rec)) stored.set(m.x, m);
      else stray.push(`${place}: ${m.x}`);
    }
    for (const [x, n] of counts) if (n > 1) doubled.push(`${place}: ${x} x${n}`);
    for (const m of sent) if (m.outcome === 'ack' && belongs(m) && !counts.has(m.x)) missing.push(`${place}: ${m.x}`);
  };
  for (const uid of MEMBERS) {
    const { messages } = await adminInbox(api, uid, 0);
    compare(`inbox ${uid}`, messages, (m) => m.recipients.includes(uid));
  }
  for (const path of new Set(sent.map((m) => m.history))) {
    const messages = await adminHistory(api, path);
    compare(path, messages, (m) => m.history === path);
    const seqs = messages.map((m) => m.s);
    if (seqs.some((s) => !(s > 0)) || new Set(seqs).size !== seqs.length) badSeqs.push(path);
  }
  return { missing, doubled, stray, badSeqs, stored };
}

/** Waits until nothing acknowledged is missing, then asserts exactly once everywhere. */
async function verify(t: Test, api: AdminCall, pump: Pump, label: string): Promise<Check> {
  const started = Date.now();
  const result = await pollUntil(
    () => check(api, pump.sent),
    (c) => c.missing.length === 0,
    CONVERGE_MS,
    `${label}: every acknowledged message stored`,
    500,
  ).catch(async (err: unknown) => {
    const last = await check(api, pump.sent).catch(() => null);
    t.fail(`${label}: ${String(err)}; missing ${last?.missing.length}: ${last?.missing.slice(0, 10).join('; ')}`);
    return last;
  });
  const acked = pump.acked().length;
  t.comment(`${label}: ${pump.summary()}; all ${acked} acknowledged stored ${Date.now() - started} ms after the check began`);
  if (!result) throw new Error(`${label}: storage could not be read`);
  t.same(result.missing, [], `${label}: every acknowledged message (${acked}) in every recipient's inbox and in its history`);
  t.same(result.doubled, [], `${label}: none stored twice`);
  t.same(result.stray, [], `${label}: nothing where it does not belong`);
  t.same(result.badSeqs, [], `${label}: each history's seqs positive and distinct`);
  t.ok(pump.acked().every((m) => m.s === 0 || result.stored.get(m.x)?.s === m.s), `${label}: each stored with the seq its ACK gave (unless the ACK said 0)`);
  return result;
}

async function setup(env: Record<string, string>, logics: number): Promise<{ c: Cluster; senders: Map<string, ChatConn>; readers: ChatConn[] }> {
  const c = await startCluster({ gateways: 2, logics, env: { ...ENV, ...env } });
  const senders = new Map<string, ChatConn>();
  const readers: ChatConn[] = [];
  try {
    if ((await c.api('PUT', `/api/groups/${GROUP}`, { members: MEMBERS })).status !== 201) throw new Error('group not created');
    for (const [i, uid] of SENDERS.entries()) {
      const gw = c.gateways[i % 2]!;
      senders.set(uid, await ChatConn.open(gw.url, gw.token(uid)));
    }
    // The readers are online (one on each gateway): they get MESSAGE live as well.
    for (const [i, uid] of READERS.entries()) readers.push(await ChatConn.open(c.gateways[i % 2]!.url, c.gateways[i % 2]!.token(uid)));
  } catch (err) {
    await c.stop();
    throw err;
  }
  return { c, senders, readers };
}

const closeAll = (senders: Map<string, ChatConn>, readers: ChatConn[]) => [...senders.values(), ...readers].forEach((x) => x.close());
const metric = async (p: RunningServer, name: string, labels?: Record<string, string>) => metricValue(await p.metrics(), name, labels);

t.test('chat failures (a) - a logic process killed with SIGKILL while messages flow: every acknowledged message stored once', async (t) => {
  const { c, senders, readers } = await setup({}, 2);
  t.teardown(() => c.stop());
  t.teardown(() => closeAll(senders, readers));
  const pump = new Pump(senders, 'a', { groups: true });
  await pump.ackedMore(150);
  await c.logics[0]!.kill();
  const killedAt = pump.sent.length;
  await pump.ackedSince(killedAt, 150);
  await pump.stop();
  t.ok(pump.sent.slice(killedAt).some((m) => m.outcome === 'ack'), 'the survivor kept acknowledging');
  await verify(t, c.api, pump, '(a) logic killed');
});

t.test('chat failures (b) - Redis killed and restarted on its AOF while messages flow: MSG keeps being acknowledged, all stored once', async (t) => {
  const { c, senders, readers } = await setup({}, 2);
  t.teardown(() => c.stop());
  t.teardown(() => closeAll(senders, readers));
  // Direct messages only: a group's members are in Redis, so group MSGs fail while it is down.
  const pump = new Pump(senders, 'b', { groups: false });
  await pump.ackedMore(100);
  await c.infra.redis.stop(); // SIGKILL
  const downAt = pump.sent.length;
  await pump.ackedSince(downAt, 100, 15_000);
  const duringOutage = pump.sent.slice(downAt).filter((m) => m.outcome === 'ack');
  t.ok(duringOutage.length >= 100, `${duringOutage.length} MSGs acknowledged while Redis was down`);
  t.ok(duringOutage.some((m) => m.s === 0), 'acknowledged unsequenced (s 0) while Redis was down');
  await c.infra.redis.start();
  await pollUntil(async () => pump.acked().at(-1)?.s ?? 0, (s) => s > 0, 20_000, 'MSGs sequenced again after Redis came back', 50);
  await pump.ackedMore(50);
  await pump.stop();
  const result = await verify(t, c.api, pump, '(b) Redis restarted');
  // The readers got the unsequenced ones live with s 0: stored, they carry a seq, under the same id.
  const live = new Map(readers.flatMap((r) => r.pushes(Op.Message)).map((m) => [m.x as string, m]));
  const unsequenced = pump.acked().filter((m) => m.s === 0 && live.has(m.x));
  t.ok(unsequenced.length > 0, `${unsequenced.length} unsequenced messages seen live by the readers`);
  t.ok(
    unsequenced.every((m) => live.get(m.x)!.s === 0 && result.stored.get(m.x)!.id === live.get(m.x)!.id && result.stored.get(m.x)!.s > 0),
    'live with s 0; stored with a seq of its own and the same message id',
  );
});

t.test('chat failures (c) - nats-server killed and restarted on its JetStream store with a backlog in it: nothing acknowledged is lost', async (t) => {
  // No writer at first: what is acknowledged stays in the stream, on disk, across the restart.
  const { c, senders, readers } = await setup({ STORE_WRITER: 'false' }, 2);
  t.teardown(() => c.stop());
  t.teardown(() => closeAll(senders, readers));
  const pump = new Pump(senders, 'c', { groups: true });
  await pump.ackedMore(200);
  await c.infra.nats.stop(); // SIGKILL
  const downAt = pump.sent.length;
  await sleep(500); // an outage, not an assertion: MSGs meanwhile get ERROR 30
  await c.infra.nats.start();
  await pump.ackedSince(downAt, 100, 30_000);
  await pump.stop();
  // MSGs that were in flight when NATS died get ERROR 30; those sent during the outage wait in
  // the client library's reconnect buffer and are mostly acknowledged after it.
  const during = pump.sent.slice(downAt);
  t.comment(`(c) ${pump.sent.length - downAt} MSGs sent after the kill: ${during.filter((m) => m.outcome === 'ack').length} acknowledged; ${pump.sent.filter((m) => m.outcome === 'error').length} refused in all`);
  t.equal(pump.sent.filter((m) => m.outcome === 'silent').length, 0, 'every MSG answered (ACK or ERROR), none left without a reply');
  const writer = await c.startLogic('writer', { STORE_WRITER: 'true' });
  t.ok(writer, 'a writer started after the restart');
  await verify(t, c.api, pump, '(c) NATS restarted');
});

t.test('chat failures (d) - a writer killed in the middle of a batch: the batch comes back, applied once', async (t) => {
  const { c, senders, readers } = await setup({ STORE_WRITER: 'false' }, 1);
  t.teardown(() => c.stop());
  t.teardown(() => closeAll(senders, readers));
  const pump = new Pump(senders, 'd', { groups: true, loopsPerSender: 4 });
  await pump.ackedMore(600, 30_000);
  await pump.stop();
  const acked = pump.acked().length;
  // Redis refuses to run writes for a while (reads go on: the process starts, the admin API
  // reads), so the writer takes a batch from the queue and cannot finish applying it: killed in
  // that state, it dies holding an unacknowledged batch, deterministically.
  const redis = new Redis(c.infra.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0 });
  t.teardown(() => redis.disconnect());
  await redis.connect();
  await redis.call('CLIENT', 'PAUSE', '30000', 'WRITE');
  const w1 = await c.startLogic('writer-1', { STORE_WRITER: 'true' });
  const held = await pollUntil(() => ackPending(c), (n) => n > 0, 20_000, 'the first writer holding a batch', 10);
  await w1.kill();
  await redis.call('CLIENT', 'UNPAUSE');
  t.ok(held > 0, `the writer was killed holding ${held} unacknowledged queue messages`);
  const partial = await check(c.api, pump.sent);
  t.comment(`(d) at the kill: ${partial.missing.length} inbox or history entries of ${acked} acknowledged messages not yet written`);
  const w2 = await c.startLogic('writer-2', { STORE_WRITER: 'true' });
  await verify(t, c.api, pump, '(d) writer killed');
  // The batch the dead writer held comes back after ack_wait (5 s here): applied then, or (if Redis
  // ran the dead writer's last write after all) skipped, never applied twice.
  const redelivered = await pollUntil(() => metric(w2, 'danmaku_store_redelivered_total'), (n) => n >= 1, 20_000, "the dead writer's batch delivered again");
  t.ok(redelivered >= 1, `the dead writer's unacknowledged queue messages came back (${redelivered} redelivered)`);
  await pollUntil(() => ackPending(c), (n) => n === 0, 15_000, 'nothing left unacknowledged');
  t.comment(`(d) the second writer skipped ${await metric(w2, 'danmaku_store_writes_total', { kind: 'skipped' })} records already applied`);
  const after = await check(c.api, pump.sent);
  t.same([after.missing, after.doubled, after.stray], [[], [], []], 'after the replay still every message once, nothing twice');
});

/** Queue messages handed to a writer and not yet acknowledged (nats-server monitoring, /jsz). */
async function ackPending(c: Cluster): Promise<number> {
  const base = natsMonitorUrl(c.infra.nats);
  if (!base) throw new Error('no NATS monitoring endpoint');
  const jsz = (await (await fetch(`${base}/jsz?consumers=true`)).json()) as {
    account_details?: { stream_detail?: { consumer_detail?: { num_ack_pending?: number }[] }[] }[];
  };
  let n = 0;
  for (const a of jsz.account_details ?? []) for (const st of a.stream_detail ?? []) for (const co of st.consumer_detail ?? []) n += co.num_ack_pending ?? 0;
  return n;
}
