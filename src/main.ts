// The composition root: the one place that chooses implementations. Standalone mode (no
// NATS_URL/REDIS_URL) wires the in-memory bus, storage seams and registry into every role of
// one process; cluster mode wires NATS and Redis, and ROLE picks gateway, logic or both. Each
// consumer then receives only the seams it uses.

import { AdminHttp, type RouteSet } from './admin-http.js';
import { startAdminServer } from './admin-server.js';
import { TokenVerifier } from './auth/token.js';
import type { ApiBus, Bus } from './bus/index.js';
import { MemoryBroker } from './bus/memory.js';
import { connectNatsBus, type NatsBus } from './bus/nats.js';
import { subjects } from './bus/subjects.js';
import { ConfigError, DEV_ADMIN_SECRET, DEV_TOKEN_SECRET, loadConfig, recoveryLimits, type Config } from './config.js';
import { FailureLog } from './failure-log.js';
import type { Gateway } from './gateway/gateway.js';
import { DrainApi } from './gateway/drain-api.js';
import { WEB_DIR, WebFiles } from './gateway/web.js';
import { readFile } from 'node:fs/promises';
import { ModerationActions } from './moderation/actions.js';
import { ModerationCache } from './moderation/cache.js';
import { parseWordLists } from './logic/filter/index.js';
import { ContentModeration } from './logic/moderation.js';
import { ModerationApi } from './logic/moderation-api.js';
import type { ModerationStore } from './store/moderation/index.js';
import { MemoryModerationStore } from './store/moderation/memory.js';
import { RedisModerationStore } from './store/moderation/redis.js';
import { EventLoopLag } from './event-loop-lag.js';
import { Readiness, type ReadinessCheck } from './health.js';
import { createLogger, type Logger } from './log.js';
import { AdminApi } from './logic/admin-api.js';
import { BackendApi } from './logic/backend-api.js';
import { ChatFanout } from './logic/chat.js';
import { ChatReads } from './logic/chat-reads.js';
import { Logic } from './logic/logic.js';
import { StoreWriter } from './logic/store-writer.js';
import { boundHost, boundPort, startMetricsServer } from './metrics-server.js';
import { Metrics } from './metrics.js';
import type { Registry } from './registry/index.js';
import { MemoryRegistry } from './registry/memory.js';
import { RedisRegistry } from './registry/redis.js';
import type { Redis } from 'ioredis';
import { closeRedis, connectRedis, type RedisContext } from './redis/client.js';
import { RedisReplicaWaiter, type ReplicaConfirm } from './redis/replica-wait.js';
import { keys } from './redis/keys.js';
import { FallbackStore } from './store/fallback.js';
import type { ChatQueue } from './queue/index.js';
import { MemoryQueue } from './queue/memory.js';
import { connectJetStreamQueue } from './queue/jetstream.js';
import type { ChatStore, ChatStoreLimits } from './store/chat/index.js';
import { MemoryChatStore } from './store/chat/memory.js';
import { RedisChatStore } from './store/chat/redis.js';
import type { Groups } from './store/groups/index.js';
import { MemoryGroups } from './store/groups/memory.js';
import { RedisGroups } from './store/groups/redis.js';
import type { RoomHistory } from './store/history/index.js';
import { MemoryRoomHistory } from './store/history/memory.js';
import { RedisRoomHistory } from './store/history/redis.js';
import type { Intake } from './store/intake/index.js';
import { MemoryIntake } from './store/intake/memory.js';
import { RedisIntake } from './store/intake/redis.js';
import { MemoryDeduper, MemoryRateLimiter } from './store/limits/memory.js';
import type { PresenceCounts } from './store/presence/index.js';
import { MemoryPresenceCounts } from './store/presence/memory.js';
import { RedisPresenceCounts } from './store/presence/redis.js';
import type { Sequencer } from './store/sequence/index.js';
import { MemorySequencer } from './store/sequence/memory.js';
import { RedisSequencer } from './store/sequence/redis.js';

