// Loss: what each viewer should have seen of its room (every acknowledged send) against what
// it saw. Only viewers whose connection stayed open to the end are checked: a viewer the
// server closed during the run missed what came after, which is not loss but a closed
// connection, and is reported as such (with its close code) instead.

export type Sent = Record<string, { danmaku: number; likes: number; gifts: number }>;

/** What one viewer connection saw; `shed` counts the danmaku that BATCH frames said were shed. */
export interface ViewerTally {
  readonly room: string;
  /** still open at the end of the run */
  readonly open: boolean;
  readonly danmaku: number;
  readonly shed: number;
  readonly likes: number;
  readonly gifts: number;
}

export interface Loss {
  danmaku: number;
  likes: number;
  gifts: number;
  /** viewers checked: those of a room with traffic whose connection stayed open */
  viewers: number;
  /** viewers of a room with traffic left out because the server closed them during the run */
  closedViewers: number;
}

export function lossOf(viewers: Iterable<ViewerTally>, expected: Sent): Loss {
  const loss: Loss = { danmaku: 0, likes: 0, gifts: 0, viewers: 0, closedViewers: 0 };
  for (const v of viewers) {
    const e = expected[v.room];
    if (!e) continue;
    if (!v.open) {
      loss.closedViewers++;
      continue;
    }
    loss.viewers++;
    loss.danmaku += Math.max(0, e.danmaku - v.danmaku - v.shed);
    loss.likes += Math.max(0, e.likes - v.likes);
    loss.gifts += Math.max(0, e.gifts - v.gifts);
  }
  return loss;
}

export function addLoss(a: Loss, b: Loss): Loss {
  return { danmaku: a.danmaku + b.danmaku, likes: a.likes + b.likes, gifts: a.gifts + b.gifts, viewers: a.viewers + b.viewers, closedViewers: a.closedViewers + b.closedViewers };
}
