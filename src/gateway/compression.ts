// Compressed egress (COMPRESSION=shared): permessage-deflate with uWS's shared compressor.
//
// What "shared" means in uWebSockets.js 20 (uws-pack 20.0.8): one deflate state per event
// loop instead of one per connection (no per-socket memory), reset after every message, so
// the extension is negotiated with server_no_context_takeover. It does not mean "compressed
// once per publish": uWS's topic publish hands the uncompressed frame to every subscriber's
// send(), and each send() compresses it again (WebSocket.h, send(); App.h, publish()). The
// version has no prepared-message API that would let the gateway compress once and send the
// same bytes to all. So the CPU cost grows with the recipients, which is why only frames
// worth it are compressed: room frames and replies that carry items, never tiny control frames.
//
// Negotiation is per connection: a client that does not offer permessage-deflate gets the
// same frames uncompressed, and uWS ignores the compress hint on its sends.

import type { Compression } from '../config.js';
import { Op } from '../protocol/ops.js';

/**
 * Frames shorter than this go uncompressed: without a window carried over from earlier
 * messages (no context takeover), deflate saves nothing on a few dozen bytes and costs a
 * compressor call per recipient. ONLINE, PONG, ACK, LEFT, ERROR and WELCOME are all below it;
 * a BATCH of one like can be too.
 */
export const COMPRESS_MIN_BYTES = 128;

/** uWS's compressor constants: values in the module, but exported as types only by the typings of uws-pack 20.0.8. */
export interface CompressorConstants {
  readonly DISABLED: number;
  readonly SHARED_COMPRESSOR: number;
  readonly SHARED_DECOMPRESSOR: number;
}

/**
 * The ws() behaviour's `compression`: the shared compressor, and the shared decompressor so
 * that clients that compress their own frames (browsers compress every message once the
 * extension is negotiated) are read too. `uws` is the uWS module, passed in by the gateway:
 * this file does not load uWS itself (main.ts sets its header limit before the first load).
 */
export function compressionOption(c: Compression, uws: unknown): number {
  const k = uws as CompressorConstants;
  return c === 'shared' ? k.SHARED_COMPRESSOR | k.SHARED_DECOMPRESSOR : k.DISABLED;
}

/** The compress hint of a send or publish: frames that carry items, and are long enough to gain. */
export function worthCompressing(frame: Uint8Array): boolean {
  return frame.byteLength >= COMPRESS_MIN_BYTES;
}

/**
 * The hint for a read's reply: MESSAGES (HISTORY) and RECENT (CONTACTS) carry messages; an
 * INBOX's messages are gzip bytes already, which deflate cannot shrink.
 */
export function replyWorthCompressing(op: number, frame: Uint8Array): boolean {
  return op !== Op.Inbox && worthCompressing(frame);
}
