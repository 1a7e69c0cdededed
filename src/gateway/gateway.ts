// The gateway: holds client connections (uWebSockets.js), keeps user -> room -> connection
// from the join/switch/leave signals, forwards SEND and MSG frames to the logic service, and fans
// room batches out to local members. Who gets in is admission.ts; the periodic checks are
// sweep.ts. No business logic lives here.

// Loads uWS: imported by main.ts only after it has set uWS's header limit (importGateway).
import * as uWS from 'uWebSockets.js';
import type { TokenVerifier } from '../auth/token.js';
import type { Bus } from '../bus/index.js';
import { FailureLog } from '../failure-log.js';
import type { LagSource } from '../event-loop-lag.js';
import type { Logger } from '../log.js';
import type { Compression } from '../config.js';
import type { Metrics } from '../metrics.js';
import { decodeFrame, encodeFrame, FrameError } from '../protocol/codec.js';
import { CloseCodes, Errors, ProtocolError, type ErrorEntry } from '../protocol/errors.js';
import { Op } from '../protocol/ops.js';
import type { GatewayLoad, Registry } from '../registry/index.js';
import type { RoomHistory } from '../store/history/index.js';
import type { PresenceCounts } from '../store/presence/index.js';
import type { Restriction } from '../store/moderation/index.js';
import type { Sequencer } from '../store/sequence/index.js';
import { Admission, readUpgrade } from './admission.js';
import { ClientAddress, formatAddress, parseTrustedProxies, type ClientIpHeader } from './client-address.js';
import { Closer } from './close.js';
import { compressionOption, worthCompressing } from './compression.js';
import { defaultPublicUrl, Entry, lagLimitMs, type EntryAnswer } from './entry.js';
import { Drain, DrainPhase, PHASE_NAMES, type DrainPlan } from './drain.js';
import type { Drainable } from './drain-api.js';
import { DegradeMonitor, type DegradeOptions } from './degrade-monitor.js';
import { admitFrame, chargeFrames, newConnState, RESUME_ITEMS_PER_TOKEN, type ConnState } from './connection.js';
import { readJoin, type JoinRequest } from './join-request.js';
import { mayBeRefresh, REFRESH_EXTRA_FRAMES, refreshedBody, refreshIdentity } from './refresh.js';
import { LocalUsers } from './local-users.js';
import { OnlineTicker } from './online.js';
import { Pushes, receivedIds } from './pushes.js';
import { RegistryAgent } from './registry-agent.js';
import { RoomHub, type LocalRoom } from './room-hub.js';
import { forwardSend, sendCorked, type SendContext } from './send.js';
import { Sweep } from './sweep.js';
import { readTlsPair, TlsReloader } from './tls.js';
import { UpstreamClient } from './upstream-client.js';
import type { WebFiles } from './web.js';

/** The gateway's settings (src/config.ts); adaptive degradation's are DegradeOptions (degrade-monitor.ts). */
export interface GatewayOptions extends DegradeOptions {
  readonly gatewayId: string;
  readonly host: string;
  readonly port: number;
  readonly allowGuests: boolean;
  readonly maxTokenBytes: number;
  readonly maxFrameBytes: number;
  readonly maxTextLength: number;
  readonly mergeMaxMessages: number;
  readonly mergeWindowMs: number;
  readonly replaySize: number;
  readonly roomRecoverySize: number;
  readonly roomRecoveryMs: number;
  readonly roomRecoveryKeepSize: number;
  readonly roomRecoveryKeepMs: number;
  readonly roomRecoveryMarginMs: number;
  readonly roomDisplayCap: number;
  readonly onlineIntervalMs: number;
  readonly heartbeatIntervalMs: number;
  readonly idleTimeoutMs: number;
  readonly outboundSoftLimitBytes: number;
  /** permessage-deflate for clients that offer it (compression.ts) */
  readonly compression: Compression;
  readonly slowConsumerGraceMs: number;
  readonly connFrameRate: number;
  readonly connFrameBurst: number;
  readonly floodCloseAfter: number;
  readonly upstreamTimeoutMs: number;
  readonly upstreamMaxPending: number;
  readonly registryHeartbeatMs: number;
  readonly registryTtlMs: number;
  /** inbox messages pushed on connect (INBOX frame); 0: no push */
  readonly inboxPushSize: number;
  /** push ACK and resend (pushes.ts) */
  readonly pushAckTimeoutMs: number;
  readonly pushResendIntervalMs: number;
  readonly pushResends: number;
  readonly pushPendingMax: number;
  /** admission's overload refusals (admission.ts); 0 turns one off */
  readonly maxConnections: number;
  readonly admitMaxLagMs: number;
  readonly admitMaxOutboundBytes: number;
  /** the URL clients reach this gateway by (GET /entry); null: from HOST and the bound port */
  readonly publicUrl: string | null;
  /** per-client limits (admission.ts, ip-limits.ts); 0 or empty turns one off */
  readonly maxConnectionsPerIp: number;
  readonly ipConnectRate: number;
  readonly ipConnectBurst: number;
  readonly maxConnectionsPerUser: number;
  readonly allowedOrigins: readonly string[];
  /** whose forwarding header names the client (client-address.ts): IPs and CIDRs; empty: nobody's */
  readonly trustedProxies: readonly string[];
  readonly clientIpHeader: ClientIpHeader;
  /** wss with these PEM files (tls.ts); null: plain ws */
  readonly tlsCert: string | null;
  readonly tlsKey: string | null;
  readonly tlsPassphrase: string | null;
  readonly tlsReloadMs: number;
  /** an open connection whose token's exp (+ grace) passed is closed with 4502 (sweep.ts) */
  readonly tokenExpiryClose: boolean;
  readonly tokenExpiryGraceMs: number;
}

