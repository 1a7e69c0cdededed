// Every metric of the process, named in this one place and recorded through domain verbs.
// Metric names are an API: grafana/ and docs/metrics.md depend on them.
// Room ids never become label values (unbounded cardinality).

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface RoomStats {
  readonly rooms: number;
  readonly members: number;
  readonly largest: number;
}

const DELAY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10];

export class Metrics {
  readonly registry = new Registry();

  private readonly connections = new Gauge({ name: 'danmaku_connections', help: 'Open client connections', registers: [this.registry] });
  private readonly opened = new Counter({ name: 'danmaku_connections_opened_total', help: 'Client connections accepted', registers: [this.registry] });
  private readonly closed = new Counter({ name: 'danmaku_connections_closed_total', help: 'Client connections closed, by reason', labelNames: ['reason'], registers: [this.registry] });
  private readonly signals = new Counter({ name: 'danmaku_room_signals_total', help: 'Room signals handled, by signal (join, switch, leave)', labelNames: ['signal'], registers: [this.registry] });
  private roomStats: () => RoomStats = () => ({ rooms: 0, members: 0, largest: 0 });
  private readonly rooms = new Gauge({ name: 'danmaku_rooms', help: 'Rooms with at least one local member on this gateway', registers: [this.registry], collect: () => this.collectRooms() });
  private readonly members = new Gauge({ name: 'danmaku_room_members', help: 'Room memberships held by this gateway (connections in a room)', registers: [this.registry], collect: () => this.collectRooms() });
  private readonly largestRoom = new Gauge({ name: 'danmaku_room_members_max', help: 'Local members of the largest room on this gateway', registers: [this.registry], collect: () => this.collectRooms() });
  private readonly upstream = new Counter({ name: 'danmaku_upstream_messages_total', help: 'Upstream messages handled by the logic service, by kind and result', labelNames: ['kind', 'result'], registers: [this.registry] });
  private readonly upstreamLatency = new Histogram({ name: 'danmaku_upstream_latency_seconds', help: 'Gateway-observed time from a SEND frame to the logic reply', buckets: DELAY_BUCKETS, registers: [this.registry] });
  private readonly batches = new Counter({ name: 'danmaku_batches_total', help: 'Room batch frames built (one per room per flush)', registers: [this.registry] });
  private readonly framesSent = new Counter({ name: 'danmaku_frames_delivered_total', help: 'Room batch frames handed to client sockets', registers: [this.registry] });
  private readonly itemsSent = new Counter({ name: 'danmaku_items_delivered_total', help: 'Room items handed to client sockets (items x recipients)', registers: [this.registry] });
  private readonly delay = new Histogram({ name: 'danmaku_delivery_delay_seconds', help: 'Server receive of an item to its batch frame handed to the sockets', buckets: DELAY_BUCKETS, registers: [this.registry] });
  private readonly dropped = new Counter({ name: 'danmaku_dropped_total', help: 'Items or frames not delivered, by reason (shed, backpressure, bad_item)', labelNames: ['reason'], registers: [this.registry] });
  private readonly errors = new Counter({ name: 'danmaku_errors_total', help: 'Error frames and error closes sent to clients, by reason', labelNames: ['reason'], registers: [this.registry] });
  private readonly buffered = new Gauge({ name: 'danmaku_outbound_buffered_bytes', help: 'Bytes waiting in client socket send buffers (sampled)', registers: [this.registry] });
  private readonly slowConsumers = new Gauge({ name: 'danmaku_slow_consumers', help: 'Connections whose outbound buffer is over the soft limit (sampled)', registers: [this.registry] });

  constructor(opts: { defaultMetrics?: boolean; labels?: Record<string, string> } = {}) {
    if (opts.labels) this.registry.setDefaultLabels(opts.labels);
    // Process CPU, memory, GC and event-loop lag (nodejs_eventloop_lag_*).
    if (opts.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry });
      // Gauges named *_total fail `promtool check metrics`; they add nothing we need.
      for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
        this.registry.removeSingleMetric(name);
      }
    }
    // Known label values start at zero, so that rate() sees the first event and panels show 0.
    for (const reason of ['shed', 'backpressure', 'bad_item']) this.dropped.inc({ reason }, 0);
    for (const signal of ['join', 'switch', 'leave']) this.signals.inc({ signal }, 0);
  }

  connectionOpened(): void {
    this.opened.inc();
    this.connections.inc();
  }

  connectionClosed(reason: string): void {
    this.closed.inc({ reason });
    this.connections.dec();
  }

  roomSignal(signal: 'join' | 'switch' | 'leave'): void {
    this.signals.inc({ signal });
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
    this.upstream.inc({ kind, result });
  }

  upstreamAnswered(seconds: number): void {
    this.upstreamLatency.observe(seconds);
  }

  roomBatchSent(recipients: number, items: number): void {
    this.batches.inc();
    this.framesSent.inc(recipients);
    this.itemsSent.inc(recipients * items);
  }

  itemDelivered(delaySeconds: number): void {
    this.delay.observe(delaySeconds);
  }

  itemsDropped(reason: 'shed' | 'backpressure' | 'bad_item', n = 1): void {
    this.dropped.inc({ reason }, n);
  }

  clientError(reason: string): void {
    this.errors.inc({ reason });
  }

  outboundSampled(bytes: number, slow: number): void {
    this.buffered.set(bytes);
    this.slowConsumers.set(slow);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