/** Every storage seam of a process; only this file sees them together. */
interface Stores {
  readonly history: RoomHistory;
  readonly sequencer: Sequencer;
  readonly presence: PresenceCounts;
  readonly intake: Intake;
  readonly groups: Groups;
  readonly chat: ChatStore;
  /** mutes, bans, word lists, held items (docs/moderation.md) */
  readonly moderation: ModerationStore;
  /**
   * where the storage writers settle senders' claims: the shared store itself, not the send
   * path's fallback (a writer's failed settle must not degrade the send path, and a settle
   * kept in one process's memory helps no other)
   */
  readonly claims: Pick<Intake, 'settle'>;
}

interface Parts {
  readonly mode: 'standalone' | 'cluster';
  readonly stores: Stores;
  readonly registry: Registry;
  /** one bus connection per role, as separate processes would have */
  readonly gatewayBus: Bus | null;
  readonly logicBus: Bus | null;
  /** where the backend API's NATS requests arrive (the logic role's NATS bus); none standalone */
  readonly apiBus: ApiBus | null;
  /** the chat storage queue, in processes that run the logic role */
  readonly queue: ChatQueue | null;
  /** REDIS_WAIT_REPLICAS: what holds acknowledgements until replicas have the writes, for the send path (its own connection) and the storage writers (both); null: none (standalone, or 0) */
  readonly replicas: { readonly send: ReplicaConfirm; readonly chat: ReplicaConfirm | null } | null;
  /** calls back when the storage connection is ready again after a loss (Redis); memory has none */
  readonly onStoreReconnect?: (listener: () => void) => void;
  /** readiness checks of the connections (NATS, Redis) and of the logic service's subscription; none standalone */
  readonly checks: ReadonlyArray<readonly [string, ReadinessCheck]>;
  /** closes the storage connection (Redis); memory needs nothing */
  close(): Promise<void>;
}

const runsGateway = (c: Config) => c.role !== 'logic';
const runsLogic = (c: Config) => c.role !== 'gateway';

function standalone(config: Config, metrics: Metrics, log: Logger): Parts {
  const broker = new MemoryBroker();
  const sequencer = new MemorySequencer();
  const intake = new MemoryIntake(new MemoryDeduper(), new MemoryRateLimiter(), (scope) => sequencer.next(scope));
  return {
    mode: 'standalone',
    stores: {
      // Its appends settle the intake's claims in the same step (store/history/index.ts).
      history: new MemoryRoomHistory({ limits: recoveryLimits(config), claims: intake }),
      sequencer,
      presence: new MemoryPresenceCounts(),
      intake,
      groups: new MemoryGroups(),
      chat: new MemoryChatStore({ limits: chatLimits(config), next: (c) => sequencer.next(c), current: (c) => sequencer.current(c) }),
      moderation: new MemoryModerationStore(),
      claims: intake,
    },
    registry: new MemoryRegistry(),
    gatewayBus: broker.connect(metrics),
    logicBus: broker.connect(metrics),
    apiBus: null,
    queue: new MemoryQueue({ maxBytes: config.chatQueueMaxBytes, observer: metrics.queue, log: log.child({ component: 'queue' }) }),
    replicas: null,
    checks: [],
    close: async () => undefined,
  };
}

