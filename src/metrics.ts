// Every metric of the process, named in this one place and recorded through domain verbs.
// Metric names are an API: grafana/ and docs/metrics.md depend on them.
// Room ids never become label values (unbounded cardinality).

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { FALLBACK_OPS, LABEL_VALUES, REDIS_OPS, REPLICA_WAIT_RESULTS, ROOM_RECOVERIES, type ReplicaWaitResult, type RoomRecovery } from './metric-labels.js';
import type { BusObserver, SubjectKind } from './bus/index.js';
import { BUS_EVENTS, CHAT_READS, STORE_WRITES, type ChatReadOp, type StoreWrite, DROP_REASONS, FRAME_DROP_REASONS, ROOM_SIGNALS, SHED_WHERE, SUBJECT_KINDS, type AdminRoute, type BusEvent, type DropReason, type FallbackOp, type FrameDropReason, type LOGIC_OPS, type RedisOp, type ShedWhere } from './metric-labels.js';
import { PUSH_GIVE_UPS, type PushGiveUp, type WebClass } from './metric-labels.js';
import { FILTER_RELOADS, FILTER_VERDICTS, MODERATION_ACTIONS, MODERATION_SOURCES, type FilterVerdictLabel, type ModerationActionLabel, type ModerationSource } from './metric-labels.js';
import { TLS_RELOAD_RESULTS, TOKEN_REFRESH_RESULTS, UPGRADE_LIMITS, UPGRADE_REFUSALS, type TlsReloadResult, type TokenRefreshResult, type UpgradeLimit, type UpgradeRefusal } from './metric-labels.js';
import { DEGRADE_SIGNALS, ENTRY_STATUSES, type DegradeSignal, type EntryStatus } from './metric-labels.js';
import type { LagObserver } from './event-loop-lag.js';
import type { DegradeObserver } from './gateway/degrade-monitor.js';
import type { RedisObserver } from './redis/client.js';
import type { FallbackObserver } from './store/fallback.js';

export interface RoomStats {
  readonly rooms: number;
  readonly members: number;
  readonly largest: number;
}

const DELAY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10];
const REDIS_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
/** event-loop lag: from 1 ms (the monitor ticks every 5 ms) to 2 s */
const LAG_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2];
const FANOUT_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];

export type { DropReason, FrameDropReason } from './metric-labels.js';

/** A cache of a metric's children by label value(s): get(key, make). */
function children<C>(): (key: string, make: () => C) => C {
  const cache = new Map<string, C>();
  return (key, make) => {
    let c = cache.get(key);
    if (c === undefined) cache.set(key, (c = make()));
    return c;
  };
}

export class Metrics implements BusObserver, RedisObserver, FallbackObserver, LagObserver, DegradeObserver {
  readonly registry = new Registry();