export interface GatewayDeps {
  readonly bus: Bus;
  readonly history: RoomHistory;
  /** read only: where a room's numbering stands, for the bound on items' seqs */
  readonly sequencer: Pick<Sequencer, 'current'>;
  readonly presence: PresenceCounts;
  readonly registry: Registry;
  /**
   * Calls `listener` each time the store's connection is ready again after it was lost
   * (cluster: Redis); absent when the store cannot lose its data on its own (memory).
   */
  readonly onStoreReconnect?: (listener: () => void) => void;
  readonly verifier: TokenVerifier;
  /** the SDK bundles, the demo page and demo tokens on the WebSocket port; absent: none (WEB=false) */
  readonly web?: WebFiles;
  /** the process's recent event-loop lag, which admission reads (event-loop-lag.ts) */
  readonly lag: LagSource;
  /**
   * why this process cannot serve its clients now (its NATS or Redis connection is down), or
   * null; announced as not open, so that GET /entry lists it only when it can serve. Absent: always can.
   */
  readonly unhealthy?: () => string | null;
  /** room bans (src/moderation/cache.ts): checked at JOIN and SWITCH, enforced on the room's members; absent: none */
  readonly bans?: BanSource;
  readonly metrics: Metrics;
  readonly log: Logger;
}

type WS = uWS.WebSocket<ConnState>;

/** What the gateway needs of the moderation cache. */
export interface BanSource {
  banned(uid: string, room: string): Restriction | null;
  listen(listener: { banned?(r: Restriction): void }): void;
}

/** Upgrades waiting for their socket to open, whose inbox cursor is kept, at most. */
const PENDING_SINCE_MAX = 10_000;

/** An inbox cursor in the connection URL: an integer below 2^53. */
const SINCE = /^(0|[1-9][0-9]{0,15})$/;

export class Gateway implements Drainable {
  private readonly app: uWS.TemplatedApp;
  private readonly hub: RoomHub;
  private readonly online: OnlineTicker;
  private readonly agent: RegistryAgent;
  private readonly users: LocalUsers<WS>;
  private readonly pushes: Pushes<WS>;
  private readonly admission: Admission;
  private readonly clientAddress: ClientAddress;
  /** the certificate reload, with TLS on */
  private readonly tls: TlsReloader | null = null;
  private readonly conns = new Set<WS>();
  private readonly closer: Closer;
  private readonly sweep: Sweep;
  private readonly degrader: DegradeMonitor;
  private listenSocket: uWS.us_listen_socket | null = null;
  private nextId = 1;
  private readonly log: Logger;
  private readonly upstreamFailures: FailureLog;
  private readonly joinFailures: FailureLog;
  private readonly upstream: UpstreamClient;
  /** the `since` of connections upgraded and not opened yet (the inbox push's cursor) */
  private readonly pendingSince = new Map<number, string>();
  /** connections that lost a never-shed item to backpressure, closed after uWS's write (dropped()) */
  private readonly keepLosers = new Set<WS>();
  private readonly entry: Entry;
  /** the URL announced for clients, known once listening (the bound port) */
  private publicUrl: string | null = null;
  private readonly drainer: Drain<WS>;
  /** drainForExit() was called: the process stops after the drain (no undrain) */
  private exiting = false;
  private stopped = false;