async function cluster(config: Config, metrics: Metrics, log: Logger): Promise<Parts> {
  const redis = await connectRedis({ url: config.redisUrl, sentinel: config.redisSentinel, name: `danmaku-${config.gatewayId}`, observer: metrics, log: log.child({ component: 'redis' }) });
  const ctx: RedisContext = { redis, keys: keys(config.redisPrefix), observer: metrics };
  // Chat storage (the writers' batches, the inbox and history reads) on a connection of its
  // own: its large scripts and replies would otherwise queue the send path's round trips
  // (intake, member lists, registry) behind them on one socket.
  const chatRedis = runsLogic(config) ? await connectRedis({ url: config.redisUrl, sentinel: config.redisSentinel, name: `danmaku-${config.gatewayId}-chat`, observer: metrics, log: log.child({ component: 'redis', connection: 'chat' }) }) : null;
  const chatCtx: RedisContext = { ...ctx, redis: chatRedis ?? redis };
  // REDIS_WAIT_REPLICAS: WAIT blocks the connection it runs on, so each waiter has one of its own
  // (the send path's rounds never queue behind the storage writers'), whose commands may take the
  // WAIT's timeout and a round trip more.
  const waitOn = (name: string) =>
    connectRedis({ url: config.redisUrl, sentinel: config.redisSentinel, name: `danmaku-${config.gatewayId}-wait-${name}`, observer: metrics, log: log.child({ component: 'redis', connection: `wait.${name}` }), commandTimeoutMs: config.redisWaitTimeoutMs + 1_000 });
  const waitRedis = runsLogic(config) && config.redisWaitReplicas > 0 ? { send: await waitOn('send'), chat: config.storeWriter ? await waitOn('chat') : null } : null;
  const waiter = (name: string, conn: Redis, writers: Redis[]) =>
    new RedisReplicaWaiter(conn, writers, { replicas: config.redisWaitReplicas, timeoutMs: config.redisWaitTimeoutMs, markerKey: ctx.keys.replicaMarker(`${config.gatewayId}:${name}`), name }, metrics, log.child({ component: 'redis', connection: `wait.${name}` }));
  const replicas = waitRedis ? { send: waiter('send', waitRedis.send, [redis]), chat: waitRedis.chat ? waiter('chat', waitRedis.chat, chatRedis ? [redis, chatRedis] : [redis]) : null } : null;
  const storeLog = log.child({ component: 'store' });
  // Only the seams of the send path fall back to memory while Redis is down (fallback.ts).
  const primary = { sequencer: new RedisSequencer(ctx), intake: new RedisIntake(ctx) };
  const local = { intake: new MemoryIntake(new MemoryDeduper(), new MemoryRateLimiter(), async () => 0) };
  const fallback = new FallbackStore(primary, local, {
    observer: metrics,
    onStateChange: (degraded, op, err) =>
      degraded
        ? storeLog.warn({ err, op }, 'Redis unavailable: rate limits and de-duplication are local to this process, room items go out unsequenced (s 0)')
        : storeLog.info({ op }, 'Redis available again: sequencing and global limits restored'),
  });
  const s = subjects(config.subjectPrefix);
  const bus = (role: string) => connectNatsBus({ url: config.natsUrl!, name: `${config.gatewayId}-${role}`, subjects: s, observer: metrics, log: log.child({ component: 'nats', role }), timeoutMs: config.upstreamTimeoutMs });
  const logicBus = runsLogic(config) ? await bus('logic') : null;
  const gatewayBus = runsGateway(config) ? await bus('gateway') : null;
  return {
    mode: 'cluster',
    stores: {
      history: new RedisRoomHistory(ctx, recoveryLimits(config)),
      sequencer: fallback.sequencer,
      presence: new RedisPresenceCounts(ctx),
      intake: fallback.intake,
      groups: new RedisGroups(ctx),
      chat: new RedisChatStore(chatCtx, chatLimits(config)),
      moderation: new RedisModerationStore(ctx, log.child({ component: 'moderation-store' })),
      claims: primary.intake,
    },
    registry: new RedisRegistry(ctx),
    gatewayBus,
    logicBus,
    apiBus: logicBus,
    queue: runsLogic(config)
      ? await connectJetStreamQueue({ url: config.natsUrl!, name: `${config.gatewayId}-queue`, subjects: s, maxBytes: config.chatQueueMaxBytes, publishTimeoutMs: config.upstreamTimeoutMs, ackWaitMs: config.chatQueueAckWaitMs, replicas: config.chatQueueReplicas, observer: metrics.queue, log: log.child({ component: 'queue' }) })
      : null,
    replicas,
    // connectRedis has seen the first 'ready': each one from now on follows a lost connection.
    onStoreReconnect: (listener) => redis.on('ready', listener),
    checks: [
      ...(logicBus ? ([['logic', () => (logicBus.serving ? null : 'not serving requests')]] as const) : []),
      ...(gatewayBus ? ([['nats.gateway', natsCheck(gatewayBus)]] as const) : []),
      ...(logicBus ? ([['nats.logic', natsCheck(logicBus)]] as const) : []),
      ['redis', () => (redis.status === 'ready' ? null : redis.status)],
      ...(chatRedis ? ([['redis.chat', () => (chatRedis.status === 'ready' ? null : chatRedis.status)]] as const) : []),
      ...(waitRedis
        ? ([
            ['redis.wait.send', () => (waitRedis.send.status === 'ready' ? null : waitRedis.send.status)],
          ] as const)
        : []),
      ...(waitRedis?.chat ? ([['redis.wait.chat', () => (waitRedis.chat!.status === 'ready' ? null : waitRedis.chat!.status)]] as const) : []),
    ],
    close: async () => {
      await closeRedis(redis);
      if (chatRedis) await closeRedis(chatRedis);
      if (waitRedis) await Promise.all([closeRedis(waitRedis.send), ...(waitRedis.chat ? [closeRedis(waitRedis.chat)] : [])]);
    },
  };
}

