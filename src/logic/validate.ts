// Validation of upstream SEND and MSG bodies, driven by the kinds table (protocol/kinds.ts).
// Returns the fields of the room item, or throws ProtocolError with the catalogue entry that
// the sender will see.

import { Errors, ProtocolError } from '../protocol/errors.js';
import type { RoomItem } from '../protocol/items.js';
import { fieldProblem, kindFields, KINDS, kindOf, type FieldSpec, type KindSpec } from '../protocol/kinds.js';
import { GROUP_ID, UID } from '../protocol/ops.js';
import { textProblem } from '../protocol/text.js';

export interface SendLimits {
  readonly maxTextLength: number;
}

export type ItemFields = Omit<RoomItem, 's' | 'u' | 'n' | 't'>;

export interface ValidSend {
  readonly kind: KindSpec;
  readonly fields: ItemFields;
  /** client message id, for de-duplication of retries */
  readonly cmid: string | undefined;
}

const CMID = /^[\x21-\x7e]{1,64}$/;
const KIND_LIST = KINDS.map((k) => `${k.id} (${k.name})`).join(', ');

function bad(detail: string): never {
  throw new ProtocolError(Errors.BadField, detail);
}

/** A message text: trimmed, then checked by the text rules (protocol/text.ts). */
export function text(v: unknown, field: string, max: number): string {
  if (typeof v !== 'string') bad(`${field} must be a string`);
  const trimmed = v.trim();
  const problem = textProblem(trimmed, max);
  if (problem) bad(`${field} ${problem}`);
  return trimmed;
}

/**
 * One field of a kind: its value (texts trimmed), its default, or undefined when it is
 * optional and absent. The rule itself is the kinds table's (fieldProblem).
 */
function field(spec: FieldSpec, v: unknown, name: string, limits: SendLimits): string | number | undefined {
  if (v === undefined) {
    if (spec.type === 'int') return spec.default;
    if (spec.required) bad(`${name} is required`);
    return undefined;
  }
  const value = spec.type === 'text' && typeof v === 'string' ? v.trim() : v;
  const problem = fieldProblem(spec, value, limits.maxTextLength);
  if (problem) bad(`${name} ${problem}`);
  return typeof value === 'number' ? value + 0 : (value as string);
}

function map(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || body instanceof Uint8Array) bad('body must be a map');
  return body as Record<string, unknown>;
}

function clientId(b: Record<string, unknown>): string | undefined {
  if (b.id === undefined) return undefined;
  if (typeof b.id !== 'string' || !CMID.test(b.id)) bad('id must be 1-64 printable ASCII characters');
  return b.id;
}

/** A MSG body: text to a group (`g`) or to one user (`to`). */
export interface ValidMessage {
  readonly target: ConversationRef;
  readonly x: string;
  readonly cmid: string | undefined;
}

export function validateMessage(body: unknown, limits: SendLimits): ValidMessage {
  const b = map(body);
  const cmid = clientId(b);
  return { target: conversation(b), x: text(b.x, 'x', limits.maxTextLength * 5), cmid };
}

export function validateSend(body: unknown, limits: SendLimits): ValidSend {
  const b = map(body);
  const cmid = clientId(b);
  const kind = kindOf(Number.isInteger(b.k) ? (b.k as number) + 0 : undefined);
  if (!kind) bad(`k must be one of ${KIND_LIST}`);
  const fields: Record<string, unknown> = { k: kind.id };
  for (const [name, spec] of kindFields(kind)) {
    const v = field(spec, b[name], name, limits);
    if (v !== undefined) fields[name] = v;
  }
  return { kind, cmid, fields: fields as unknown as ItemFields };
}

/**
 * A conversation as the client names it: a group, or the other user of a pair. `to: ''` is the
 * user's server notices (their sender is `''`, docs/protocol.md "MESSAGE"): a conversation to
 * read (HISTORY, READ), never to send to.
 */
export type ConversationRef = { readonly g: string } | { readonly to: string };

/** Page sizes the chat reads allow at most (docs/protocol.md, "Offline inbox and history"). */
export const SYNC_PAGE_MAX = 200;
export const HISTORY_PAGE_MAX = 20;
export const CONTACTS_PAGE_MAX = 100;

/** `notices`: `to: ''` names the user's server notices (reads only). */
function conversation(b: Record<string, unknown>, notices = false): ConversationRef {
  if ((b.g === undefined) === (b.to === undefined)) bad('exactly one of g (group id) and to (uid) is required');
  if (b.g !== undefined) {
    if (typeof b.g !== 'string' || !GROUP_ID.test(b.g)) bad(`g must match ${GROUP_ID}`);
    return { g: b.g };
  }
  if (notices && b.to === '') return { to: '' };
  if (typeof b.to !== 'string' || !UID.test(b.to)) bad(`to must be a uid matching ${UID}${notices ? " (or '', the server notices)" : ''}`);
  return { to: b.to };
}

/** An optional integer field in [min, max]; absent gives undefined. Integral floats count. */
function optInt(b: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const v = b[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(`${name} must be an integer from ${min} to ${max}`);
  return v + 0;
}

/** The body may be nil for the reads whose fields are all optional. */
function optionalMap(body: unknown): Record<string, unknown> {
  return body === null || body === undefined ? {} : map(body);
}

/** SYNC `{cursor?, limit?}`: entries after `cursor`, or without one the most recent `limit`. */
export function validateSync(body: unknown, pageMax = SYNC_PAGE_MAX): { cursor: number | undefined; limit: number } {
  const b = optionalMap(body);
  return { cursor: optInt(b, 'cursor', 0, Number.MAX_SAFE_INTEGER), limit: optInt(b, 'limit', 1, pageMax) ?? pageMax };
}

/** HISTORY `{g|to, before?, limit?}`: messages with a seq below `before`, newest first (`to: ''`: the notices). */
export function validateHistory(body: unknown): { conv: ConversationRef; before: number | undefined; limit: number } {
  const b = map(body);
  return { conv: conversation(b, true), before: optInt(b, 'before', 1, Number.MAX_SAFE_INTEGER), limit: optInt(b, 'limit', 1, HISTORY_PAGE_MAX) ?? HISTORY_PAGE_MAX };
}

/** CONTACTS `{limit?}`. */
export function validateContacts(body: unknown): { limit: number } {
  return { limit: optInt(optionalMap(body), 'limit', 1, CONTACTS_PAGE_MAX) ?? CONTACTS_PAGE_MAX };
}

/** READ `{g|to, s}`: the user has read the conversation up to seq `s` (`to: ''`: the notices). */
export function validateRead(body: unknown): { conv: ConversationRef; s: number } {
  const b = map(body);
  const conv = conversation(b, true);
  const s = optInt(b, 's', 0, Number.MAX_SAFE_INTEGER);
  if (s === undefined) bad('s is required');
  return { conv, s };
}
