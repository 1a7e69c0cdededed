// The body of JOIN and SWITCH: `{room, since?, epoch?}` (docs/protocol.md, "JOIN and SWITCH").

import { Errors, ProtocolError } from '../protocol/errors.js';
import { MAX_SEQ } from '../protocol/items.js';
import { ROOM_ID } from '../protocol/ops.js';
import type { Resume } from './local-room.js';

export interface JoinRequest {
  readonly room: string;
  /** the client's place in the room when it asks to resume; null for a plain join */
  readonly resume: Resume | null;
}

/** The longest epoch a client may send (the server's are 11 characters). */
const MAX_EPOCH_LENGTH = 32;

/** Reads a JOIN or SWITCH body; throws ProtocolError 10 for the room, 3 for since and epoch. */
export function readJoin(body: unknown): JoinRequest {
  const b = (body !== null && typeof body === 'object' ? body : {}) as { room?: unknown; since?: unknown; epoch?: unknown };
  const room = typeof b.room === 'string' ? b.room : '';
  if (!ROOM_ID.test(room)) throw new ProtocolError(Errors.InvalidRoom);
  const { since, epoch } = b;
  if (epoch !== undefined && (typeof epoch !== 'string' || epoch.length < 1 || epoch.length > MAX_EPOCH_LENGTH)) {
    throw new ProtocolError(Errors.BadField, `epoch must be a string of 1 to ${MAX_EPOCH_LENGTH} characters`);
  }
  if (since === undefined) return { room, resume: null };
  if (!Number.isInteger(since) || (since as number) < 0 || (since as number) > MAX_SEQ) {
    throw new ProtocolError(Errors.BadField, 'since must be an integer from 0 to 2^32-1');
  }
  // A seq means something only within its epoch: without it, "recovered" could not be honest.
  if (epoch === undefined) throw new ProtocolError(Errors.BadField, 'epoch is required with since (the epoch of the JOINED that numbered it)');
  return { room, resume: { since: (since as number) + 0, epoch: epoch as string } };
}