/** Ready while the connection is up: not while nats.js reconnects, nor once closed. */
function natsCheck(bus: NatsBus): ReadinessCheck {
  return () => (bus.connected ? null : 'disconnected');
}

function chatLimits(config: Config): ChatStoreLimits {
  return { historyRetentionMs: config.historyRetentionMs, inboxRetentionMs: config.inboxRetentionMs, inboxMax: config.inboxMax, contactsMax: config.contactsMax };
}

/** Removes dead gateways' registry entries; every logic process runs it (it is idempotent). */
function startJanitor(registry: Registry, everyMs: number, metrics: Metrics, log: Logger): () => void {
  let running = false;
  const failures = new FailureLog(log, 'registry sweeps');
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    registry
      .sweep()
      .then(
        (gone) => {
          failures.succeeded();
          if (gone.length === 0) return;
          metrics.registrySwept(gone.length);
          log.info({ gateways: gone }, 'removed the registry entries of gateways whose heartbeat lapsed');
        },
        (err: unknown) => failures.failed(err),
      )
      .finally(() => (running = false));
  }, everyMs);
  return () => clearInterval(timer);
}

/**
 * uWS reads its limit on an HTTP request head (UWS_HTTP_MAX_HEADERS_SIZE; 4096 bytes when unset)
 * once, when its native module loads, and answers a longer head with HTTP 431 before any handler
 * runs. The gateway is the only module that loads uWS, so it is imported once the limit is set.
 */
async function importGateway(maxHeaderBytes: number): Promise<typeof import('./gateway/gateway.js')> {
  process.env.UWS_HTTP_MAX_HEADERS_SIZE = String(maxHeaderBytes);
  return import('./gateway/gateway.js');
}

