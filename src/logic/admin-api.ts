// The admin HTTP API of the logic role, for a site's backend: manage chat groups, post room
// items and server notices (the backend API, backend-api.ts, which NATS requests reach too),
// and read what is stored (a conversation's history, a user's inbox and
// contacts: moderation and support). Its routes are served by src/admin-http.ts (the secret,
// JSON, statuses) with the gateway's; docs/cluster.md, "Admin API".

import { HttpError, type Json, type RouteDef, type RouteSet } from '../admin-http.js';
import { BusTimeoutError, BusUnavailableError } from '../bus/index.js';
import { FailureLog } from '../failure-log.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { GROUP_ID, UID } from '../protocol/ops.js';
import { GroupFullError, type Groups } from '../store/groups/index.js';
import { scopes } from '../store/sequence/index.js';
import { decode } from '../protocol/codec.js';
import { OutOfRetentionError, type ChatStore } from '../store/chat/index.js';
import type { ApiAnswer, BackendApi } from './backend-api.js';
import { refOf } from './chat-reads.js';
import { HISTORY_PAGE_MAX, SYNC_PAGE_MAX, CONTACTS_PAGE_MAX } from './validate.js';
import { ProtocolError } from '../protocol/errors.js';

const MAX_UIDS = 10_000;

export interface AdminApiOptions {
  readonly groupMaxMembers: number;
}

export interface AdminApiDeps {
  readonly groups: Groups;
  /** room items and notices (one implementation for HTTP and NATS) */
  readonly backend: BackendApi;
  readonly store: ChatStore;
  /** the big groups of a user, as conversation scopes (ChatReads.bigGroupsOf) */
  readonly bigGroupsOf: (uid: string) => Promise<string[]>;
  /** a group's members changed here: this process's logic forgets its cached list */
  readonly groupChanged: (id: string) => void;
  readonly metrics: Metrics;
  readonly log: Logger;
}

export class AdminApi implements RouteSet {
  readonly routes: readonly RouteDef[];
  private readonly failures: FailureLog;

  constructor(
    private readonly opts: AdminApiOptions,
    private readonly deps: AdminApiDeps,
  ) {
    this.failures = new FailureLog(deps.log, 'admin API storage');
    this.routes = [
      ['PUT', /^\/api\/groups\/([^/]+)$/, 'group_create', (p, b) => this.createGroup(p[0]!, b)],
      ['DELETE', /^\/api\/groups\/([^/]+)$/, 'group_delete', (p) => this.deleteGroup(p[0]!)],
      ['GET', /^\/api\/groups\/([^/]+)\/members$/, 'group_members', (p) => this.members(p[0]!)],
      ['POST', /^\/api\/groups\/([^/]+)\/members$/, 'group_update', (p, b) => this.updateMembers(p[0]!, b)],
      ['POST', /^\/api\/users\/([^/]+)\/notices$/, 'user_notice', (p, b) => answer(deps.backend.notice(p[0]!, b))],
      ['POST', /^\/api\/rooms\/([^/]+)\/items$/, 'room_item', (p, b) => answer(deps.backend.roomItem(p[0]!, b))],
      ['GET', /^\/api\/groups\/([^/]+)\/history$/, 'group_history', (p, _b, q) => this.history(scopes.group(groupId(p[0]!)), q)],
      ['GET', /^\/api\/users\/([^/]+)\/direct\/([^/]+)\/history$/, 'direct_history', (p, _b, q) => this.history(scopes.direct(uid(p[0]!), uid(p[1]!)), q)],
      ['GET', /^\/api\/users\/([^/]+)\/inbox$/, 'user_inbox', (p, _b, q) => this.inbox(uid(p[0]!), q)],
      ['GET', /^\/api\/users\/([^/]+)\/contacts$/, 'user_contacts', (p, _b, q) => this.contacts(uid(p[0]!), q)],
    ];
  }

  /** The answer to a failure of one of these routes (src/admin-http.ts). */
  failed(err: unknown, path: string): [number, Json] {
    if (err instanceof GroupFullError) return [409, { error: err.message }];
    if (err instanceof ProtocolError) return [400, { error: err.message }];
    if (err instanceof OutOfRetentionError) return [410, { error: `past retention: ${err.message}` }];
    if (err instanceof RangeError) return [400, { error: err.message }];
    this.failures.failed(err, { path });
    if (err instanceof BusUnavailableError) return [503, { error: 'message bus unavailable: nothing was sent; retry' }];
    if (err instanceof BusTimeoutError) return [503, { error: 'message bus did not confirm: it may or may not arrive; retry' }];
    return [503, { error: 'storage unavailable; retry' }];
  }

  succeeded(): void {
    this.failures.succeeded();
  }

  private async createGroup(id: string, body: Json): Promise<[number, Json]> {
    groupId(id);
    const members = body.members === undefined ? [] : uids(body.members, 'members');
    if (new Set(members).size > this.opts.groupMaxMembers) throw new HttpError(409, `more than ${this.opts.groupMaxMembers} members; nothing created`);
    const created = await this.deps.groups.create(id);
    // The chat store first (read positions of the new members), the group after: a failure
    // in between answers 503, and the retry redoes both.
    const joined = members.length > 0 ? newMembers(members, await this.deps.groups.members(id)) : [];
    if (joined.length > 0) await this.deps.store.membership(scopes.group(id), joined, [], Date.now());
    const added = members.length > 0 ? await this.deps.groups.add(id, members, this.opts.groupMaxMembers) : 0;
    this.deps.groupChanged(id);
    return [created ? 201 : 200, { group: id, created, added }];
  }