  constructor(
    private readonly opts: GatewayOptions,
    private readonly deps: GatewayDeps,
  ) {
    this.log = deps.log;
    this.upstreamFailures = new FailureLog(deps.log, 'upstream requests (SEND, MSG)');
    this.joinFailures = new FailureLog(deps.log, 'room subscriptions (JOIN, SWITCH)');
    this.upstream = new UpstreamClient(deps.bus, { timeoutMs: opts.upstreamTimeoutMs, maxPending: opts.upstreamMaxPending }, deps.metrics);
    if (opts.tlsCert !== null && opts.tlsKey !== null) {
      const files = { cert: opts.tlsCert, key: opts.tlsKey, passphrase: opts.tlsPassphrase };
      const startup = readTlsPair(files); // checked by the config too; the app must start with what was checked
      this.app = uWS.SSLApp({ cert_file_name: files.cert, key_file_name: files.key, ...(files.passphrase ? { passphrase: files.passphrase } : {}) });
      this.tls = new TlsReloader(this.app, files, opts.tlsReloadMs, deps.metrics, deps.log.child({ component: 'tls' }), () => this.routes(), startup);
    } else this.app = uWS.App();
    const fanout = { publish: (topic: string, data: Uint8Array) => this.publish(topic, data) };
    this.hub = new RoomHub(deps.bus, { history: deps.history, sequencer: deps.sequencer }, fanout, opts, deps.metrics, deps.log.child({ component: 'rooms' }));
    deps.bus.attach(this.hub);
    deps.bans?.listen({ banned: (r) => this.evict(r) });
    deps.onStoreReconnect?.(() => {
      void this.hub.storeRestored();
      this.agent.storeReconnected();
    });
    this.online = new OnlineTicker(this.hub, deps.presence, opts.gatewayId, opts.onlineIntervalMs, deps.log);
    const pushOpts = { ackTimeoutMs: opts.pushAckTimeoutMs, resendIntervalMs: opts.pushResendIntervalMs, resends: opts.pushResends, pendingMax: opts.pushPendingMax };
    this.pushes = new Pushes<WS>((ws, frame) => sendCorked(ws, frame), pushOpts, deps.metrics);
    deps.metrics.watchPushes(() => this.pushes.pending);
    this.users = new LocalUsers<WS>((ws, frame) => sendCorked(ws, frame), (uid) => this.agent.userChanged(uid), deps.metrics, deps.log, this.pushes);
    const registryLog = deps.log.child({ component: 'registry' });
    this.agent = new RegistryAgent(deps.registry, this.users, { gatewayId: opts.gatewayId, heartbeatMs: opts.registryHeartbeatMs, ttlMs: opts.registryTtlMs }, deps.metrics, registryLog, () => this.loadInfo());
    this.entry = new Entry(deps.registry, { lagLimitMs: lagLimitMs(opts.admitMaxLagMs), refreshMs: opts.registryHeartbeatMs }, registryLog);
    this.closer = new Closer(opts, (ws) => this.detach(ws), deps.metrics);
    this.sweep = new Sweep(this.conns, this.closer, opts, deps.metrics);
    const load = () => ({ connections: this.conns.size, lagMs: deps.lag.recentMs(), outboundBytes: this.sweep.outboundBytes });
    this.admission = new Admission(deps.verifier, opts, load, Math.random, (uid) => this.users.count(uid));
    this.clientAddress = new ClientAddress({ trusted: parseTrustedProxies(opts.trustedProxies.join(',')), header: opts.clientIpHeader });
    deps.metrics.watchAdmission(() => ({ open: this.admission.refusal() === null, maxConnections: opts.maxConnections }));
    this.drainer = new Drain<WS>({
      connections: () => [...this.conns].filter((ws) => ws.getUserData().open),
      isOpen: (ws) => this.conns.has(ws) && ws.getUserData().open,
      refuse: (on) => (on ? this.admission.drain() : this.admission.undrain()),
      // What the rooms hold goes out before clients are moved; hot rooms stay degraded (flushAll,
      // which resets them, is for shutdown).
      flush: () => this.hub.flushNow(),
      move: (ws, reconnectMs) => this.move(ws, reconnectMs),
      changed: (phase, plan) => this.drainChanged(phase, plan),
    });
    deps.metrics.drainPhase(DrainPhase.Serving);
    this.degrader = new DegradeMonitor(this.hub, () => ({ lagMs: deps.lag.recentMs(), outboundBytes: this.sweep.outboundBytes }), opts, deps.metrics, deps.log.child({ component: 'degrade' }));
    this.routes();
  }

  /** The WebSocket route and the plain HTTP ones, on the app's current router (again for each TLS server name: tls.ts). */
  private routes(): void {
    const deps = this.deps;
    const opts = this.opts;
    this.app.ws<ConnState>('/*', {
      // uWS cuts the TCP connection above its limit without a close code; so it gets a hard cap
      // of 4x (at least room for a REFRESH with the longest token), and the configured limit is
      // enforced in message() with a documented 1009.
      maxPayloadLength: Math.max(opts.maxFrameBytes * 4, opts.maxFrameBytes + opts.maxTokenBytes + 1024),
      maxBackpressure: opts.outboundSoftLimitBytes,
      closeOnBackpressureLimit: false,
      compression: compressionOption(opts.compression, uWS),
      idleTimeout: 0, // application heartbeat (sweep.ts), so that the close code says why
      sendPingsAutomatically: false,
      upgrade: (res, req, context) => this.upgrade(res, req, context),
      open: (ws) => this.opened(ws),
      message: (ws, message, isBinary) => this.message(ws, message, isBinary),
      // send() also returns 2 for a frame dropped here: not counted again there
      dropped: (ws, message) => this.dropped(ws, message),
      drain: (ws) => this.closer.drained(ws),
      close: (ws, code) => this.closed(ws, code),
    });
    // With WEB=false too: clients in other languages ask any gateway where to connect.
    this.app.get('/entry', (res) => this.serveEntry(res));
    if (deps.web) {
      const web = deps.web;
      // After the WebSocket route: uWS yields a GET without a WebSocket key to the next route.
      const serve = (res: uWS.HttpResponse, req: uWS.HttpRequest) => this.serveWeb(web, res, req);
      this.app.get('/*', serve);
      this.app.head('/*', serve);
    }
    this.app.any('/*', (res) => {
      deps.metrics.webRequest('not_found', 426);
      res.writeStatus('426 Upgrade Required').end('danmaku gateway: connect with a WebSocket client\n');
    });
  }

