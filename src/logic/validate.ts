// Validation of upstream SEND bodies. Returns the fields of the room item, or throws
// ProtocolError with the catalogue entry that the sender will see.

import { Errors, ProtocolError } from '../protocol/errors.js';
import { GROUP_ID, Kind, Mode, UID } from '../protocol/ops.js';
import type { RoomItem } from '../protocol/items.js';

export interface SendLimits {
  readonly maxTextLength: number;
}

export type ItemFields = Omit<RoomItem, 's' | 'u' | 'n' | 't'>;

export interface ValidSend {
  readonly fields: ItemFields;
  /** client message id, for de-duplication of retries */
  readonly cmid: string | undefined;
}

const GIFT_ID = /^[A-Za-z0-9_-]{1,32}$/;
const CMID = /^[\x21-\x7e]{1,64}$/;
const MAX_GIFT_COUNT = 9999;
const MAX_LIKE_COUNT = 1000;

function bad(detail: string): never {
  throw new ProtocolError(Errors.BadField, detail);
}

export function text(v: unknown, field: string, max: number): string {
  if (typeof v !== 'string') bad(`${field} must be a string`);
  const trimmed = v.trim();
  if (trimmed.length === 0) bad(`${field} must not be empty`);
  // Length in code points, so that one emoji counts as one character.
  if ([...trimmed].length > max) bad(`${field} longer than ${max} characters`);
  // Control characters would break overlays and log lines.
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) bad(`${field} contains control characters`);
  return trimmed;
}

function intIn(v: unknown, field: string, min: number, max: number, def?: number): number {
  if (v === undefined && def !== undefined) return def;
  if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) bad(`${field} must be an integer in [${min}, ${max}]`);
  return v as number;
}

function map(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) bad('body must be a map');
  return body as Record<string, unknown>;
}

function clientId(b: Record<string, unknown>): string | undefined {
  if (b.id === undefined) return undefined;
  if (typeof b.id !== 'string' || !CMID.test(b.id)) bad('id must be 1-64 printable ASCII characters');
  return b.id;
}

/** A MSG body: text to a group (`g`) or to one user (`to`). */
export interface ValidMessage {
  readonly target: { readonly g: string } | { readonly to: string };
  readonly x: string;
  readonly cmid: string | undefined;
}

export function validateMessage(body: unknown, limits: SendLimits): ValidMessage {
  const b = map(body);
  const cmid = clientId(b);
  if ((b.g === undefined) === (b.to === undefined)) bad('exactly one of g (group id) and to (uid) is required');
  let target: ValidMessage['target'];
  if (b.g !== undefined) {
    if (typeof b.g !== 'string' || !GROUP_ID.test(b.g)) bad(`g must match ${GROUP_ID}`);
    target = { g: b.g };
  } else {
    if (typeof b.to !== 'string' || !UID.test(b.to)) bad(`to must be a uid matching ${UID}`);
    target = { to: b.to };
  }
  return { target, x: text(b.x, 'x', limits.maxTextLength * 5), cmid };
}

export function validateSend(body: unknown, limits: SendLimits): ValidSend {
  const b = map(body);
  const cmid = clientId(b);
  switch (b.k) {
    case Kind.Danmaku:
      return {
        cmid,
        fields: {
          k: Kind.Danmaku,
          x: text(b.x, 'x', limits.maxTextLength),
          c: intIn(b.c, 'c', 0, 0xffffff, 0xffffff),
          m: intIn(b.m, 'm', Mode.Scroll, Mode.Bottom, Mode.Scroll),
        },
      };
    case Kind.Like:
      return { cmid, fields: { k: Kind.Like, a: intIn(b.a, 'a', 1, MAX_LIKE_COUNT, 1) } };
    case Kind.Gift:
      if (typeof b.g !== 'string' || !GIFT_ID.test(b.g)) bad('g must be a gift id of 1-32 characters [A-Za-z0-9_-]');
      return { cmid, fields: { k: Kind.Gift, g: b.g, a: intIn(b.a, 'a', 1, MAX_GIFT_COUNT, 1) } };
    case Kind.Notice:
      return { cmid, fields: { k: Kind.Notice, x: text(b.x, 'x', limits.maxTextLength * 5) } };
    default:
      return bad('k must be 1 (danmaku), 2 (like), 3 (gift) or 4 (notice)');
  }
}