  private async deleteGroup(id: string): Promise<[number, Json]> {
    groupId(id);
    const members = await this.deps.groups.members(id);
    if (!members) throw new HttpError(404, `no group ${id}`);
    // Its history stays (until retention) for the admin API; it leaves the members' contacts,
    // before the group goes (a failure in between: 503, and the retry redoes both).
    if (members.length > 0) await this.deps.store.membership(scopes.group(id), [], members, Date.now());
    const deleted = await this.deps.groups.delete(id);
    this.deps.groupChanged(id);
    if (!deleted) throw new HttpError(404, `no group ${id}`);
    return [200, { group: id, deleted: true }];
  }

  private async members(id: string): Promise<[number, Json]> {
    groupId(id);
    const members = await this.deps.groups.members(id);
    if (!members) throw new HttpError(404, `no group ${id}`);
    return [200, { group: id, members: members.sort() }];
  }

  private async updateMembers(id: string, body: Json): Promise<[number, Json]> {
    groupId(id);
    const add = body.add === undefined ? [] : uids(body.add, 'add');
    const remove = body.remove === undefined ? [] : uids(body.remove, 'remove');
    const { groups } = this.deps;
    const before = await groups.members(id);
    if (before === null) throw new HttpError(404, `no group ${id}`);
    // The chat store first: new members' read positions, former members out of contacts (a
    // uid both added and removed ends up removed: it leaves). A failure answers 503 before the
    // group changed, and the retry redoes it all.
    const left = new Set(remove);
    const joined = newMembers(add, before).filter((u) => !left.has(u));
    if (joined.length > 0 || left.size > 0) await this.deps.store.membership(scopes.group(id), joined, [...left], Date.now());
    // Additions first: if they would pass the cap (409), the group has not changed.
    const added = add.length > 0 ? await groups.add(id, add, this.opts.groupMaxMembers) : 0;
    const removed = added === null ? null : remove.length > 0 ? await groups.remove(id, remove) : 0;
    this.deps.groupChanged(id);
    if (removed === null || added === null) throw new HttpError(404, `no group ${id}`);
    return [200, { group: id, added, removed }];
  }

  /** A conversation's history, newest first, `limit` (<= 100) below `before`; `next` pages on. */
  private async history(scope: string, q: URLSearchParams): Promise<[number, Json]> {
    const before = queryInt(q, 'before', 1);
    const limit = queryInt(q, 'limit', 1, ADMIN_PAGE_MAX) ?? HISTORY_PAGE_MAX;
    const page = await this.deps.store.history(scope, before, limit, Date.now());
    const messages = page.items.map((m) => decode(m) as Json);
    const last = messages.at(-1);
    return [200, { conversation: scope, messages, more: page.more, trimmed: page.trimmed, next: page.more && last ? last.s : null }];
  }

  /** A user's inbox from `cursor` (default: the oldest retained entry), oldest first. */
  private async inbox(user: string, q: URLSearchParams): Promise<[number, Json]> {
    const cursor = queryInt(q, 'cursor', 0) ?? 0;
    const limit = queryInt(q, 'limit', 1, SYNC_PAGE_MAX) ?? SYNC_PAGE_MAX;
    const page = await this.deps.store.inbox(user, { after: cursor }, limit, Date.now());
    return [200, { uid: user, entries: page.items.map((i) => ({ v: i.v, message: decode(i.m) as Json })), cursor: page.cursor, more: page.more }];
  }

  private async contacts(user: string, q: URLSearchParams): Promise<[number, Json]> {
    const limit = queryInt(q, 'limit', 1, CONTACTS_PAGE_MAX) ?? CONTACTS_PAGE_MAX;
    const { contacts, total } = await this.deps.store.contacts(user, limit, await this.deps.bigGroupsOf(user), Date.now());
    return [200, { uid: user, total, contacts: contacts.map((c) => ({ ...refOf(user, c.c), t: c.t, unread: c.unread, read: c.read, last: c.last ? (decode(c.last) as Json) : null })) }];
  }
}

/** A backend API answer as a route's. */
async function answer(a: Promise<ApiAnswer>): Promise<[number, Json]> {
  const { status, body } = await a;
  return [status, body];
}

/**
 * The uids of `requested` that were not members `before` (an add is idempotent: an existing
 * member's read position must not move).
 */
function newMembers(requested: readonly string[], before: readonly string[] | null): string[] {
  const had = new Set(before ?? []);
  return [...new Set(requested)].filter((u) => !had.has(u));
}

/** Messages per page of the admin history reads at most. */
const ADMIN_PAGE_MAX = 100;

/** An optional integer query parameter in [min, max]. */
function queryInt(q: URLSearchParams, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = q.get(name);
  if (raw === null) return undefined;
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) throw new HttpError(400, `${name} must be an integer from ${min} to ${max}`);
  return n;
}

function uid(v: string): string {
  if (!UID.test(v)) throw new HttpError(400, `uid must match ${UID}`);
  return v;
}

function groupId(id: string): string {
  if (!GROUP_ID.test(id)) throw new HttpError(400, `group id must match ${GROUP_ID}`);
  return id;
}

function uids(v: unknown, field: string): string[] {
  if (!Array.isArray(v) || v.length > MAX_UIDS || !v.every((u) => typeof u === 'string' && UID.test(u))) {
    throw new HttpError(400, `${field} must be an array of at most ${MAX_UIDS} uids matching ${UID}`);
  }
  return v as string[];
}