  /**
   * Starts receiving this gateway's deliveries, registers it, then listens; resolves to the
   * bound port (useful with PORT=0).
   */
  async listen(): Promise<number> {
    await this.deps.bus.listen(this.opts.gatewayId, this.users);
    await this.agent.start();
    return new Promise((resolve, reject) => {
      this.app.listen(this.opts.host, this.opts.port, (socket) => {
        if (!socket) return reject(new Error(`cannot listen on ${this.opts.host}:${this.opts.port}`));
        this.listenSocket = socket;
        this.sweep.start();
        this.online.start();
        const port = uWS.us_socket_local_port(socket);
        this.publicUrl = this.opts.publicUrl ?? defaultPublicUrl(this.opts.host, port, this.tls !== null);
        this.degrader.start();
        this.tls?.start();
        // Listed by GET /entry from now on, not after the first heartbeat.
        void this.agent.announce().then(() => resolve(port));
      });
    });
  }

  private serveWeb(web: WebFiles, res: uWS.HttpResponse, req: uWS.HttpRequest): void {
    const url = req.getUrl();
    const answer = web.handle({ method: req.getMethod(), url, query: req.getQuery() ?? '', acceptEncoding: req.getHeader('accept-encoding'), ifNoneMatch: req.getHeader('if-none-match') });
    if (!answer) {
      req.setYield(true); // not ours: 426
      return;
    }
    this.deps.metrics.webRequest(web.classify(url), Number.parseInt(answer.status, 10));
    res.writeStatus(answer.status);
    for (const [name, value] of answer.headers) res.writeHeader(name, value);
    if (answer.headLength !== undefined) {
      // No body: a HEAD says the length a GET would send; a 304 says none. (uws-pack 20.0.8
      // aborts the process when endWithoutBody() is given a length: the header is written here.)
      if (answer.headLength >= 0) res.writeHeader('Content-Length', String(answer.headLength));
      res.endWithoutBody();
    } else res.end(answer.body);
  }

  /** GET /entry (entry.ts): from the cache without waiting, else after one shared registry read. */
  private serveEntry(res: uWS.HttpResponse): void {
    const now = this.entry.current();
    if (now) return this.writeEntry(res, now);
    let aborted = false;
    res.onAborted(() => (aborted = true));
    this.entry
      .answer()
      .then((answer) => {
        if (!aborted) res.cork(() => this.writeEntry(res, answer));
      })
      // answer() does not reject; writing to a response that closed with the app might throw
      .catch((err: unknown) => this.log.warn({ err }, 'GET /entry: the answer could not be written'));
  }

  private writeEntry(res: uWS.HttpResponse, answer: EntryAnswer): void {
    this.deps.metrics.entryRequest(answer.code);
    res.writeStatus(answer.status);
    for (const [name, value] of answer.headers) res.writeHeader(name, value);
    res.end(answer.body);
  }

  /**
   * This gateway's load as announced in the registry; null until it listens (no URL yet).
   * `open`: admission would admit a connection now; `draining`: clients should go elsewhere.
   */
  loadInfo(): GatewayLoad | null {
    if (this.publicUrl === null) return null;
    return {
      id: this.opts.gatewayId,
      url: this.publicUrl,
      connections: this.conns.size,
      maxConnections: this.opts.maxConnections,
      lagMs: this.deps.lag.recentMs(),
      outboundBytes: this.sweep.outboundBytes,
      // Not listed while it admits but cannot serve (NATS or Redis down): the load balancer has
      // taken it out, so it is idle and would otherwise come first.
      open: this.admission.refusal() === null && (this.deps.unhealthy?.() ?? null) === null,
      draining: this.draining,
      at: Date.now(),
    };
  }

