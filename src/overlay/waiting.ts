// Gifts and notices waiting for a lane, pure (no DOM). They are never dropped: while they
// wait, a gift of the same sender and gift id as one already waiting is merged into it (one pill,
// counts summed: "alice sent 12 x rose"), a notice with the same text likewise ("(x3)"), and past
// `max` distinct entries everything that arrives is folded into one summary pill ("+37 gifts,
// 2 notices"), which comes after them. So every gift is represented on screen, in order, and
// the queue stays small whatever the storm.

import type { Comment } from './types.js';

export type WaitingKind = 'gift' | 'notice';

interface Entry {
  kind: WaitingKind;
  /** merge key: kind, sender, gift id (or text) */
  key: string;
  base: Comment;
  /** gifts with an id: the summed count; otherwise how many were merged */
  count: number;
  merged: number;
  self: boolean;
}

export class WaitingQueue {
  private entries: Entry[] = [];
  private readonly byKey = new Map<string, Entry>();
  /** folded into the summary pill (past `max`) */
  private overflowGifts = 0;
  private overflowNotices = 0;

  constructor(public max = 50) {}

  /** Entries waiting (a merged group is one; the summary is one). */
  get size(): number {
    return this.entries.length + (this.overflowGifts + this.overflowNotices > 0 ? 1 : 0);
  }

  /** Adds a gift or notice behind the others, merged where it can be. */
  push(c: Comment, kind: WaitingKind): void {
    const key = keyOf(c, kind);
    const same = this.byKey.get(key);
    if (same) {
      same.count += kind === 'gift' && c.gift !== undefined ? countOf(c) : 1;
      same.merged++;
      same.self ||= c.self === true;
      return;
    }
    if (this.entries.length >= this.max || this.overflowGifts + this.overflowNotices > 0) {
      // the summary comes after every entry: once it has started, later arrivals join it so order holds
      if (kind === 'gift') this.overflowGifts++;
      else this.overflowNotices++;
      return;
    }
    const e: Entry = { kind, key, base: c, count: kind === 'gift' && c.gift !== undefined ? countOf(c) : 1, merged: 1, self: c.self === true };
    this.entries.push(e);
    this.byKey.set(key, e);
  }

  /** The next one to show, as a comment (merged text, or the summary), without taking it. */
  peek(): { comment: Comment; kind: WaitingKind | 'summary' } | null {
    const e = this.entries[0];
    if (e) return { comment: render(e), kind: e.kind };
    if (this.overflowGifts + this.overflowNotices === 0) return null;
    const parts: string[] = [];
    if (this.overflowGifts > 0) parts.push(`${this.overflowGifts} ${this.overflowGifts === 1 ? 'gift' : 'gifts'}`);
    if (this.overflowNotices > 0) parts.push(`${this.overflowNotices} ${this.overflowNotices === 1 ? 'notice' : 'notices'}`);
    return { comment: { text: `+${parts.join(', ')}`, kind: 'gift' }, kind: 'summary' };
  }

  /** Takes the one peek() answered. */
  shift(): void {
    const e = this.entries.shift();
    if (e) this.byKey.delete(e.key);
    else this.overflowGifts = this.overflowNotices = 0;
  }

  clear(): void {
    this.entries = [];
    this.byKey.clear();
    this.overflowGifts = this.overflowNotices = 0;
  }
}

function countOf(c: Comment): number {
  return typeof c.count === 'number' && Number.isFinite(c.count) && c.count > 0 ? Math.floor(c.count) : 1;
}

function keyOf(c: Comment, kind: WaitingKind): string {
  if (kind === 'notice') return `n\u0000${c.text}`;
  return c.gift !== undefined ? `g\u0000${c.user ?? ''}\u0000${c.gift}` : `t\u0000${c.user ?? ''}\u0000${c.text}`;
}

function render(e: Entry): Comment {
  const c: Comment = { ...e.base, self: e.self };
  if (e.merged === 1) return c;
  if (e.kind === 'gift' && c.gift !== undefined) {
    c.text = `${e.count} x ${c.gift}`;
    c.count = e.count;
  } else {
    c.text = `${c.text} (x${e.merged})`;
  }
  return c;
}
