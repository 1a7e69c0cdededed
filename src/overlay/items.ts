// From room items and comments to what the overlay shows, pure: the mode a comment scrolls in,
// the words a gift or notice reads as, and a room item (docs/protocol.md, "Room items") as a
// comment. Unknown kinds give null: kinds may be added.

import type { Comment, OverlayItem, OverlayMode } from './types.js';

export const KIND_DANMAKU = 1;
export const KIND_LIKE = 2;
export const KIND_GIFT = 3;
export const KIND_NOTICE = 4;

const MODES: readonly OverlayMode[] = ['scroll', 'top', 'bottom'];

/** 0 | 1 | 2 or a name; anything else scrolls. */
export function modeOf(m: Comment['mode'] | number | undefined): OverlayMode {
  if (typeof m === 'number') return MODES[m] ?? 'scroll';
  return m === 'top' || m === 'bottom' ? m : 'scroll';
}

/** The words on screen: a gift with a sender reads "alice sent 3 x rose" (the icon is CSS). */
export function displayText(c: Comment): string {
  const text = typeof c.text === 'string' ? c.text.trim() : '';
  if (c.kind === 'gift' && c.user) return text ? `${c.user} sent ${text}` : `${c.user} sent a gift`;
  return text;
}

/** A danmaku, gift or notice item as a comment; null for likes (a counter) and unknown kinds. */
export function itemToComment(item: OverlayItem, self = false): Comment | null {
  const user = item.n || item.u || undefined;
  switch (item.k) {
    case KIND_DANMAKU:
      return { text: item.x ?? '', mode: modeOf(item.m), color: item.c, kind: 'danmaku', self, user };
    case KIND_GIFT:
      return { text: `${item.a ?? 1} x ${item.g ?? 'gift'}`, kind: 'gift', self, user: user ?? 'someone' };
    case KIND_NOTICE:
      return { text: item.x ?? '', kind: 'notice', self, user };
    default:
      return null;
  }
}
