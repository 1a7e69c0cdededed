// Loss: what each viewer should have seen of its room (every acknowledged send) against what
// it saw. Only viewers whose connection stayed open to the end are checked: a viewer the
// server closed during the run missed what came after, which is not loss but a closed
// connection, and is reported as such (with its close code) instead.

import { SeqSet } from './seq-set.js';

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

/**
 * Loss by sequence number, for runs where every SEND carries its own seq in its ACK (no likes,
 * which are summed): which acknowledged (room, seq) pairs some connection of the room that
 * stayed open never received. Exact where counting is not: an item published without an ACK
 * (a refused or unanswered SEND the server published all the same) cannot hide one that was
 * acknowledged and lost. Items acknowledged with seq 0 (unsequenced) can only be counted.
 */
export interface Acked {
  /** per room, the acknowledged seqs (a SeqSet's bitmap) */
  readonly seqs: Record<string, Uint8Array>;
  /** per room, ACKs that carried seq 0 */
  readonly unsequenced: Record<string, number>;
  /** per room, the acknowledged seqs of gifts (also in `seqs`), for the check by kind */
  readonly gifts?: Record<string, Uint8Array>;
}

/** What one connection received of its room. */
export interface SeqTally {
  readonly room: string;
  readonly open: boolean;
  readonly seen: SeqSet;
  /** unsequenced items received */
  readonly unsequenced: number;
}

/** One thread's part: bitmaps, so that threads holding connections of one room can be merged. */
export interface AckedLossPart {
  /** per room, acknowledged seqs that at least one of this thread's open connections lacks */
  readonly missing: Record<string, Uint8Array>;
  /** per room, seqs delivered to this thread's connections that were never acknowledged */
  readonly unacknowledged: Record<string, Uint8Array>;
  /** per room, the most unsequenced items one open connection lacks */
  readonly unsequencedMissing: Record<string, number>;
  /** (connection, item) pairs missing, unsequenced ones included */
  readonly missingDeliveries: number;
  readonly conns: number;
  readonly closedConns: number;
}

export interface AckedLoss {
  /** acknowledged items, distinct (room, seq), plus unsequenced ACKs */
  readonly acknowledged: number;
  /** acknowledged items that at least one open connection of the room never received */
  readonly lost: number;
  /** (connection, item) pairs of those */
  readonly missingDeliveries: number;
  /** items received in a room without their SEND being acknowledged (refused or unanswered, yet published) */
  readonly deliveredUnacknowledged: number;
  /** connections checked (open to the end), and those left out because they were closed */
  readonly conns: number;
  readonly closedConns: number;
}

export function addAcked(into: { seqs: Record<string, SeqSet>; unsequenced: Record<string, number>; gifts?: Record<string, SeqSet> }, a: Acked): void {
  for (const [room, bits] of Object.entries(a.seqs)) (into.seqs[room] ??= new SeqSet()).addAll(bits);
  for (const [room, n] of Object.entries(a.unsequenced)) into.unsequenced[room] = (into.unsequenced[room] ?? 0) + n;
  if (into.gifts) for (const [room, bits] of Object.entries(a.gifts ?? {})) (into.gifts[room] ??= new SeqSet()).addAll(bits);
}