  private readonly connections = new Gauge({ name: 'danmaku_connections', help: 'Open client connections', registers: [this.registry] });
  private readonly opened = new Counter({ name: 'danmaku_connections_opened_total', help: 'Client connections accepted', registers: [this.registry] });
  private readonly closed = new Counter({ name: 'danmaku_connections_closed_total', help: 'Client connections closed, by reason', labelNames: ['reason'], registers: [this.registry] });
  private readonly signals = new Counter({ name: 'danmaku_room_signals_total', help: 'Room signals handled, by signal (join, switch, leave)', labelNames: ['signal'], registers: [this.registry] });
  private readonly recoveries = new Counter({ name: 'danmaku_room_recoveries_total', help: 'JOIN and SWITCH requests with since, by result (recovered, kept, partial, epoch_changed, unavailable)', labelNames: ['result'], registers: [this.registry] });
  private readonly recoveredItems = new Histogram({ name: 'danmaku_room_recovered_items', help: 'Items after since in the replay of a JOIN or SWITCH with since whose epoch matched', buckets: [0, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500], registers: [this.registry] });
  private readonly epochResets = new Counter({ name: 'danmaku_room_epoch_resets_total', help: 'Rooms whose recovery window this gateway replaced because the store had a new epoch (its data was lost)', registers: [this.registry] });
  private roomStats: () => RoomStats = () => ({ rooms: 0, members: 0, largest: 0 });
  private readonly rooms = new Gauge({ name: 'danmaku_rooms', help: 'Rooms with at least one local member on this gateway', registers: [this.registry], collect: () => this.collectRooms() });
  private readonly members = new Gauge({ name: 'danmaku_room_members', help: 'Room memberships held by this gateway (connections in a room)', registers: [this.registry], collect: () => this.collectRooms() });
  private readonly largestRoom = new Gauge({ name: 'danmaku_room_members_max', help: 'Local members of the largest room on this gateway', registers: [this.registry], collect: () => this.collectRooms() });
  private readonly upstream = new Counter({ name: 'danmaku_upstream_messages_total', help: 'Upstream messages handled by the logic service, by kind and result', labelNames: ['kind', 'result'], registers: [this.registry] });
  private readonly upstreamLatency = new Histogram({ name: 'danmaku_upstream_latency_seconds', help: 'Gateway-observed time from a SEND frame to the logic reply', buckets: DELAY_BUCKETS, registers: [this.registry] });
  /** read at scrape time: set by the gateway's upstream client and the logic service */
  private pendingSource: () => number = () => 0;
  private inflightSource: () => number = () => 0;
  private readonly upstreamPending: Gauge = new Gauge({ name: 'danmaku_upstream_pending', help: 'SEND and MSG requests this gateway has forwarded to the logic service and not had answered yet', registers: [this.registry], collect: () => {
      this.upstreamPending.set(this.pendingSource());
    },
  });
  private readonly upstreamBatch = new Histogram({ name: 'danmaku_upstream_batch_requests', help: 'Requests per upstream batch (one bus request) sent by this gateway', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers: [this.registry] });
  private readonly logicInflightGauge: Gauge = new Gauge({ name: 'danmaku_logic_inflight', help: 'Upstream requests this logic process is handling', registers: [this.registry], collect: () => {
      this.logicInflightGauge.set(this.inflightSource());
    },
  });
  private readonly shed = new Counter({ name: 'danmaku_upstream_shed_total', help: 'SEND and MSG requests refused with ERROR 32 overloaded, by where (gateway, logic)', labelNames: ['where'], registers: [this.registry] });
  private readonly batches = new Counter({ name: 'danmaku_batches_total', help: 'Room batch frames built (one per room per flush)', registers: [this.registry] });
  private readonly framesSent = new Counter({ name: 'danmaku_frames_delivered_total', help: 'Room batch frames handed to client sockets', registers: [this.registry] });
  private readonly itemsSent = new Counter({ name: 'danmaku_items_delivered_total', help: 'Room items handed to client sockets (items x recipients)', registers: [this.registry] });
  private readonly delay = new Histogram({ name: 'danmaku_delivery_delay_seconds', help: 'Server receive of an item to its batch frame handed to the sockets', buckets: DELAY_BUCKETS, registers: [this.registry] });
  private readonly dropped = new Counter({ name: 'danmaku_dropped_total', help: 'Room items and bus messages not delivered, by reason (shed, bad_item, bad_delivery)', labelNames: ['reason'], registers: [this.registry] });
  private readonly droppedFrames = new Counter({ name: 'danmaku_dropped_frames_total', help: 'Frames not queued for a client socket, by reason (backpressure)', labelNames: ['reason'], registers: [this.registry] });
  private readonly errors = new Counter({ name: 'danmaku_errors_total', help: 'Error frames and error closes sent to clients, by reason', labelNames: ['reason'], registers: [this.registry] });
  private readonly buffered = new Gauge({ name: 'danmaku_outbound_buffered_bytes', help: 'Bytes waiting in client socket send buffers (sampled)', registers: [this.registry] });
  private readonly slowConsumers = new Gauge({ name: 'danmaku_slow_consumers', help: 'Connections whose outbound buffer is over the soft limit (sampled)', registers: [this.registry] });
  private readonly logicLatency = new Histogram({ name: 'danmaku_logic_request_seconds', help: 'Logic-side time to handle one upstream request, by op (send, msg)', labelNames: ['op'], buckets: DELAY_BUCKETS, registers: [this.registry] });
  private readonly busPublishedTotal = new Counter({ name: 'danmaku_bus_published_total', help: 'Messages published on the bus, by subject kind (room, node, request)', labelNames: ['kind'], registers: [this.registry] });
  private readonly busReceivedTotal = new Counter({ name: 'danmaku_bus_received_total', help: 'Messages received from the bus, by subject kind (room, node, request)', labelNames: ['kind'], registers: [this.registry] });
  private readonly busEvents = new Counter({ name: 'danmaku_bus_events_total', help: 'NATS connection events, by event (disconnect, reconnect, error, ...)', labelNames: ['event'], registers: [this.registry] });
  private readonly busUp = new Gauge({ name: 'danmaku_bus_connected', help: '1 while the bus connection is up (always 1 in standalone mode)', registers: [this.registry] });
  private readonly redisLatency = new Histogram({ name: 'danmaku_redis_operation_seconds', help: 'Time of one Redis-backed store operation, by op', labelNames: ['op'], buckets: REDIS_BUCKETS, registers: [this.registry] });
  private readonly replicaWaits = new Histogram({ name: 'danmaku_redis_replica_wait_seconds', help: 'One round of waiting for Redis replicas before acknowledging (REDIS_WAIT_REPLICAS), by result', labelNames: ['result'], buckets: [...REDIS_BUCKETS.filter((b) => b < 0.5), 0.5, 1, 2.5, 5, 10], registers: [this.registry] });
  private readonly redisErrors = new Counter({ name: 'danmaku_redis_errors_total', help: 'Redis-backed store operations that failed, by op', labelNames: ['op'], registers: [this.registry] });
  // Registered only by processes that use Redis (cluster mode): a standalone process has no
  // connection to report, and a gauge reading 0 there would look like Redis down to an alert.
  private readonly redisUp = new Gauge({ name: 'danmaku_redis_connected', help: '1 while the Redis connection is ready (cluster mode)', registers: [] });
  private readonly redisDisconnects = new Counter({ name: 'danmaku_redis_disconnects_total', help: 'Redis connections lost', registers: [this.registry] });
  private readonly fallbacks = new Counter({ name: 'danmaku_store_fallbacks_total', help: 'Store operations served by the local fallback while Redis was unavailable, by op', labelNames: ['op'], registers: [this.registry] });
  // Readiness (health.ts), read at scrape time: the same answer /readyz gives.
  private readySource: () => boolean = () => true;
  private readonly readyGauge: Gauge = new Gauge({ name: 'danmaku_ready', help: '1 while this process is ready (/readyz answers 200), 0 while it is not: starting, draining, or a bus or Redis connection down', registers: [this.registry], collect: () => {
      this.readyGauge.set(this.readySource() ? 1 : 0);
    },
  });
  private readonly registryUsersGauge = new Gauge({ name: 'danmaku_registry_users', help: 'Users this gateway has written to the registry (users with a connection here)', registers: [this.registry] });
  private readonly registryResyncs = new Counter({ name: 'danmaku_registry_resyncs_total', help: 'Full rewrites of this gateway\'s registry entries (start, after a failed write or a lapse)', registers: [this.registry] });
  private readonly registrySweeps = new Counter({ name: 'danmaku_registry_swept_gateways_total', help: 'Dead gateways whose registry entries this logic process removed', registers: [this.registry] });
  private readonly fanoutRecipients = new Histogram({ name: 'danmaku_fanout_recipients', help: 'Recipient UIDs per group or user message (logic)', buckets: FANOUT_BUCKETS, registers: [this.registry] });
  private readonly fanoutOnline = new Counter({ name: 'danmaku_fanout_online_recipients_total', help: 'Recipients of group and user messages found online in the registry (logic)', registers: [this.registry] });
  private readonly fanoutGateways = new Histogram({ name: 'danmaku_fanout_gateways', help: 'Gateways one group or user message was sent to (logic)', buckets: FANOUT_BUCKETS, registers: [this.registry] });
  private readonly webRequests = new Counter({ name: 'danmaku_web_requests_total', help: 'Plain HTTP requests to the gateway port (SDK bundles, demo page, demo tokens, anything else), by class and HTTP status', labelNames: ['class', 'status'], registers: [this.registry] });
  private readonly adminRequests = new Counter({ name: 'danmaku_admin_requests_total', help: 'Admin API requests, by route and HTTP status', labelNames: ['route', 'status'], registers: [this.registry] });
  // Chat storage (docs/cluster.md, "Chat storage")
  private readonly chatReadLatency = new Histogram({ name: 'danmaku_chat_read_seconds', help: 'Chat reads handled by the logic service, by op (sync, history, contacts, read)', labelNames: ['op'], buckets: DELAY_BUCKETS, registers: [this.registry] });
  private readonly inboxSyncedMessages = new Counter({ name: 'danmaku_inbox_synced_messages_total', help: 'Messages sent in INBOX frames (connect pushes and SYNC replies)', registers: [this.registry] });
  private readonly inboxSyncBytes = new Counter({ name: 'danmaku_inbox_sync_bytes_total', help: 'Bytes of INBOX message arrays, before (msgpack) and after (gzip) compression', labelNames: ['encoding'], registers: [this.registry] });
  private readonly unreadPushes = new Counter({ name: 'danmaku_unread_pushes_total', help: 'UNREAD frames pushed to users after new messages or a READ (logic)', registers: [this.registry] });
  private readonly unreadPushFailures = new Counter({ name: 'danmaku_unread_push_failures_total', help: 'UNREAD pushes that failed (registry or bus unavailable); the figures stay right in CONTACTS', registers: [this.registry] });
  private readonly queueEnqueuedRecords = new Counter({ name: 'danmaku_store_queue_enqueued_total', help: 'Chat messages put into the storage queue (logic)', registers: [this.registry] });
  private readonly queueEnqueuedBytes = new Counter({ name: 'danmaku_store_queue_enqueued_bytes_total', help: 'Bytes of queue messages put into the storage queue', registers: [this.registry] });
  private readonly queueBacklog = new Gauge({ name: 'danmaku_store_queue_backlog', help: 'Queue messages not yet applied by the storage writers (pending and unacknowledged)', registers: [this.registry] });
  private readonly queueOldest = new Gauge({ name: 'danmaku_store_queue_oldest_seconds', help: 'Age of the oldest queue message not yet applied (0 when none)', registers: [this.registry] });
  private readonly storeLag = new Histogram({ name: 'danmaku_store_lag_seconds', help: 'From a chat message being accepted to its inbox and history writes being applied', buckets: DELAY_BUCKETS, registers: [this.registry] });
  private readonly storeWrites = new Counter({ name: 'danmaku_store_writes_total', help: 'Storage writes by kind: records applied, records skipped (already applied: a redelivery), inbox entries written, inbox entries evicted', labelNames: ['kind'], registers: [this.registry] });
  private readonly queueRedelivered = new Counter({ name: 'danmaku_store_redelivered_total', help: 'Queue messages delivered to a writer again (a writer died or failed before acknowledging)', registers: [this.registry] });
  private readonly queueMalformed = new Counter({ name: 'danmaku_store_queue_malformed_total', help: 'Queue messages, or records in them, that were not valid records: dropped, never applied (anything with access to NATS can publish on the subject)', registers: [this.registry] });
  private readonly storeApplyFailures = new Counter({ name: 'danmaku_store_apply_failures_total', help: 'Batches a storage writer failed to apply (retried later; nothing is lost)', registers: [this.registry] });

