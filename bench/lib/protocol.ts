// The protocol facts the load generator needs. The op codes, the kinds table and the close
// codes are the server's own declarations (plain data: src/protocol/ops.ts, kinds.ts,
// errors.ts), so the harness can never drift from what docs/protocol.md documents; it still
// drives a deployment through the public protocol only.

import { CloseCodes, Errors } from '../../src/protocol/errors.js';

export { Op } from '../../src/protocol/ops.js';
export { Kind, KINDS, kindOf } from '../../src/protocol/kinds.js';

/** Close codes a run may see (docs/protocol.md, "Close codes"), named in the summary. */
export const CLOSE_NAMES: Readonly<Record<number, string>> = {
  1005: 'no_status',
  1006: 'abnormal',
  ...Object.fromEntries(Object.values(CloseCodes).map((c) => [c.code, c.reason])),
};

/**
 * ERROR codes by name, for the summaries. The harness counts ERRORs by their number, so a code
 * this list does not have yet (a newer server's) is counted all the same, only shown unnamed.
 */
export const ERROR_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.values(Errors).map((e) => [e.code, e.reason]));

/** RECEIVED (Op.Received) takes at most this many MESSAGE ids (docs/protocol.md, "Acknowledging pushes"). */
export const RECEIVED_MAX_IDS = 100;

/** A typical danmaku: about 15 characters, as on video sites. */
export const TYPICAL_TEXT = '主播好厉害！！666 awesome';