export function ackedLossPart(conns: Iterable<SeqTally>, acked: Acked): AckedLossPart {
  const missing: Record<string, SeqSet> = {};
  const unacknowledged: Record<string, SeqSet> = {};
  const unsequencedMissing: Record<string, number> = {};
  let missingDeliveries = 0;
  let checked = 0;
  let closedConns = 0;
  for (const c of conns) {
    const bits = acked.seqs[c.room];
    const unsequenced = acked.unsequenced[c.room] ?? 0;
    if (!bits && unsequenced === 0) continue;
    if (!c.open) {
      closedConns++;
      continue;
    }
    checked++;
    const ackedSet = new SeqSet(bits ?? new Uint8Array(0));
    const lacks = c.seen.missingOf(ackedSet.bits);
    const lacksUnsequenced = Math.max(0, unsequenced - c.unsequenced);
    missingDeliveries += lacks.size + lacksUnsequenced;
    unsequencedMissing[c.room] = Math.max(unsequencedMissing[c.room] ?? 0, lacksUnsequenced);
    (missing[c.room] ??= new SeqSet()).addAll(lacks.bits);
    (unacknowledged[c.room] ??= new SeqSet()).addAll(ackedSet.missingOf(c.seen.bits).bits);
  }
  const bitsOf = (m: Record<string, SeqSet>) => Object.fromEntries(Object.entries(m).map(([room, s]) => [room, s.bits]));
  return { missing: bitsOf(missing), unacknowledged: bitsOf(unacknowledged), unsequencedMissing, missingDeliveries, conns: checked, closedConns };
}

/** The threads' parts as one (unsequenced items lost: per room, the most one connection lacks). */
export function mergeAckedLoss(parts: readonly AckedLossPart[], acked: Acked): AckedLoss {
  const union = (pick: (p: AckedLossPart) => Record<string, Uint8Array>) => {
    let n = 0;
    const rooms = new Set(parts.flatMap((p) => Object.keys(pick(p))));
    for (const room of rooms) {
      const s = new SeqSet();
      for (const p of parts) if (pick(p)[room]) s.addAll(pick(p)[room]!);
      n += s.size;
    }
    return n;
  };
  const acknowledged = Object.values(acked.seqs).reduce((n, bits) => n + new SeqSet(bits).size, 0) + Object.values(acked.unsequenced).reduce((a, b) => a + b, 0);
  const unsequencedLost: Record<string, number> = {};
  for (const p of parts) for (const [room, n] of Object.entries(p.unsequencedMissing)) unsequencedLost[room] = Math.max(unsequencedLost[room] ?? 0, n);
  return {
    acknowledged,
    lost: union((p) => p.missing) + Object.values(unsequencedLost).reduce((a, b) => a + b, 0),
    missingDeliveries: parts.reduce((n, p) => n + p.missingDeliveries, 0),
    deliveredUnacknowledged: union((p) => p.unacknowledged),
    conns: parts.reduce((n, p) => n + p.conns, 0),
    closedConns: parts.reduce((n, p) => n + p.closedConns, 0),
  };
}

/**
 * Delivery by kind and by seq, for runs where viewers resume after a reconnect (resume.ts): a
 * viewer that never lost its connection ("stayed") and one that lost it and came back
 * ("resumed") are checked apart, each against every item of its room acknowledged by the end.
 * Gifts are checked by seq, exactly: every acknowledged gift must be held. Danmaku are checked
 * by seq too, less the danmaku the BATCH frames the viewer got said were shed (shedding is no
 * loss; a recovered resume brings back those shed after its `since`, which then count as held).
 * Likes are counted (they are summed, and never replayed). In a chat scenario (group-chat) the
 * sequenced items are group messages: checked by seq as chat, shed never applying.
 */
export interface ClassDelivery {
  viewers: number;
  /** (viewer, item) pairs missing */
  danmaku: number;
  likes: number;
  gifts: number;
  chat: number;
  /** (viewer, acknowledged item) pairs checked */
  expectedGifts: number;
  expectedDanmaku: number;
  expectedChat: number;
}

/** What one viewer holds, for the check. */
export interface DeliveryTally extends ViewerTally {
  readonly seen: SeqSet;
  /** it lost its connection during the run (and, if `open`, came back) */
  readonly moved: boolean;
}

export interface DeliveryPart {
  readonly stayed: ClassDelivery;
  readonly resumed: ClassDelivery;
  /** viewers closed that were not back by the end (not checked) */
  readonly notBack: number;
  /** per room, acknowledged gifts some checked viewer of this thread lacks */
  readonly lostGifts: Record<string, Uint8Array>;
}

