// wss with the real server process (TLS_CERT, TLS_KEY): a `ws` client that trusts the
// self-signed certificate completes the handshake and gets WELCOME; after the files are replaced
// by another pair, a new connection naming the host (SNI) sees the new certificate while the
// one already open stays up; a plain ws:// client gets no WebSocket from the TLS port.

import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { Packr } from 'msgpackr';
import WebSocket from 'ws';
import { mintToken } from '../../src/auth/token.js';
import { Kind } from '../../src/protocol/kinds.js';
import { Op } from '../../src/protocol/ops.js';
import { makeCertPairs } from '../helpers/tls.js';
import { metricValue, SECRET, startServer, waitFor } from '../helpers/server.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

type Frame = [number, number, Record<string, unknown>];

interface Opened {
  readonly ws: WebSocket;
  readonly fingerprint: string;
  readonly welcome: Record<string, unknown>;
  readonly frames: Frame[];
}

/** Connects with `ca` trusted and SNI `localhost`; resolves on WELCOME with the server certificate's fingerprint. */
function connectWss(port: number, ca: Buffer[], uid: string): Promise<Opened> {
  const ws = new WebSocket(`wss://127.0.0.1:${port}/?token=${mintToken(SECRET, { uid })}`, { ca, servername: 'localhost' } as WebSocket.ClientOptions);
  ws.binaryType = 'nodebuffer';
  const frames: Frame[] = [];
  return new Promise((resolve, reject) => {
    let fingerprint = '';
    ws.on('upgrade', (res) => (fingerprint = (res.socket as TLSSocket).getPeerX509Certificate()?.fingerprint256 ?? ''));
    ws.on('message', (data: Buffer) => {
      const frame = packr.unpack(data) as Frame;
      frames.push(frame);
      if (frames.length === 1) {
        if (frame[0] === Op.Welcome) resolve({ ws, fingerprint, welcome: frame[2], frames });
        else reject(new Error(`first frame op ${frame[0]}`));
      }
    });
    ws.once('error', reject);
  });
}

/** The first frame of `op` (and `rid`, when given) that `c` received, waiting for it. */
async function frameOf(c: Opened, op: number, rid?: number): Promise<Frame> {
  const find = () => c.frames.find((f) => f[0] === op && (rid === undefined || f[1] === rid));
  await waitFor(() => find() !== undefined, 5000, `op ${op}`);
  return find()!;
}

t.test('tls - wss handshake and WELCOME; a reload serves the new certificate to new SNI connections; old ones stay', async (t) => {
  const pairs = makeCertPairs();
  t.teardown(() => pairs.remove());
  const cert = join(pairs.dir, 'live-cert.pem');
  const key = join(pairs.dir, 'live-key.pem');
  copyFileSync(pairs.a.cert, cert);
  copyFileSync(pairs.a.key, key);
  const fpA = new X509Certificate(readFileSync(pairs.a.cert)).fingerprint256;
  const fpB = new X509Certificate(readFileSync(pairs.b.cert)).fingerprint256;
  const ca = [readFileSync(pairs.a.cert), readFileSync(pairs.b.cert)];
  const srv = await startServer({ TLS_CERT: cert, TLS_KEY: key, TLS_RELOAD_MS: '100' });
  t.teardown(() => srv.stop());

  const first = await connectWss(srv.port, ca, 'u1');
  t.teardown(() => first.ws.close());
  t.equal(first.welcome.uid, 'u1', 'WELCOME over wss');
  t.equal(first.fingerprint, fpA, 'certificate A at start');

  // pair B replaces the files (key first: until both are in, the pair does not match and is refused)
  copyFileSync(pairs.b.key, key);
  copyFileSync(pairs.b.cert, cert);
  const later = new Date(Date.now() + 2_000);
  utimesSync(key, later, later);
  utimesSync(cert, later, later);
  await waitFor(async () => (metricValue(await srv.metrics(), 'danmaku_tls_reloads_total', { result: 'ok' }) ?? 0) >= 1, 10_000, 'the reload');
  t.ok(srv.logs.some((l) => l.msg === 'TLS certificate reloaded: new connections that name these hosts (SNI) get it' && l.fingerprint === fpB), 'logged at info with the new fingerprint');

  const second = await connectWss(srv.port, ca, 'u2');
  t.teardown(() => second.ws.close());
  t.equal(second.fingerprint, fpB, 'a new SNI connection gets certificate B');
  t.equal(first.ws.readyState, WebSocket.OPEN, 'the connection opened with A is still open');
  // both work, and share the rooms (the new certificate's server name has its own router in uWS, the same pub/sub)
  first.ws.send(packr.pack([Op.Join, 1, { room: 'r1' }]));
  second.ws.send(packr.pack([Op.Join, 1, { room: 'r1' }]));
  await frameOf(first, Op.Joined, 1);
  await frameOf(second, Op.Joined, 1);
  second.ws.send(packr.pack([Op.Send, 2, { k: Kind.Danmaku, x: 'over B' }]));
  t.ok(await frameOf(second, Op.Ack, 2), 'SEND over the new certificate acknowledged');
  for (const [c, who] of [[first, 'the old connection (A)'], [second, 'the new one (B)']] as const) {
    await waitFor(() => c.frames.some((f) => f[0] === Op.Batch && JSON.stringify(f[2]).includes('over B')), 5000, `the item at ${who}`);
    t.pass(`the room item reached ${who}`);
  }

  // a plain ws:// client gets no WebSocket from the TLS port
  const plain = new WebSocket(`ws://127.0.0.1:${srv.port}/`);
  const outcome = await new Promise<string>((resolve) => {
    plain.once('open', () => resolve('open'));
    plain.once('error', (err) => resolve(`error: ${err.message}`));
    plain.once('close', () => resolve('closed'));
  });
  plain.terminate();
  t.not(outcome, 'open', `plain ws:// refused (${outcome})`);
  t.ok(srv.logs.every((l) => typeof l.level !== 'number' || l.level < 50), 'nothing logged at error level');
});

t.test('tls - a mismatched pair at start is a configuration error', async (t) => {
  const pairs = makeCertPairs();
  t.teardown(() => pairs.remove());
  await t.rejects(startServer({ TLS_CERT: pairs.a.cert, TLS_KEY: pairs.b.key }), /TLS_CERT\/TLS_KEY: not a usable PEM certificate and matching key/);
});