  private readonly directFrames = new Counter({ name: 'danmaku_direct_frames_delivered_total', help: 'Group and user message frames handed to client sockets (gateway)', registers: [this.registry] });

  // Label-bound children of the metrics recorded per message: inc({label}) hashes its labels
  // on every call, a cached child does not.
  private readonly upstreamChild = children<{ inc(): void }>();
  private readonly errorChild = children<{ inc(): void }>();
  private readonly shedChild = children<{ inc(): void }>();
  private readonly publishedChild = children<{ inc(): void }>();
  private readonly receivedChild = children<{ inc(): void }>();
  private readonly logicChild = children<{ observe(v: number): void }>();
  private readonly redisChild = children<{ observe(v: number): void }>();
  private readonly chatReadChild = children<{ observe(v: number): void }>();

  /** `redis`: the process uses Redis (cluster mode), so it exports `danmaku_redis_connected` (default true) */
  constructor(opts: { defaultMetrics?: boolean; labels?: Record<string, string>; redis?: boolean } = {}) {
    if (opts.labels) this.registry.setDefaultLabels(opts.labels);
    if (opts.redis !== false) this.registry.registerMetric(this.redisUp);
    // Process CPU, memory, GC and event-loop lag (nodejs_eventloop_lag_*).
    if (opts.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry });
      // Gauges named *_total fail `promtool check metrics`; they add nothing we need.
      for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
        this.registry.removeSingleMetric(name);
      }
    }
    // Known label values start at zero, so that rate() sees the first event and panels show 0.
    for (const reason of PUSH_GIVE_UPS) this.pushGiveUps.inc({ reason }, 0);
    for (const reason of DROP_REASONS) this.dropped.inc({ reason }, 0);
    for (const reason of FRAME_DROP_REASONS) this.droppedFrames.inc({ reason }, 0);
    for (const signal of ROOM_SIGNALS) this.signals.inc({ signal }, 0);
    for (const result of ROOM_RECOVERIES) this.recoveries.inc({ result }, 0);
    for (const kind of SUBJECT_KINDS) {
      this.busPublishedTotal.inc({ kind }, 0);
      this.busReceivedTotal.inc({ kind }, 0);
    }
    for (const event of BUS_EVENTS) this.busEvents.inc({ event }, 0);
    for (const where of SHED_WHERE) this.shed.inc({ where }, 0);
    for (const kind of STORE_WRITES) this.storeWrites.inc({ kind }, 0);
    for (const reason of LABEL_VALUES.danmaku_connections_closed_total!.reason!) this.closed.inc({ reason: String(reason) }, 0);
    for (const reason of LABEL_VALUES.danmaku_errors_total!.reason!) this.errors.inc({ reason: String(reason) }, 0);
    const upstream = LABEL_VALUES.danmaku_upstream_messages_total!;
    for (const kind of upstream.kind!) for (const result of upstream.result!) this.upstream.inc({ kind: String(kind), result: String(result) }, 0);
    for (const op of REDIS_OPS) this.redisErrors.inc({ op }, 0);
    for (const result of REPLICA_WAIT_RESULTS) this.replicaWaits.zero({ result });
    for (const op of FALLBACK_OPS) this.fallbacks.inc({ op }, 0);
    for (const encoding of ['msgpack', 'gzip']) this.inboxSyncBytes.inc({ encoding }, 0);
    for (const reason of UPGRADE_REFUSALS) this.upgradesRefused.inc({ reason }, 0);
    for (const result of TOKEN_REFRESH_RESULTS) this.tokenRefreshes.inc({ result }, 0);
    // degradation steps: up by each signal, down always 'none'
    for (const signal of DEGRADE_SIGNALS) if (signal !== 'none') this.degradeSteps.inc({ direction: 'up', signal }, 0);
    this.degradeSteps.inc({ direction: 'down', signal: 'none' }, 0);
    this.busUp.set(1);
  }

  connectionOpened(): void {
    this.opened.inc();
    this.connections.inc();
  }

  connectionClosed(reason: string): void {
    this.closed.inc({ reason });
    this.connections.dec();
  }

  roomSignal(signal: (typeof ROOM_SIGNALS)[number]): void {
    this.signals.inc({ signal });
  }

  /** A JOIN or SWITCH with since; `items`: replayed items after since (null: the epoch did not match) */
  roomRecovery(result: RoomRecovery, items: number | null): void {
    this.recoveries.inc({ result });
    if (items !== null) this.recoveredItems.observe(items);
  }

  roomEpochReset(): void {
    this.epochResets.inc();
  }

  /** Room gauges are computed at scrape time from the gateway's own state. */
  observeRooms(stats: () => RoomStats): void {
    this.roomStats = stats;
  }

  private collectRooms(): void {
    const s = this.roomStats();
    this.rooms.set(s.rooms);
    this.members.set(s.members);
    this.largestRoom.set(s.largest);
  }

  upstreamHandled(kind: string, result: string): void {
    this.upstreamChild(`${kind}\0${result}`, () => this.upstream.labels({ kind, result })).inc();
  }

  upstreamAnswered(seconds: number): void {
    this.upstreamLatency.observe(seconds);
  }

  /** `pending`: the gateway's count of requests awaiting the logic service, read at scrape time */
  watchUpstream(pending: () => number): void {
    this.pendingSource = pending;
  }

  upstreamBatchSent(requests: number): void {
    this.upstreamBatch.observe(requests);
  }

  upstreamShed(where: ShedWhere): void {
    this.shedChild(where, () => this.shed.labels({ where })).inc();
  }

  /** `inflight`: the logic service's count of requests in progress, read at scrape time */
  watchLogic(inflight: () => number): void {
    this.inflightSource = inflight;
  }

  roomBatchSent(recipients: number, items: number): void {
    this.batches.inc();
    this.framesSent.inc(recipients);
    this.itemsSent.inc(recipients * items);
  }

  itemDelivered(delaySeconds: number): void {
    this.delay.observe(delaySeconds);
  }

  itemsDropped(reason: DropReason, n = 1): void {
    this.dropped.inc({ reason }, n);
  }

  frameDropped(reason: FrameDropReason, n = 1): void {
    this.droppedFrames.inc({ reason }, n);
  }

  clientError(reason: string): void {
    this.errorChild(reason, () => this.errors.labels({ reason })).inc();
  }

  outboundSampled(bytes: number, slow: number): void {
    this.buffered.set(bytes);
    this.slowConsumers.set(slow);
  }

  logicHandled(op: (typeof LOGIC_OPS)[number], seconds: number): void {
    this.logicChild(op, () => this.logicLatency.labels({ op })).observe(seconds);
  }

  busPublished(kind: SubjectKind): void {
    this.publishedChild(kind, () => this.busPublishedTotal.labels({ kind })).inc();
  }

  busReceived(kind: SubjectKind): void {
    this.receivedChild(kind, () => this.busReceivedTotal.labels({ kind })).inc();
  }

  busEvent(event: BusEvent): void {
    this.busEvents.inc({ event });
  }

  busConnected(up: boolean): void {
    this.busUp.set(up ? 1 : 0);
  }

  redisCommand(op: RedisOp, seconds: number, failed: boolean): void {
    this.redisChild(op, () => this.redisLatency.labels({ op })).observe(seconds);
    if (failed) this.redisErrors.inc({ op });
  }

  /** one round of REDIS_WAIT_REPLICAS (src/redis/replica-wait.ts) */
  replicaWait(result: ReplicaWaitResult, seconds: number): void {
    this.replicaWaits.observe({ result }, seconds);
  }

  redisConnected(up: boolean): void {
    this.redisUp.set(up ? 1 : 0);
  }

  /** `ready`: the process's readiness (health.ts), read at scrape time */
  watchReady(ready: () => boolean): void {
    this.readySource = ready;
  }

  redisEvent(): void {
    this.redisDisconnects.inc();
  }

  storeFallback(op: FallbackOp): void {
    this.fallbacks.inc({ op });
  }

  registryWritten(users: number): void {
    this.registryUsersGauge.set(users);
  }

  registryResynced(): void {
    this.registryResyncs.inc();
  }

  registrySwept(gateways: number): void {
    this.registrySweeps.inc(gateways);
  }

  chatFanout(recipients: number, online: number, gateways: number): void {
    this.fanoutRecipients.observe(recipients);
    this.fanoutOnline.inc(online);
    this.fanoutGateways.observe(gateways);
  }

  webRequest(kind: WebClass, status: number): void {
    this.webRequests.inc({ class: kind, status: String(status) });
  }

  adminRequest(route: AdminRoute, status: number): void {
    this.adminRequests.inc({ route, status: String(status) });
  }

  directDelivered(frames: number): void {
    this.directFrames.inc(frames);
  }

  chatRead(op: ChatReadOp, seconds: number): void {
    this.chatReadChild(op, () => this.chatReadLatency.labels({ op })).observe(seconds);
  }

  inboxSynced(messages: number, rawBytes: number, gzipBytes: number): void {
    this.inboxSyncedMessages.inc(messages);
    this.inboxSyncBytes.inc({ encoding: 'msgpack' }, rawBytes);
    this.inboxSyncBytes.inc({ encoding: 'gzip' }, gzipBytes);
  }

  unreadPushed(n: number): void {
    this.unreadPushes.inc(n);
  }

  unreadPushFailed(): void {
    this.unreadPushFailures.inc();
  }

  storeWritten(kind: StoreWrite, n: number): void {
    if (n > 0) this.storeWrites.inc({ kind }, n);
  }

  /** The storage queue's observer (src/queue/): the metrics of the queue and its writers. */
  readonly queue = {
    enqueued: (records: number, bytes: number): void => {
      this.queueEnqueuedRecords.inc(records);
      this.queueEnqueuedBytes.inc(bytes);
    },
    applied: (_records: number, lagSeconds: readonly number[]): void => {
      for (const s of lagSeconds) this.storeLag.observe(s);
    },
    backlog: (messages: number, oldestAgeSeconds: number): void => {
      this.queueBacklog.set(messages);
      this.queueOldest.set(oldestAgeSeconds);
    },
    redelivered: (n: number): void => {
      this.queueRedelivered.inc(n);
    },
    applyFailed: (): void => {
      this.storeApplyFailures.inc();
    },
    malformed: (n: number): void => {
      this.queueMalformed.inc(n);
    },
  };

  // Push ACK and resend (gateway/pushes.ts)
  private pushPendingSource: () => number = () => 0;
  private readonly pushPending: Gauge = new Gauge({ name: 'danmaku_push_pending', help: 'Pushes (MESSAGE frames with an id) sent by this gateway and not yet acknowledged with RECEIVED or given up', registers: [this.registry], collect: () => {
      this.pushPending.set(this.pushPendingSource());
    },
  });
  private readonly pushResends = new Counter({ name: 'danmaku_push_resends_total', help: 'Pushes sent again for want of a RECEIVED', registers: [this.registry] });
  private readonly pushGiveUps = new Counter({ name: 'danmaku_push_given_up_total', help: 'Pushes no longer tracked without a RECEIVED, by reason (unacked, overflow, closed); each is in the inbox', labelNames: ['reason'], registers: [this.registry] });
  private readonly pushAcked = new Counter({ name: 'danmaku_push_acked_total', help: 'Pending pushes acknowledged by RECEIVED', registers: [this.registry] });
  private readonly pushAckFrames = new Counter({ name: 'danmaku_push_ack_frames_total', help: 'RECEIVED frames handled', registers: [this.registry] });
  private readonly pushGiveUpChild = children<{ inc(n: number): void }>();

  /** `pending`: the gateway's count of unacknowledged pushes, read at scrape time */
  watchPushes(pending: () => number): void {
    this.pushPendingSource = pending;
  }

  pushResent(): void {
    this.pushResends.inc();
  }

  pushGivenUp(reason: PushGiveUp, n: number): void {
    this.pushGiveUpChild(reason, () => this.pushGiveUps.labels({ reason })).inc(n);
  }

  pushAckFrame(acked: number): void {
    this.pushAckFrames.inc();
    if (acked > 0) this.pushAcked.inc(acked);
  }

  // Event-loop lag (event-loop-lag.ts) and admission at the upgrade (gateway/admission.ts)
  private readonly lag = new Histogram({ name: 'danmaku_event_loop_lag_seconds', help: 'Event-loop delay, one observation per 5 ms of wall time (a stall of L ms counts L/5 times: L, L-5, ...)', buckets: LAG_BUCKETS, registers: [this.registry] });
  private readonly lagMax = new Gauge({ name: 'danmaku_event_loop_lag_max_seconds', help: 'The longest event-loop delay in the last second', registers: [this.registry] });
  private readonly upgradesRefused = new Counter({ name: 'danmaku_upgrades_refused_total', help: 'WebSocket upgrades answered HTTP 503, by reason (draining, capacity, lag, outbound)', labelNames: ['reason'], registers: [this.registry] });
  private admissionSource: () => { open: boolean; maxConnections: number } = () => ({ open: true, maxConnections: 0 });
  private readonly admissionOpen: Gauge = new Gauge({ name: 'danmaku_admission_open', help: '1 while this gateway admits new connections, 0 while it refuses them (draining, at its cap, or overloaded)', registers: [this.registry], collect: () => {
      this.admissionOpen.set(this.admissionSource().open ? 1 : 0);
    },
  });
  private readonly connectionsMax: Gauge = new Gauge({ name: 'danmaku_connections_max', help: 'The connection cap of this gateway (MAX_CONNECTIONS; 0: none)', registers: [this.registry], collect: () => {
      this.connectionsMax.set(this.admissionSource().maxConnections);
    },
  });
  private readonly refusedChild = children<{ inc(): void }>();

  eventLoopLag(seconds: number, samples: number): void {
    for (let i = 0; i < samples; i++) this.lag.observe(seconds);
  }

  eventLoopLagMax(seconds: number): void {
    this.lagMax.set(seconds);
  }

  // Tokens: REFRESH (gateway/refresh.ts)
  private readonly tokenRefreshes = new Counter({ name: 'danmaku_token_refreshes_total', help: 'REFRESH frames by result (ok, invalid, expired, other_user)', labelNames: ['result'], registers: [this.registry] });

  tokenRefreshed(result: TokenRefreshResult): void {
    this.tokenRefreshes.inc({ result });
  }

  upgradeRefused(reason: UpgradeRefusal): void {
    this.refusedChild(reason, () => this.upgradesRefused.labels({ reason })).inc();
  }

  /** the gateway's admission state, read at scrape time */
  watchAdmission(state: () => { open: boolean; maxConnections: number }): void {
    this.admissionSource = state;
  }

  // Per-client limits at the upgrade (gateway/admission.ts, ip-limits.ts) and TLS reloads (gateway/tls.ts)
  private readonly upgradesLimited = (() => {
    const c = new Counter({ name: 'danmaku_upgrades_limited_total', help: 'Clients refused by a per-client limit, by reason (origin: HTTP 403; ip_connections, ip_rate: HTTP 429; user_connections: close 4505)', labelNames: ['reason'], registers: [this.registry] });
    for (const reason of UPGRADE_LIMITS) c.inc({ reason }, 0);
    return c;
  })();
  private readonly limitedChild = children<{ inc(): void }>();
  private readonly tlsReloads = (() => {
    const c = new Counter({ name: 'danmaku_tls_reloads_total', help: 'TLS certificate reloads after the files changed, by result (ok; failed: the new pair was refused, the old one stays)', labelNames: ['result'], registers: [this.registry] });
    for (const result of TLS_RELOAD_RESULTS) c.inc({ result }, 0);
    return c;
  })();

  upgradeLimited(reason: UpgradeLimit): void {
    this.limitedChild(reason, () => this.upgradesLimited.labels({ reason })).inc();
  }

  tlsReload(result: TlsReloadResult): void {
    this.tlsReloads.inc({ result });
  }

  // Load-aware entry (gateway/entry.ts)
  private readonly entryRequests = (() => {
    const c = new Counter({ name: 'danmaku_entry_requests_total', help: 'GET /entry answers of this gateway, by HTTP status (200: the weighted list; 503: the registry could not be read)', labelNames: ['status'], registers: [this.registry] });
    for (const status of ENTRY_STATUSES) c.inc({ status: String(status) }, 0);
    return c;
  })();
  private readonly entryChild = children<{ inc(): void }>();

  entryRequest(status: EntryStatus): void {
    this.entryChild(String(status), () => this.entryRequests.labels({ status: String(status) })).inc();
  }

  // Draining (gateway/drain.ts)
  private readonly drainState = new Gauge({ name: 'danmaku_drain_state', help: 'Drain phase of this gateway: 0 serving, 1 not ready (still serving), 2 moving clients, 3 drained (refusing, until undrain or exit)', registers: [this.registry] });
  private readonly drainMoved = new Counter({ name: 'danmaku_drain_moved_total', help: 'Connections a drain moved: sent GOAWAY and closed with 1012', registers: [this.registry] });

  drainPhase(phase: number): void {
    this.drainState.set(phase);
  }

  drainMovedOne(): void {
    this.drainMoved.inc();
  }

  // Adaptive degradation (gateway/degrade.ts, gateway/degrade-monitor.ts)
  private readonly degradeLevel = new Gauge({ name: 'danmaku_degrade_level', help: 'The gateway\'s degradation level (0 normal, 1 to 3: hot rooms get wider merge windows and lower display caps)', registers: [this.registry] });
  private readonly degradedRooms = new Gauge({ name: 'danmaku_degraded_rooms', help: 'Rooms this gateway runs degraded (at least DEGRADE_MIN_MEMBERS local members while the level is above 0)', registers: [this.registry] });
  private readonly degradeSteps = new Counter({ name: 'danmaku_degrade_steps_total', help: 'Degradation level steps, by direction (up, down) and the signal that raised it (lag, outbound, cpu; none for a step down)', labelNames: ['direction', 'signal'], registers: [this.registry] });

  degradeStep(direction: 'up' | 'down', signal: DegradeSignal): void {
    this.degradeSteps.inc({ direction, signal });
  }

  degradeState(level: number, rooms: number): void {
    this.degradeLevel.set(level);
    this.degradedRooms.set(rooms);
  }

  // Moderation (src/moderation/, src/logic/moderation.ts): filter verdicts, word lists, audit of actions
  private readonly filterVerdicts = (() => {
    const c = new Counter({ name: 'danmaku_filter_verdicts_total', help: 'Texts the word filter checked (danmaku, notices, chat), by verdict (pass, reject, mask, hold)', labelNames: ['action'], registers: [this.registry] });
    for (const action of FILTER_VERDICTS) c.inc({ action }, 0);
    return c;
  })();
  private readonly filterVerdictChild = children<{ inc(): void }>();
  private readonly filterWords = new Gauge({ name: 'danmaku_filter_words', help: 'Words in the word filter this process applies (every list)', registers: [this.registry] });
  private readonly filterReloads = (() => {
    const c = new Counter({ name: 'danmaku_filter_reloads_total', help: 'Word-list loads into this process\'s filter, by result (ok; failed: the lists in the store did not parse, the previous filter stays)', labelNames: ['result'], registers: [this.registry] });
    for (const result of FILTER_RELOADS) c.inc({ result }, 0);
    return c;
  })();
  private readonly moderationActions = (() => {
    const c = new Counter({ name: 'danmaku_moderation_actions_total', help: 'Moderation actions this process carried out, by action and source (admin API, a moderator\'s MODERATE, auto-mute)', labelNames: ['action', 'source'], registers: [this.registry] });
    for (const action of MODERATION_ACTIONS) for (const source of MODERATION_SOURCES) c.inc({ action, source }, 0);
    return c;
  })();

  filterVerdict(action: FilterVerdictLabel): void {
    this.filterVerdictChild(action, () => this.filterVerdicts.labels({ action })).inc();
  }

  filterLoaded(ok: boolean, words: number): void {
    this.filterReloads.inc({ result: ok ? 'ok' : 'failed' });
    if (ok) this.filterWords.set(words);
  }

  moderationAction(action: ModerationActionLabel, source: ModerationSource): void {
    this.moderationActions.inc({ action, source });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