async function start(config: Config, log: Logger): Promise<void> {
  const metrics = new Metrics({ labels: { node: config.gatewayId, role: config.role }, redis: config.natsUrl !== null });
  // Probes answer from the start: live at once, not ready until everything below is up.
  let phase: 'starting' | 'running' | 'stopping' = 'starting';
  const readiness = new Readiness();
  readiness.add('process', () => (phase === 'running' ? null : phase));
  metrics.watchReady(() => readiness.ready);
  const metricsServer = await startMetricsServer(config.host, config.metricsPort, metrics, readiness, log);
  // Every process measures its event-loop lag; a gateway's admission reads it too. Started
  // once listening: the stalls of start-up (module loads, connects) are not the lag of serving
  // and must not refuse the first viewers.
  const lag = new EventLoopLag(metrics);
  const parts = config.natsUrl ? await cluster(config, metrics, log) : standalone(config, metrics, log);
  const { stores, registry, gatewayBus, logicBus } = parts;

  // Moderation: one cache per process (gateway and logic roles share it), fed by the control
  // subject and the version poll (docs/moderation.md).
  const controlBus = (logicBus ?? gatewayBus)!;
  const modLog = log.child({ component: 'moderation' });
  const moderationCache = new ModerationCache(stores.moderation, controlBus, { pollMs: config.moderationPollMs }, modLog);
  const moderationActions = new ModerationActions(stores.moderation, controlBus, moderationCache, metrics, modLog);
  if (logicBus && config.filterFile) await seedWordLists(config.filterFile, moderationActions, modLog);
  await moderationCache.start(parts.onStoreReconnect);

  let adminApi: AdminApi | null = null;
  let moderationApi: ModerationApi | null = null;
  let stopJanitor = () => undefined as void;
  let writer: StoreWriter | null = null;
  if (logicBus && parts.queue) {
    const chat = new ChatFanout(registry, logicBus, metrics, config.registryCacheMs);
    const { history, intake, groups } = stores;
    const queue = parts.queue;
    const reads = new ChatReads(stores.chat, groups, chat, { bigGroupSize: config.bigGroupSize, groupCacheMs: config.groupCacheMs }, metrics);
    const bigGroupsOf = (uid: string) => reads.bigGroupsOf(uid);
    const moderation = new ContentModeration(moderationActions, config, metrics, modLog);
    const logic = new Logic(logicBus, { history, intake, groups, queue, replicas: parts.replicas?.send ?? null }, chat, reads, config, metrics, log.child({ component: 'logic' }), moderation);
    logicBus.serve(logic.handle);
    if (config.storeWriter) {
      writer = new StoreWriter(queue, stores.chat, stores.claims, { registry, bus: logicBus, bigGroupsOf }, config, metrics, log.child({ component: 'writer' }), parts.replicas?.chat ?? null);
      writer.start();
    }
    // Room items and notices from a site's backend: over HTTP (the admin API) and NATS requests.
    const backend = new BackendApi(config, { intake, history, bus: logicBus, queue, chat, filter: (x) => moderation.filterTrusted(x), replicas: parts.replicas?.send ?? null, metrics, log: log.child({ component: 'backend-api' }) });
    moderationApi = new ModerationApi({ actions: moderationActions, backend, logic, name: (n, uid) => moderation.name(n, uid), log: log.child({ component: 'admin' }) });
    if (parts.apiBus) {
      const s = subjects(config.subjectPrefix);
      parts.apiBus.serveApi(s.apiRoomItem, backend.natsHandler('room_item'));
      parts.apiBus.serveApi(s.apiNotice, backend.natsHandler('notice'));
    }
    adminApi = new AdminApi(
      { groupMaxMembers: config.groupMaxMembers },
      { groups, backend, store: stores.chat, bigGroupsOf, groupChanged: (id) => logic.groupChanged(id), metrics, log: log.child({ component: 'admin' }) },
    );
    stopJanitor = startJanitor(registry, config.registryHeartbeatMs, metrics, log.child({ component: 'janitor' }));
  }

  let gateway: Gateway | null = null;
  let port: number | undefined;
  if (gatewayBus) {
    const { Gateway } = await importGateway(config.maxHeaderBytes);
    gateway = new Gateway(config, {
      bus: gatewayBus,
      history: stores.history,
      sequencer: stores.sequencer,
      presence: stores.presence,
      registry,
      onStoreReconnect: parts.onStoreReconnect,
      bans: moderationCache,
      verifier: new TokenVerifier({ secret: config.tokenSecret, keys: config.tokenKeys, audience: config.tokenAudience, issuer: config.tokenIssuer }),
      web: config.web ? webFiles(config, log) : undefined,
      lag,
      unhealthy: () => {
        for (const [name, check] of parts.checks) if (check() !== null) return name;
        return null;
      },
      metrics,
      log: log.child({ component: 'gateway' }),
    });
    const gw = gateway;
    readiness.add('gateway', () => (gw.draining ? 'draining' : gw.listening ? null : 'not listening'));
  }
  for (const [name, check] of parts.checks) readiness.add(name, check);

  // The logic role's routes and the gateway's, where they run, when the API is enabled (ADMIN_SECRET).
  const routeSets: RouteSet[] = [...(adminApi ? [adminApi] : []), ...(moderationApi ? [moderationApi] : []), ...(gateway ? [new DrainApi(gateway, { windowMs: config.drainWindowMs, notReadyMs: config.drainNotReadyMs })] : [])];
  const adminHttp = new AdminHttp({ secret: config.adminSecret }, { metrics, log: log.child({ component: 'admin' }) }, routeSets);
  const adminServer = config.adminSecret !== null ? await startAdminServer(config.adminHost, config.adminPort, adminHttp) : null;
  // The gateway listens (and announces itself to GET /entry) last: a process that cannot bind
  // ADMIN_PORT fails to start before any client or registry entry depends on it.
  if (gateway) port = await gateway.listen();
  phase = 'running';
  lag.start();
  if (!adminServer) log.info('admin API disabled: set ADMIN_SECRET to serve it on ADMIN_PORT');
  const admin = adminServer ? { adminPort: boundPort(adminServer), adminHost: boundHost(adminServer) } : {};
  log.info({ mode: parts.mode, port, metricsPort: boundPort(metricsServer), ...admin }, 'listening');
  if (config.tokenSecret === DEV_TOKEN_SECRET && gateway) {
    log.warn('using the public development TOKEN_SECRET; set TOKEN_SECRET before exposing this server');
  }
  if (gateway && parts.mode === 'cluster' && config.publicUrl === null) {
    log.warn({ announced: gateway.loadInfo()?.url }, 'PUBLIC_URL is not set: GET /entry lists this gateway under a URL only this machine can reach; set PUBLIC_URL on every gateway whose clients use the entry');
  }
  if (config.adminSecret === DEV_ADMIN_SECRET && adminServer) {
    log.warn('the admin API uses the public development ADMIN_SECRET; set ADMIN_SECRET before exposing this server');
  }

  let signals = 0;
  const stop = async (signal: string) => {
    signals++;
    if (signals === 2) {
      // Ctrl-C twice: what remains of the drain's windows is skipped (docs/cluster.md, "Draining a gateway").
      log.info({ signal, connections: gateway?.connectionCount ?? 0 }, 'second signal: moving every connection now');
      gateway?.hurry();
      return;
    }
    if (signals > 2) {
      log.warn({ signal }, 'third signal: exiting now');
      log.flush();
      process.exit(1);
    }
    // Not ready from this instant; the gateway keeps serving, and admitting, for the not-ready window.
    phase = 'stopping';
    const drainMs = gateway ? config.drainNotReadyMs + config.drainWindowMs : 0;
    const held = gateway?.connectionCount ?? 0;
    log.info(
      { signal, connections: held, drainMs: held > 0 ? drainMs : 0 },
      held > 0 && drainMs > 0 ? `shutting down: draining for up to ${Math.round(drainMs / 1000)} s (send ${signal} again to move every client now)` : 'shutting down',
    );
    const hardStop = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, drainMs + config.shutdownTimeoutMs + 3_000);
    hardStop.unref();
    stopJanitor();
    moderationCache.stop();
    if (gateway) {
      await gateway.drainForExit(config.drainNotReadyMs, config.drainWindowMs);
      await gateway.shutdown(config.shutdownTimeoutMs);
    }
    // The writer finishes the batch it is applying; what it has not taken stays in the queue.
    await writer?.stop();
    await parts.queue?.close();
    await Promise.all([gatewayBus?.close(), logicBus?.close()]);
    await parts.close();
    adminServer?.close();
    metricsServer.close();
    log.info('stopped');
    log.flush();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/**
 * FILTER_FILE: its lists go into the store when the store has none (the first process of a
 * deployment; later changes are the admin API's). A file that does not parse stops the start.
 */
async function seedWordLists(file: string, actions: ModerationActions, log: Logger): Promise<void> {
  let lists;
  try {
    lists = parseWordLists(JSON.parse(await readFile(file, 'utf8')) as unknown);
  } catch (err) {
    throw new ConfigError(`FILTER_FILE ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const seeded = await actions.seedLists(lists);
  log.info({ file, lists: lists.length, seeded }, seeded ? 'word lists loaded into the store from FILTER_FILE' : 'FILTER_FILE not loaded: the store has word lists already (the admin API changes them)');
}

/** The SDK bundles and the demo page; demo tokens only on the public development secret. */
function webFiles(config: Config, log: Logger): WebFiles {
  const web = new WebFiles(WEB_DIR, config.tokenSecret === DEV_TOKEN_SECRET ? config.tokenSecret : null, { aud: config.tokenAudience, iss: config.tokenIssuer });
  if (web.paths.length === 0) log.warn({ dir: WEB_DIR }, 'no web files to serve (the SDK bundles and the demo page): run npm run build');
  return web;
}

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`configuration error: ${err.message}\n`);
  process.exit(2);
}
const log = createLogger(config.logLevel, { node: config.gatewayId, role: config.role });
start(config, log).catch((err: unknown) => {
  log.fatal({ err }, 'failed to start');
  log.flush();
  process.exit(1);
});
