// A WebSocket client on a bare TCP socket, for what the `ws` library hides: a client that
// stops reading (socket.pause()) while the server keeps sending, the exact bytes and frames
// that arrive afterwards (a close frame, or a stream cut short), and upgrade requests with
// arbitrary headers and the raw HTTP answer to them.

import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export interface RawFrame {
  readonly opcode: number;
  readonly payload: Buffer;
}

export interface ParsedStream {
  readonly frames: RawFrame[];
  /** bytes after the last complete frame: a frame cut short by the end of the stream */
  readonly trailing: number;
}

/** Server frames (unmasked) in `buf`, in order; stops at the first incomplete one. */
export function parseFrames(buf: Buffer): ParsedStream {
  const frames: RawFrame[] = [];
  let at = 0;
  for (;;) {
    if (buf.length - at < 2) break;
    const opcode = buf[at]! & 0x0f;
    let len = buf[at + 1]! & 0x7f;
    let head = 2;
    if (len === 126) {
      if (buf.length - at < 4) break;
      len = buf.readUInt16BE(at + 2);
      head = 4;
    } else if (len === 127) {
      if (buf.length - at < 10) break;
      len = Number(buf.readBigUInt64BE(at + 2));
      head = 10;
    }
    if (buf.length - at < head + len) break;
    frames.push({ opcode, payload: buf.subarray(at + head, at + head + len) });
    at += head + len;
  }
  return { frames, trailing: buf.length - at };
}

/** A close frame's code and reason; null for anything else. */
export function closeOf(frame: RawFrame): { code: number; reason: string } | null {
  if (frame.opcode !== 0x8) return null;
  if (frame.payload.length < 2) return { code: 1005, reason: '' };
  return { code: frame.payload.readUInt16BE(0), reason: frame.payload.subarray(2).toString('utf8') };
}

/** A masked client frame, as RFC 6455 requires of clients. */
export function clientFrame(payload: Uint8Array, opcode = 0x2): Buffer {
  const mask = randomBytes(4);
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x80 | opcode, 0x80 | n]) : Buffer.from([0x80 | opcode, 0x80 | 126, n >> 8, n & 0xff]);
  if (n > 0xffff) throw new Error('clientFrame: payload too large for this helper');
  const body = Buffer.alloc(n);
  for (let i = 0; i < n; i++) body[i] = payload[i]! ^ mask[i % 4]!;
  return Buffer.concat([head, mask, body]);
}

export interface RawUpgrade {
  readonly socket: Socket;
  /** the HTTP status line and headers of the answer */
  readonly head: string;
  readonly status: number;
  /** bytes received after the HTTP head (WebSocket frames, or an HTTP body) */
  readonly rest: Buffer;
}

/**
 * Opens a TCP connection, sends an upgrade request to `path` with `headers`, and resolves
 * once the HTTP answer's head has arrived (or the server closed the connection).
 */
export function rawUpgrade(port: number, path: string, headers: Record<string, string> = {}): Promise<RawUpgrade> {
  const socket = connect(port, '127.0.0.1');
  const lines = [
    `GET ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const done = (end: number) => {
      socket.pause(); // the caller reads on (RawConnection) or looks at the answer
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', reject);
      const head = buf.subarray(0, end).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ socket, head, status, rest: buf.subarray(Math.min(buf.length, end + 4)) });
    };
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end >= 0) done(end);
    };
    const onClose = () => done(buf.length);
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', reject);
  });
}

/**
 * The frames of an upgraded connection. It reads as it arrives until pause(); resume() reads
 * on, and ended resolves with everything received once the server ends the stream.
 */
export class RawConnection {
  private buf: Buffer;
  private waiters: (() => void)[] = [];
  readonly ended: Promise<ParsedStream>;

  constructor(readonly socket: Socket, initial: Buffer) {
    this.buf = initial;
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => undefined); // a reset ends the stream like a FIN here; 'close' follows
    this.ended = new Promise((resolve) => socket.once('close', () => resolve(parseFrames(this.buf))));
    socket.resume();
  }

  get received(): number {
    return this.buf.length;
  }

  send(payload: Uint8Array): void {
    this.socket.write(clientFrame(payload));
  }

  /** Resolves with the frames so far once `check` accepts them. */
  async until(check: (frames: RawFrame[]) => boolean, timeoutMs = 5000): Promise<RawFrame[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { frames } = parseFrames(this.buf);
      if (check(frames)) return frames;
      if (Date.now() > deadline) throw new Error('timed out waiting for frames');
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }
}
