// The message kinds of a room, in one table (docs/protocol.md, "Room items"). Validation of
// SEND bodies, the checks on room items from backends, the display cap (merger.ts), the
// replay window, the CLI and the load generator all read it, so a new kind (say a paid
// "super chat" that is never shed) is one row plus its fields.

import { textProblem } from './text.js';

/**
 * How the display cap treats a kind when a room runs hotter than people can read:
 * - keep: never shed (gifts, notices, paid messages)
 * - sample: counted against ROOM_DISPLAY_CAP and evenly sampled above it (danmaku)
 * - sum: merged into one item per batch whose amount is the sum (likes)
 * - shed_first: shown only with the budget that `sample` kinds left over (join/leave notices)
 */
export type Display = 'keep' | 'sample' | 'sum' | 'shed_first';

export type FieldSpec =
  /** text in code points: trimmed, not empty, no control characters; max = MAX_TEXT_LENGTH x scale */
  | { readonly type: 'text'; readonly scale: number; readonly required: boolean }
  | { readonly type: 'int'; readonly min: number; readonly max: number; readonly default?: number }
  | { readonly type: 'id'; readonly pattern: RegExp; readonly required: boolean };

export interface KindSpec {
  readonly id: number;
  readonly name: string;
  readonly display: Display;
  /** whether joiners get it in the replay window (and it is stored in the room's history) */
  readonly replayed: boolean;
  /** client roles that may send it (from the token's `roles`); null: any signed-in user */
  readonly senderRoles: readonly string[] | null;
  /** the item fields of this kind, beyond the common s, k, u, n, t */
  readonly fields: Readonly<Record<string, FieldSpec>>;
}

/** Kind ids by name, for code that needs one in particular (a like, a gift). */
export const Kind = {
  Danmaku: 1,
  Like: 2,
  Gift: 3,
  Notice: 4,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

export const GIFT_ID = /^[A-Za-z0-9_-]{1,32}$/;

export const KINDS: readonly KindSpec[] = [
  {
    id: Kind.Danmaku,
    name: 'danmaku',
    display: 'sample',
    replayed: true,
    senderRoles: null,
    fields: {
      x: { type: 'text', scale: 1, required: true },
      c: { type: 'int', min: 0, max: 0xffffff, default: 0xffffff },
      m: { type: 'int', min: 0, max: 2, default: 0 },
    },
  },
  {
    id: Kind.Like,
    name: 'like',
    display: 'sum',
    replayed: false,
    senderRoles: null,
    fields: { a: { type: 'int', min: 1, max: 1000, default: 1 } },
  },
  {
    id: Kind.Gift,
    name: 'gift',
    display: 'keep',
    replayed: true,
    senderRoles: null,
    fields: {
      g: { type: 'id', pattern: GIFT_ID, required: true },
      a: { type: 'int', min: 1, max: 9999, default: 1 },
    },
  },
  {
    id: Kind.Notice,
    name: 'notice',
    display: 'keep',
    replayed: true,
    senderRoles: ['admin', 'moderator'],
    fields: { x: { type: 'text', scale: 5, required: true } },
  },
];

const BY_ID = new Map(KINDS.map((k) => [k.id, k]));
const FIELDS = new Map(KINDS.map((k) => [k.id, Object.entries(k.fields)]));

/** A kind's fields as a list, built once (validation runs for every message). */
export function kindFields(kind: KindSpec): readonly (readonly [string, FieldSpec])[] {
  return FIELDS.get(kind.id) ?? Object.entries(kind.fields);
}

/** The kind with this id, or undefined for an unknown one. */
export function kindOf(id: unknown): KindSpec | undefined {
  return typeof id === 'number' ? BY_ID.get(id) : undefined;
}

/** The kind's name, or 'unknown' (a metric label). */
export function kindName(id: unknown): string {
  return kindOf(id)?.name ?? 'unknown';
}

/**
 * What is wrong with the value of a kind's field, or null: the one rule for SEND bodies and
 * for room items from backends. Texts are checked as given (callers trim them first);
 * integers may be integral floats (1.0); `undefined` is for the caller to default or refuse.
 */
export function fieldProblem(spec: FieldSpec, v: unknown, maxTextLength: number): string | null {
  switch (spec.type) {
    case 'text':
      return typeof v === 'string' ? textProblem(v, maxTextLength * spec.scale) : 'must be a string';
    case 'int':
      return Number.isInteger(v) && (v as number) >= spec.min && (v as number) <= spec.max ? null : `must be an integer in [${spec.min}, ${spec.max}]`;
    case 'id':
      return typeof v === 'string' && spec.pattern.test(v) ? null : `must match ${spec.pattern}`;
  }
}
