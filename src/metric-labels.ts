// Every value a labelled metric can carry, in one place. metrics.ts starts the listed values at
// zero (so rate() sees the first event), the emitters' parameters are typed by them where the
// value is a literal, and test/unit/docs.test.ts checks that docs/metrics.md lists exactly
// these values: a dashboard or an alert written from the docs matches what the code emits.

import { CloseCodes, Errors } from './protocol/errors.js';
import { KINDS } from './protocol/kinds.js';

/** A connection the server had to cut without a close frame (gateway/close.ts). */
export const ABORTED = 'aborted';

const ERROR_REASONS = Object.values(Errors).map((e) => e.reason);
const SERVER_CLOSE_REASONS = Object.values(CloseCodes)
  .filter((c) => c !== CloseCodes.Normal)
  .map((c) => c.reason);

export const DROP_REASONS = ['shed', 'bad_item', 'bad_item_kind', 'bad_item_field', 'bad_item_seq', 'bad_delivery', 'never_shed_dropped', 'duplicate', 'degraded'] as const;
export type DropReason = (typeof DROP_REASONS)[number];
export const FRAME_DROP_REASONS = ['backpressure'] as const;
export type FrameDropReason = (typeof FRAME_DROP_REASONS)[number];
export const ROOM_SIGNALS = ['join', 'switch', 'leave'] as const;
/** What a JOIN or SWITCH with `since` got (docs/protocol.md, "Resuming a room"). */
export const ROOM_RECOVERIES = ['recovered', 'kept', 'partial', 'epoch_changed', 'unavailable'] as const;
export type RoomRecovery = (typeof ROOM_RECOVERIES)[number];
export const LOGIC_OPS = ['send', 'msg', 'read'] as const;
export const SHED_WHERE = ['gateway', 'logic', 'queue'] as const;
export const CHAT_READS = ['sync', 'history', 'contacts', 'read'] as const;
export type ChatReadOp = (typeof CHAT_READS)[number];
export const STORE_WRITES = ['applied', 'skipped', 'inbox', 'evicted'] as const;
export type StoreWrite = (typeof STORE_WRITES)[number];
export type ShedWhere = (typeof SHED_WHERE)[number];
export const SUBJECT_KINDS = ['room', 'node', 'request', 'control'] as const;
export type SubjectKind = (typeof SUBJECT_KINDS)[number];
/** NATS connection events, and a throw inside a bus callback (caught and logged). */
export const BUS_EVENTS = ['disconnect', 'reconnect', 'error', 'slowConsumer', 'staleConnection', 'ldm', 'handler_error'] as const;
export type BusEvent = (typeof BUS_EVENTS)[number];
export const REDIS_OPS = ['history', 'sequence', 'presence', 'intake', 'groups', 'registry', 'chat', 'moderation'] as const;
export type RedisOp = (typeof REDIS_OPS)[number];
/** A round of waiting for Redis replicas (src/redis/replica-wait.ts): enough confirmed; too few within the timeout; Redis refused or did not answer. */
export const REPLICA_WAIT_RESULTS = ['confirmed', 'short', 'failed'] as const;
export type ReplicaWaitResult = (typeof REPLICA_WAIT_RESULTS)[number];
/** Why a tracked push was given up on (gateway/pushes.ts): its message is in the inbox either way. */
export const PUSH_GIVE_UPS = ['unacked', 'overflow', 'closed'] as const;
export type PushGiveUp = (typeof PUSH_GIVE_UPS)[number];
export const FALLBACK_OPS = ['sequence', 'intake'] as const;
export type FallbackOp = (typeof FALLBACK_OPS)[number];
/** Errors the logic service answers with (the gateway-only ones never reach it). */
const LOGIC_RESULTS = ['accepted', 'duplicate', ...[Errors.BadFrame, Errors.UnknownOp, Errors.InvalidRoom, Errors.BadField, Errors.Forbidden, Errors.NotMember, Errors.OutOfRetention, Errors.RateLimited, Errors.Unavailable, Errors.Internal, Errors.Overloaded, Errors.Muted, Errors.Banned, Errors.ContentRejected, Errors.HeldForReview].map((e) => e.reason)];
/** The moderation routes of the admin API (src/logic/moderation-api.ts). */
const MODERATION_ROUTES = ['mute_set', 'mute_delete', 'mute_list', 'ban_set', 'ban_delete', 'ban_list', 'wordlist_put', 'wordlist_delete', 'wordlist_list', 'held_list', 'held_approve', 'held_reject'] as const;
/** What the word filter decided for a text (src/logic/moderation.ts). */
export const FILTER_VERDICTS = ['pass', 'reject', 'mask', 'hold'] as const;
export type FilterVerdictLabel = (typeof FILTER_VERDICTS)[number];
export const FILTER_RELOADS = ['ok', 'failed'] as const;
export const MODERATION_ACTIONS = ['mute', 'unmute', 'ban', 'unban', 'approve', 'reject'] as const;
export type ModerationActionLabel = (typeof MODERATION_ACTIONS)[number];
export const MODERATION_SOURCES = ['admin', 'moderator', 'auto'] as const;
export type ModerationSource = (typeof MODERATION_SOURCES)[number];
/** The admin API's routes, and the backend API's NATS endpoints (`nats_`: the same handlers over NATS). */
export const ADMIN_ROUTES = ['group_create', 'group_delete', 'group_members', 'group_update', 'user_notice', 'room_item', 'group_history', 'direct_history', 'user_inbox', 'user_contacts', 'nats_room_item', 'nats_user_notice', ...MODERATION_ROUTES, 'gateway_drain', 'gateway_drain_state', 'gateway_undrain', 'unknown'] as const;
export type AdminRoute = (typeof ADMIN_ROUTES)[number];
/** The gateway's plain HTTP answers (src/gateway/web.ts): what was asked for, and the status. */
export const WEB_CLASSES = ['sdk', 'demo', 'token', 'not_found'] as const;
export type WebClass = (typeof WEB_CLASSES)[number];
/** Why an upgrade was answered HTTP 503 (gateway/admission.ts). */
export const UPGRADE_REFUSALS = ['draining', 'capacity', 'lag', 'outbound'] as const;
export type UpgradeRefusal = (typeof UPGRADE_REFUSALS)[number];
/**
 * Why a client was refused by a per-client limit (gateway/admission.ts): HTTP 403 (origin), 429
 * (ip_connections, ip_rate), or close 4505 right after open (user_connections).
 */
