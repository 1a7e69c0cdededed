// Names that must differ between runs. The server de-duplicates SENDs by (uid, client message
// id) for DEDUPE_TTL_MS (120 s by default): a rerun within that time that reused the ids of
// the previous run would be acknowledged without being delivered, and show up as lost
// danmaku. So every run takes a prefix of its own for user ids and client message ids.

import { randomBytes } from 'node:crypto';

/** A prefix unique to one run: the time and 40 random bits, base 36 (about 16 characters). */
export function runPrefix(now = Date.now()): string {
  return `${now.toString(36)}${randomBytes(5).readUIntBE(0, 5).toString(36).padStart(8, '0')}`;
}

export const viewerUid = (run: string, i: number): string => `bench-${run}-v${i}`;
export const senderUid = (run: string, i: number): string => `bench-${run}-s${i}`;

/** The client message id (`id` of SEND) of the n-th message of a load-generator thread. */
export const messageId = (run: string, worker: number, n: number): string => `${run}-w${worker}-${n}`;
