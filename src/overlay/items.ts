// From room items and comments to what the overlay shows, pure: the mode a comment scrolls in,
// the words a gift or notice reads as, a room item (docs/protocol.md, "Room items") as a
// comment, and which replayed items (a JOIN's catch-up) to show. Unknown kinds give null:
// kinds may be added.

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
    case KIND_GIFT: {
      const count = typeof item.a === 'number' && item.a > 0 ? item.a : 1;
      const gift = item.g ?? 'gift';
      return { text: `${count} x ${gift}`, kind: 'gift', self, user: user ?? 'someone', gift, count };
    }
    case KIND_NOTICE:
      return { text: item.x ?? '', kind: 'notice', self, user };
    default:
      return null;
  }
}

/** A plain join shows replayed gifts and notices at most this old (by item.t), and no replayed danmaku. */
export const REPLAY_RECENT_MS = 10_000;
/** A resume shows at most this many of the ordinary danmaku it missed, the newest. */
export const REPLAY_DANMAKU_MAX = 30;

export interface ReplayChoice<T> {
  /** to show, in order */
  show: T[];
  /** older than REPLAY_RECENT_MS on a plain join: history, not news (not counted as shed) */
  stale: number;
  /** missed danmaku beyond REPLAY_DANMAKU_MAX on a resume (counted as shed) */
  shed: number;
}

/**
 * Which of the replayed items of one JOINED to show. A plain join (first join, switch, page
 * load; `resumed` false): only gifts and notices younger than REPLAY_RECENT_MS by `t` against
 * `now` (the viewer just arrived: older ones are history), no danmaku, no likes. A resume after a
 * reconnect (`resumed` true): what the viewer missed: every gift, notice and like, and the
 * newest REPLAY_DANMAKU_MAX danmaku (the older ones are counted in `shed`). Items of unknown
 * kinds are passed on (the overlay ignores them).
 */
export function chooseReplay<T extends { k: number; t?: number }>(items: readonly T[], resumed: boolean, now: number): ReplayChoice<T> {
  const out: ReplayChoice<T> = { show: [], stale: 0, shed: 0 };
  if (!resumed) {
    for (const it of items) {
      const kept = it.k === KIND_GIFT || it.k === KIND_NOTICE;
      if (kept && typeof it.t === 'number' && now - it.t <= REPLAY_RECENT_MS) out.show.push(it);
      else out.stale++;
    }
    return out;
  }
  let danmaku = items.reduce((n, it) => n + (it.k === KIND_DANMAKU ? 1 : 0), 0);
  for (const it of items) {
    if (it.k === KIND_DANMAKU && danmaku-- > REPLAY_DANMAKU_MAX) out.shed++;
    else out.show.push(it);
  }
  return out;
}