export const UPGRADE_LIMITS = ['origin', 'ip_connections', 'ip_rate', 'user_connections'] as const;
export type UpgradeLimit = (typeof UPGRADE_LIMITS)[number];
/** A TLS certificate reload (gateway/tls.ts): applied, or the new files were refused (the old pair stays). */
export const TLS_RELOAD_RESULTS = ['ok', 'failed'] as const;
export type TlsReloadResult = (typeof TLS_RELOAD_RESULTS)[number];
/** REFRESH outcomes (gateway/refresh.ts) */
export const TOKEN_REFRESH_RESULTS = ['ok', 'invalid', 'expired', 'other_user'] as const;
export type TokenRefreshResult = (typeof TOKEN_REFRESH_RESULTS)[number];
/** Adaptive degradation (gateway/degrade.ts): a level step's direction, and the signal that raised it ('none': a step down). */
export const DEGRADE_DIRECTIONS = ['up', 'down'] as const;
export const DEGRADE_SIGNALS = ['lag', 'outbound', 'cpu', 'none'] as const;
export type DegradeSignal = (typeof DEGRADE_SIGNALS)[number];
export const WEB_STATUSES = [200, 304, 400, 404, 426] as const;
/** GET /entry's answers (gateway/entry.ts): the list, or 503 when the registry could not be read. */
export const ENTRY_STATUSES = [200, 503] as const;
export type EntryStatus = (typeof ENTRY_STATUSES)[number];
export const ADMIN_STATUSES = [200, 201, 202, 400, 401, 404, 405, 409, 410, 413, 500, 503] as const;

export const LABEL_VALUES: Readonly<Record<string, Readonly<Record<string, readonly (string | number)[]>>>> = {
  danmaku_connections_closed_total: { reason: ['client', 'abnormal', ABORTED, ...SERVER_CLOSE_REASONS] },
  danmaku_room_signals_total: { signal: ROOM_SIGNALS },
  danmaku_room_recoveries_total: { result: ROOM_RECOVERIES },
  danmaku_upstream_messages_total: { kind: [...KINDS.map((k) => k.name), 'group', 'direct', ...CHAT_READS, 'moderate', 'unknown'], result: LOGIC_RESULTS },
  danmaku_dropped_total: { reason: DROP_REASONS },
  danmaku_dropped_frames_total: { reason: FRAME_DROP_REASONS },
  danmaku_errors_total: { reason: [...ERROR_REASONS, ...SERVER_CLOSE_REASONS] },
  danmaku_push_given_up_total: { reason: PUSH_GIVE_UPS },
  danmaku_logic_request_seconds: { op: LOGIC_OPS },
  danmaku_upstream_shed_total: { where: SHED_WHERE },
  danmaku_bus_published_total: { kind: SUBJECT_KINDS },
  danmaku_bus_received_total: { kind: SUBJECT_KINDS },
  danmaku_bus_events_total: { event: BUS_EVENTS },
  danmaku_redis_operation_seconds: { op: REDIS_OPS },
  danmaku_redis_errors_total: { op: REDIS_OPS },
  danmaku_redis_replica_wait_seconds: { result: REPLICA_WAIT_RESULTS },
  danmaku_store_fallbacks_total: { op: FALLBACK_OPS },
  danmaku_admin_requests_total: { route: ADMIN_ROUTES, status: ADMIN_STATUSES },
  danmaku_chat_read_seconds: { op: CHAT_READS },
  danmaku_web_requests_total: { class: WEB_CLASSES, status: WEB_STATUSES },
  danmaku_store_writes_total: { kind: STORE_WRITES },
  danmaku_inbox_sync_bytes_total: { encoding: ['msgpack', 'gzip'] },
  danmaku_upgrades_refused_total: { reason: UPGRADE_REFUSALS },
  danmaku_upgrades_limited_total: { reason: UPGRADE_LIMITS },
  danmaku_tls_reloads_total: { result: TLS_RELOAD_RESULTS },
  danmaku_token_refreshes_total: { result: TOKEN_REFRESH_RESULTS },
  danmaku_entry_requests_total: { status: ENTRY_STATUSES },
  danmaku_degrade_steps_total: { direction: DEGRADE_DIRECTIONS, signal: DEGRADE_SIGNALS },
  danmaku_filter_verdicts_total: { action: FILTER_VERDICTS },
  danmaku_filter_reloads_total: { result: FILTER_RELOADS },
  danmaku_moderation_actions_total: { action: MODERATION_ACTIONS, source: MODERATION_SOURCES },
};