export interface Delivery {
  readonly stayed: ClassDelivery;
  readonly resumed: ClassDelivery;
  readonly notBack: number;
  /** distinct acknowledged gifts, and those that at least one checked viewer never got */
  readonly giftsAcked: number;
  readonly giftsLost: number;
}

const emptyClass = (): ClassDelivery => ({ viewers: 0, danmaku: 0, likes: 0, gifts: 0, chat: 0, expectedGifts: 0, expectedDanmaku: 0, expectedChat: 0 });

export function deliveryPart(viewers: Iterable<DeliveryTally>, acked: Acked, expected: Sent, chat = false): DeliveryPart {
  const stayed = emptyClass();
  const resumed = emptyClass();
  const lost: Record<string, SeqSet> = {};
  let notBack = 0;
  // Per room: the acknowledged gifts, and the other acknowledged sequenced items (danmaku).
  const sets = new Map<string, { gifts: SeqSet; danmaku: SeqSet; nGifts: number; nDanmaku: number }>();
  const setsOf = (room: string) => {
    let s = sets.get(room);
    if (!s) {
      const gifts = new SeqSet(acked.gifts?.[room] ?? new Uint8Array(0));
      const danmaku = gifts.missingOf(acked.seqs[room] ?? new Uint8Array(0));
      sets.set(room, (s = { gifts, danmaku, nGifts: gifts.size, nDanmaku: danmaku.size }));
    }
    return s;
  };
  for (const v of viewers) {
    if (!acked.seqs[v.room] && !expected[v.room]) continue;
    if (!v.open) {
      notBack++;
      continue;
    }
    const into = v.moved ? resumed : stayed;
    const s = setsOf(v.room);
    into.viewers++;
    const gifts = v.seen.missingOf(s.gifts.bits);
    into.gifts += gifts.size;
    into.expectedGifts += s.nGifts;
    if (gifts.size > 0) (lost[v.room] ??= new SeqSet()).addAll(gifts.bits);
    if (chat) {
      into.chat += v.seen.missingOf(s.danmaku.bits).size;
      into.expectedChat += s.nDanmaku;
    } else {
      into.danmaku += Math.max(0, v.seen.missingOf(s.danmaku.bits).size - v.shed);
      into.expectedDanmaku += s.nDanmaku;
    }
    into.likes += Math.max(0, (expected[v.room]?.likes ?? 0) - v.likes);
  }
  return { stayed, resumed, notBack, lostGifts: Object.fromEntries(Object.entries(lost).map(([room, set]) => [room, set.bits])) };
}

export function mergeDelivery(parts: readonly DeliveryPart[], acked: Acked): Delivery {
  const add = (a: ClassDelivery, b: ClassDelivery): ClassDelivery => ({
    viewers: a.viewers + b.viewers,
    danmaku: a.danmaku + b.danmaku,
    likes: a.likes + b.likes,
    gifts: a.gifts + b.gifts,
    chat: a.chat + b.chat,
    expectedGifts: a.expectedGifts + b.expectedGifts,
    expectedDanmaku: a.expectedDanmaku + b.expectedDanmaku,
    expectedChat: a.expectedChat + b.expectedChat,
  });
  let giftsLost = 0;
  for (const room of new Set(parts.flatMap((p) => Object.keys(p.lostGifts)))) {
    const s = new SeqSet();
    for (const p of parts) if (p.lostGifts[room]) s.addAll(p.lostGifts[room]!);
    giftsLost += s.size;
  }
  return {
    stayed: parts.map((p) => p.stayed).reduce(add, emptyClass()),
    resumed: parts.map((p) => p.resumed).reduce(add, emptyClass()),
    notBack: parts.reduce((n, p) => n + p.notBack, 0),
    giftsAcked: Object.values(acked.gifts ?? {}).reduce((n, bits) => n + new SeqSet(bits).size, 0),
    giftsLost,
  };
}