  private upgrade(res: uWS.HttpResponse, req: uWS.HttpRequest, context: uWS.us_socket_context_t): void {
    const id = this.nextId++;
    const upgradeReq = readUpgrade(req, this.addressOf(res, req));
    const verdict = this.admission.admit(upgradeReq, id);
    if (!verdict.upgrade) {
      if (verdict.limited) this.deps.metrics.upgradeLimited(verdict.reason);
      else this.deps.metrics.upgradeRefused(verdict.reason);
      res.writeStatus(verdict.status);
      if (verdict.retryAfter !== null) res.writeHeader('Retry-After', String(verdict.retryAfter));
      res.end(verdict.body);
      return;
    }
    if (verdict.refuse === CloseCodes.UserConnections) this.deps.metrics.upgradeLimited('user_connections');
    const state = newConnState(id, verdict.identity, verdict.refuse, Date.now(), this.opts.connFrameBurst, upgradeReq.address);
    // Kept aside until open, not in every connection's state: few connections ask for it.
    if (upgradeReq.since !== '' && !verdict.identity.guest && !verdict.refuse) {
      this.pendingSince.set(id, upgradeReq.since);
      // An upgrade whose socket never opens (the client left in between) leaves its entry:
      // bounded, the oldest go first.
      if (this.pendingSince.size > PENDING_SINCE_MAX) this.pendingSince.delete(this.pendingSince.keys().next().value!);
    }
    res.upgrade(state, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
  }

  /** The client's address: the socket's peer, or what a trusted proxy's header says (client-address.ts). */
  private addressOf(res: uWS.HttpResponse, req: uWS.HttpRequest): string {
    const peer = formatAddress(new Uint8Array(res.getRemoteAddress()));
    if (!this.clientAddress.readsHeader(peer)) return peer;
    // Every line of the header, in order: uWS's getHeader() returns the first line only, and a
    // proxy that appends a line of its own (HAProxy's forwardfor) would leave the client's
    // forged line first. Lines of a list header join with ',' (RFC 9110 5.3).
    const name = this.clientAddress.header;
    const lines: string[] = [];
    req.forEach((k, v) => {
      if (k === name) lines.push(v);
    });
    // X-Real-IP names one address: more than one line means someone forged one; trust the peer.
    if (name === 'x-real-ip' && lines.length > 1) return peer;
    return this.clientAddress.resolve(peer, lines.join(','));
  }

  private opened(ws: WS): void {
    const st = ws.getUserData();
    this.deps.metrics.connectionOpened();
    this.conns.add(ws);
    if (st.refuse) {
      this.closer.close(ws, st.refuse);
      return;
    }
    const { identity } = st;
    if (!identity.guest) this.users.add(identity.uid, ws);
    ws.send(
      encodeFrame(Op.Welcome, 0, {
        uid: identity.uid,
        name: identity.name,
        guest: identity.guest,
        gateway: this.opts.gatewayId,
        heartbeat: this.opts.heartbeatIntervalMs,
        idleTimeout: this.opts.idleTimeoutMs,
        maxFrame: this.opts.maxFrameBytes,
        ...(identity.exp !== undefined ? { exp: identity.exp } : {}),
      }),
      true,
    );
    const since = this.pendingSince.get(st.id);
    if (since !== undefined) {
      this.pendingSince.delete(st.id);
      if (this.opts.inboxPushSize > 0) this.pushInbox(ws, st, since);
    }
  }

  /**
   * The inbox push after WELCOME, for a connection whose URL asks for it with `since`: the
   * entries after that cursor (the first INBOX_PUSH_SIZE of them), or with `since=latest` the
   * most recent INBOX_PUSH_SIZE, as one INBOX frame with rid 0. The client pulls the rest with
   * SYNC (docs/protocol.md, "Offline inbox and history"). Any failure is an ERROR frame with
   * rid 0 instead. Opt-in: a signed-in viewer of a live room that has no use for its inbox
   * costs no storage read when a crowd connects at the stream's start.
   */
  private pushInbox(ws: WS, st: ConnState, since: string): void {
    const latest = since === 'latest';
    if (!latest && !SINCE.test(since)) return this.sendError(ws, 0, Errors.BadField, 'since must be an inbox cursor (an integer from 0 to 2^53-1) or latest');
    const body: Record<string, number> = { limit: this.opts.inboxPushSize };
    if (!latest) body.cursor = Number(since);
    forwardSend(ws, st, Op.Sync, 0, body, 64, Date.now(), this.sendContext(ws, 0));
  }

  private message(ws: WS, message: ArrayBuffer, isBinary: boolean): void {
    const st = ws.getUserData();
    if (!st.open) return; // being closed: waiting for its buffer to take the close frame
    const now = Date.now();
    st.lastSeen = now;
    if (!isBinary) return this.closer.close(ws, CloseCodes.TextFrame);
    // A REFRESH may be longer by MAX_TOKEN_BYTES (refresh.ts)
    if (message.byteLength > this.opts.maxFrameBytes && !mayBeRefresh(new Uint8Array(message), this.opts.maxFrameBytes, this.opts.maxTokenBytes)) return this.closer.close(ws, CloseCodes.TooLarge);
    const budget = admitFrame(st, { rate: this.opts.connFrameRate, burst: this.opts.connFrameBurst, closeAfter: this.opts.floodCloseAfter }, now);
    if (budget === 'close') return this.closer.close(ws, CloseCodes.Flood);
    let rid = 0;
    try {
      const frame = decodeFrame(new Uint8Array(message)); // decoded synchronously: uWS neuters the buffer
      rid = frame.rid;
      if (budget === 'reject') throw new ProtocolError(Errors.Flood);
      this.dispatch(ws, st, frame.op, rid, frame.body, message.byteLength, now);
    } catch (err) {
      if (err instanceof FrameError && err.rid !== undefined) rid = err.rid;
      if (err instanceof ProtocolError) return this.sendError(ws, rid, err.entry, err.message);
      this.log.error({ err, conn: st.id }, 'frame handler failed');
      this.sendError(ws, rid, Errors.Internal);
    }
  }

  private dispatch(ws: WS, st: ConnState, op: number, rid: number, body: unknown, frameBytes: number, now: number): void {
    switch (op) {
      case Op.Ping:
        ws.send(encodeFrame(Op.Pong, rid, { t: now }), true);
        return;
      case Op.Join:
      case Op.Switch:
        this.deps.metrics.roomSignal(op === Op.Join ? 'join' : 'switch');
        void this.join(ws, st, rid, readJoin(body));
        return;
      case Op.Leave: {
        this.deps.metrics.roomSignal('leave');
        const left = this.leaveRoom(ws, st);
        ws.send(encodeFrame(Op.Left, rid, { room: left }), true);
        return;
      }
      case Op.Send:
      case Op.Msg:
      case Op.Sync:
      case Op.History:
      case Op.Contacts:
      case Op.Read:
        forwardSend(ws, st, op, rid, body, frameBytes, now, this.sendContext(ws, rid));
        return;
      case Op.Moderate:
        // Refused here without a round trip; the logic service checks the roles again (any NATS
        // client can send it requests).
        if (st.identity.guest || !st.identity.roles.some((r) => r === 'moderator' || r === 'admin')) throw new ProtocolError(Errors.Forbidden, 'MODERATE needs the role moderator or admin');
        forwardSend(ws, st, op, rid, body, frameBytes, now, this.sendContext(ws, rid));
        return;
      case Op.Received:
        this.pushes.received(ws, receivedIds(body)); // no reply: a lost RECEIVED costs a resend
        return;
      case Op.Refresh:
        return this.refresh(ws, st, rid, body);
      default:
        throw new ProtocolError(Errors.UnknownOp, `op ${op}`);
    }
  }

  /** REFRESH: the connection's identity is replaced by the new token's, or ERROR 23 and it stays (refresh.ts). */
  private refresh(ws: WS, st: ConnState, rid: number, body: unknown): void {
    chargeFrames(st, REFRESH_EXTRA_FRAMES);
    const outcome = refreshIdentity(body, st.identity, this.deps.verifier, this.opts.maxTokenBytes);
    this.deps.metrics.tokenRefreshed(outcome.result);
    if (outcome.result !== 'ok') throw outcome.error;
    st.identity = outcome.identity;
    ws.send(encodeFrame(Op.Refreshed, rid, refreshedBody(outcome.identity)), true);
  }

  private sendContext(ws: WS, rid: number): SendContext {
    return { upstream: this.upstream, metrics: this.deps.metrics, log: this.log, failures: this.upstreamFailures, sendError: (e, d, r) => this.sendError(ws, rid, e, d, r) };
  }

  /**
   * Join and switch: leave the current room first, so nothing of it arrives after the reply.
   * A join overtaken by a later JOIN, SWITCH or LEAVE while it waited gets ERROR 15.
   */
  private async join(ws: WS, st: ConnState, rid: number, req: JoinRequest): Promise<void> {
    const ban = st.identity.guest ? null : (this.deps.bans?.banned(st.identity.uid, req.room) ?? null);
    if (ban) {
      // Banned from the room it is in (a resume JOIN after a missed eviction): it leaves it.
      if (st.room?.id === req.room) this.leaveRoom(ws, st);
      return this.sendError(ws, rid, Errors.Banned, req.room, ban.until === undefined ? undefined : Math.max(1, ban.until - Date.now()));
    }
    const current = st.room?.id === req.room ? st.room : null;
    if (current) {
      // Every request takes a generation, the same room's too, before anything is awaited:
      // a resume waiting on its epoch check is overtaken by any later JOIN, SWITCH or LEAVE
      // (A, then B, then A again: the first A is answered ERROR 15, not JOINED).
      const gen = ++st.gen;
      const check = req.resume ? this.hub.confirmEpoch(current) : null;
      if (check) {
        await check;
        if (!st.open || st.gen !== gen || st.room !== current) return this.superseded(ws, st, rid);
      }
      ws.cork(() => this.sendJoined(ws, st, current, rid, req));
      return;
    }
    this.leaveRoom(ws, st);
    const gen = st.gen;
    let room: LocalRoom;
    try {
      room = await this.hub.acquire(req.room);
    } catch (err) {
      this.joinFailures.failed(err, { room: req.room });
      if (st.gen !== gen) return this.superseded(ws, st, rid);
      if (st.open) ws.cork(() => this.sendError(ws, rid, Errors.Unavailable, 'room subscription failed'));
      return;
    }
    this.joinFailures.succeeded();
    const check = req.resume ? this.hub.confirmEpoch(room) : null;
    if (check) await check;
    if (!st.open || st.gen !== gen) {
      this.hub.abandon(room);
      return this.superseded(ws, st, rid);
    }
    // A ban that came while the room was being subscribed found no member to evict.
    const banned = st.identity.guest ? null : (this.deps.bans?.banned(st.identity.uid, req.room) ?? null);
    if (banned) {
      this.hub.abandon(room);
      ws.cork(() => this.sendError(ws, rid, Errors.Banned, req.room, banned.until === undefined ? undefined : Math.max(1, banned.until - Date.now())));
      return;
    }
    this.hub.join(room);
    st.room = room;
    ws.cork(() => {
      ws.subscribe(room.topic);
      this.sendJoined(ws, st, room, rid, req);
    });
  }

  /**
   * The JOINED reply (the caller corks). A resume's replay can be a thousand items (about 100 times a plain
   * JOINED's work and bytes): it takes one more frame-budget token per RESUME_ITEMS_PER_TOKEN
   * items, so that a client cannot ask for it at its frame rate.
   */
  private sendJoined(ws: WS, st: ConnState, room: LocalRoom, rid: number, req: JoinRequest): void {
    const reply = this.hub.joinedReply(room, rid, req.resume);
    ws.send(reply.frame, true, worthCompressing(reply.frame));
    chargeFrames(st, Math.floor(reply.replayed / RESUME_ITEMS_PER_TOKEN));
  }

  /** ERROR 15 for a join that a later JOIN, SWITCH or LEAVE overtook (nothing if the connection closed). */
  private superseded(ws: WS, st: ConnState, rid: number): void {
    if (st.open) ws.cork(() => this.sendError(ws, rid, Errors.Superseded));
  }

  /**
   * uWS's dropped callback: a frame not queued for `ws` because its buffer is over the limit.
   * A never-shed item must not be lost silently: the connection is closed with 4002 and the
   * client resumes the room with `since`, which gives it the item from the window. The close
   * waits for uWS's write to finish (this runs inside it for published frames).
   */
  private dropped(ws: WS, message: ArrayBuffer): void {
    const st = ws.getUserData();
    if (!st.room) return this.deps.metrics.frameDropped('backpressure');
    const lost = this.hub.framesDropped(st.room, message);
    if (lost.keep === 0 || !st.open || this.keepLosers.has(ws)) return;
    this.keepLosers.add(ws);
    if (this.keepLosers.size === 1) setImmediate(() => this.closeKeepLosers());
  }

  private closeKeepLosers(): void {
    for (const ws of this.keepLosers) {
      // A connection that closed meanwhile is gone from conns (and must not be touched).
      if (this.conns.has(ws)) this.closer.close(ws, CloseCodes.SlowConsumer);
    }
    this.keepLosers.clear();
  }

  /**
   * A ban came into force: every connection of the user here that is in the room leaves it,
   * told with LEFT rid 0 {room, reason: "banned", until?} (docs/protocol.md).
   */
  private evict(r: Restriction): void {
    for (const ws of this.users.connections(r.uid)) {
      const st = ws.getUserData();
      if (!st.open || st.room?.id !== r.room) continue;
      this.leaveRoom(ws, st);
      const body: Record<string, unknown> = { room: r.room, reason: 'banned' };
      if (r.until !== undefined) body.until = r.until;
      sendCorked(ws, encodeFrame(Op.Left, 0, body));
    }
  }

  private leaveRoom(ws: WS | null, st: ConnState): string | null {
    st.gen++;
    const room = st.room;
    if (!room) return null;
    st.room = null;
    if (ws) ws.unsubscribe(room.topic);
    this.hub.leave(room);
    return room.id;
  }

  /** Out of its room and its user's connections: nothing more is sent to it. */
  private detach(ws: WS): void {
    const st = ws.getUserData();
    if (!st.identity.guest && !st.refuse) this.users.remove(st.identity.uid, ws);
    this.pushes.drop(ws);
    this.leaveRoom(ws, st);
  }

  private closed(ws: WS, code: number): void {
    const st = ws.getUserData();
    st.open = false;
    this.conns.delete(ws);
    this.admission.released(st.address);
    if (!st.identity.guest && !st.refuse) this.users.remove(st.identity.uid, ws);
    this.pushes.drop(ws);
    this.leaveRoom(null, st); // uWS drops a closed socket's topics itself
    this.deps.metrics.connectionClosed(st.closeReason ?? (code === 1000 || code === 1001 ? 'client' : 'abnormal'));
  }

  /**
   * Room frames: BATCH, a new epoch's JOINED and ONLINE. With COMPRESSION=shared, uWS deflates
   * a long one for each subscriber that negotiated the extension (compression.ts); ONLINE is
   * too short to be worth it.
   */
  private publish(topic: string, data: Uint8Array): number {
    const n = this.app.numSubscribers(topic);
    if (n > 0) this.app.publish(topic, data, true, worthCompressing(data));
    return n;
  }

  /** `retryMs`: the retry hint of ERROR 32 `overloaded` */
  private sendError(ws: WS, rid: number, entry: ErrorEntry, message?: string, retryMs?: number): void {
    this.deps.metrics.clientError(entry.reason);
    if (!ws.getUserData().open) return;
    const body: Record<string, unknown> = { code: entry.code, reason: entry.reason, message: message ?? entry.message };
    if (retryMs !== undefined) body.retryMs = retryMs;
    ws.send(encodeFrame(Op.Error, rid, body), true);
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  /** Whether it accepts connections: from listen() until shutdown() closes the socket. */
  get listening(): boolean {
    return this.listenSocket !== null;
  }

  /** The degradation level (0 to 3) of this gateway's hot rooms (degrade.ts). */
  get degradeLevel(): number {
    return this.degrader.level;
  }

  /**
   * A full drain is under way or done (from its first instant: readiness says `draining`), or
   * the gateway is shutting down: it wants no new clients. Admission may still admit them, in
   * the not-ready window (drain.ts).
   */
  get draining(): boolean {
    return this.drainer.full || this.stopped;
  }

  get drainPhase(): DrainPhase {
    return this.drainer.phase;
  }

  get drainPlan(): DrainPlan | null {
    return this.drainer.plan;
  }

  drainProgress(): { moved: number; left: number } {
    return this.drainer.progress();
  }

  /** The admin API's drain (drain-api.ts): the plan, or why it cannot start. */
  drain(share: number, windowMs: number, notReadyMs: number): DrainPlan | string {
    if (this.exiting || this.stopped) return 'the gateway is shutting down';
    if (this.drainer.running) return `a drain is running (${PHASE_NAMES[this.drainer.phase]}): wait for it, or undrain`;
    if (this.drainer.phase === DrainPhase.Drained) return 'drained: undrain first';
    return this.drainer.start({ share, windowMs, notReadyMs, by: 'admin' }).plan;
  }

  /** The admin API's undrain: a drain of its own stops, upgrades are admitted, the gateway is ready again. */
  undrain(): string | null {
    if (this.exiting || this.stopped) return 'the gateway is shutting down';
    this.drainer.undrain();
    return null;
  }

  /**
   * SIGTERM's drain: not ready for `notReadyMs` (none when nobody is connected), then every
   * client moved over `windowMs`; resolves once the last was told to go. It takes over a drain
   * of the admin API. shutdown() follows.
   */
  drainForExit(notReadyMs: number, windowMs: number): Promise<void> {
    this.exiting = true;
    return this.drainer.start({ share: 1, windowMs, notReadyMs, by: 'signal' }).done;
  }

  /** A second signal: what remains of the drain's windows is skipped. */
  hurry(): void {
    this.drainer.hurry();
  }

  /** GOAWAY, then close 1012 once the buffer takes the close frame (close.ts). */
  private move(ws: WS, reconnectMs: number): void {
    this.deps.metrics.drainMovedOne();
    this.closer.close(ws, CloseCodes.Draining, Date.now(), encodeFrame(Op.GoAway, 0, { reconnectMs, reason: 'draining' }));
  }

  private drainChanged(phase: DrainPhase, plan: DrainPlan): void {
    this.deps.metrics.drainPhase(phase);
    const fields = { drain: PHASE_NAMES[phase], connections: this.conns.size, plan };
    if (phase === DrainPhase.NotReady) this.log.info(fields, 'draining: not ready, still serving and admitting');
    else if (phase === DrainPhase.Moving) this.log.info(fields, 'draining: moving connections');
    else if (phase === DrainPhase.Drained) this.log.info(fields, 'drained: refusing new connections');
    else this.log.info(fields, 'drain over: serving');
    // GET /entry stops listing a draining gateway now, not at its next heartbeat (and lists it again after undrain).
    void this.agent.announce();
  }

  /**
   * Graceful shutdown, after the drain: stop accepting, flush pending batches, close with 1012
   * whatever the drain did not move, and wait at most `timeoutMs` for the close frames that
   * wait for a full buffer to drain.
   */
  async shutdown(timeoutMs: number): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.drainer.stop(); // its timers, if any
    this.admission.drain();
    if (this.listenSocket) uWS.us_listen_socket_close(this.listenSocket);
    this.listenSocket = null;
    this.online.stop();
    this.degrader.stop();
    this.hub.flushAll();
    for (const ws of [...this.conns]) this.closer.close(ws, CloseCodes.Restart);
    // What is left waits for its outbound buffer to take the close frame (close.ts).
    const deadline = Date.now() + timeoutMs;
    while (this.conns.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.sweep.stop();
    this.tls?.stop();
    if (this.conns.size > 0) this.log.warn({ left: this.conns.size }, 'connections whose buffers did not drain in time are dropped without a close frame');
    for (const ws of [...this.conns]) this.closer.abort(ws);
    this.app.close();
    await this.agent.stop();
  }
}
