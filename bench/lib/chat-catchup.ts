// The catch-up measurement of the chat scenario: a user with N messages waiting in its inbox
// logs in, and the time from opening the connection to holding all N (the INBOX push after
// WELCOME, then SYNC pages; gunzip and decode included) is what a user waits for its device to
// be up to date. The messages are put there first by one sender (MSG with client ids, ACKs
// awaited), and the wait for the storage writer is read through the admin API's inbox read.

import { gunzipSync } from 'node:zlib';
import { Packr } from 'msgpackr';
import WebSocket from 'ws';
import { Op } from './protocol.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

function openWs(url: string, token: string, since: string | null): WebSocket {
  const u = new URL(url);
  u.searchParams.set('token', token);
  if (since !== null) u.searchParams.set('since', since);
  const ws = new WebSocket(u, { perMessageDeflate: false });
  ws.binaryType = 'nodebuffer';
  return ws;
}

/**
 * Sends `count` MSGs to `group` from one connection, at most `window` awaiting their ACK at a
 * time; resolves with the number acknowledged (ERRORs 30/32 are retried with the same id).
 */
export function sendMessages(url: string, token: string, group: string, count: number, idPrefix: string, text: string, window = 100, timeoutMs = 60_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = openWs(url, token, null);
    const inflight = new Map<number, number>(); // rid -> message number
    let next = 0;
    let rid = 1;
    let acked = 0;
    const timer = setTimeout(() => finish(new Error(`sending ${count} messages: only ${acked} acknowledged within ${timeoutMs} ms`)), timeoutMs);
    const finish = (err?: Error) => {
      clearTimeout(timer);
      ws.terminate();
      if (err) reject(err);
      else resolve(acked);
    };
    const sendOne = (n: number) => {
      const r = rid++;
      inflight.set(r, n);
      ws.send(packr.pack([Op.Msg, r, { g: group, x: text, id: `${idPrefix}-${n}` }]));
    };
    const fill = () => {
      while (inflight.size < window && next < count) sendOne(next++);
    };
    let welcomed = false;
    ws.on('message', (data: Buffer) => {
      const [op, r, body] = packr.unpack(data) as [number, number, Record<string, unknown>];
      if (!welcomed) {
        if (op !== Op.Welcome) return;
        welcomed = true;
        return fill();
      }
      const n = inflight.get(r);
      if (n === undefined) return;
      inflight.delete(r);
      if (op === Op.Ack) acked++;
      else if (op === Op.Error && (body.code === 30 || body.code === 32)) return void setTimeout(() => sendOne(n), 200);
      else return finish(new Error(`message ${n}: ${JSON.stringify(body)}`));
      if (acked === count) return finish();
      fill();
    });
    ws.on('error', (err) => finish(err));
    ws.on('close', () => finish(new Error('the sender connection closed')));
  });
}

/** Waits until the admin API shows at least `count` entries in `uid`'s inbox; resolves with the seconds waited. */
export async function waitForInbox(admin: { url: string; secret: string }, uid: string, count: number, timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    let cursor = 0;
    let n = 0;
    for (;;) {
      const res = await fetch(`${admin.url}/api/users/${encodeURIComponent(uid)}/inbox?cursor=${cursor}&limit=200`, { headers: { authorization: `Bearer ${admin.secret}` }, signal: AbortSignal.timeout(5000) });
      if (!res.ok) throw new Error(`admin inbox read of ${uid}: HTTP ${res.status} ${await res.text()}`);
      const page = (await res.json()) as { entries: unknown[]; cursor: number; more: boolean };
      n += page.entries.length;
      cursor = page.cursor;
      if (!page.more) break;
    }
    if (n >= count) return (Date.now() - started) / 1000;
    if (Date.now() - started > timeoutMs) throw new Error(`${uid}'s inbox holds ${n} of ${count} messages after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface CatchUp {
  /** messages waiting, and how many distinct ones the user held at the end */
  readonly waiting: number;
  readonly held: number;
  /** from opening the connection to holding all of them; null if it never did (timeout) */
  readonly ms: number | null;
  /** to the WELCOME, and to the INBOX push */
  readonly welcomeMs: number | null;
  readonly pushMs: number | null;
  /** INBOX frames (the push and the SYNC replies) and their bytes on the wire (gzip inside) */
  readonly frames: number;
  readonly bytes: number;
  /** messages received more than once (by id) */
  readonly duplicates: number;
  /** SYNCs retried after ERROR 30 or 32 (the push or a SYNC refused) */
  readonly retries: number;
  readonly error: string | null;
}

/** Logs `token`'s user in with `since=0` and times holding all `waiting` messages. */
export function timeCatchUp(url: string, token: string, waiting: number, timeoutMs = 30_000): Promise<CatchUp> {
  return new Promise((resolve) => {
    const started = performance.now();
    const ws = openWs(url, token, '0');
    const ids = new Set<string>();
    let frames = 0;
    let bytes = 0;
    let duplicates = 0;
    let welcomeMs: number | null = null;
    let pushMs: number | null = null;
    let rid = 1;
    let cursor = 0;
    let retries = 0;
    let done = false;
    const finish = (ms: number | null, error: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ws.terminate();
      resolve({ waiting, held: ids.size, ms, welcomeMs, pushMs, frames, bytes, duplicates, retries, error });
    };
    const timer = setTimeout(() => finish(null, `timed out after ${timeoutMs} ms`), timeoutMs);
    ws.on('message', (data: Buffer) => {
      const [op, r, body] = packr.unpack(data) as [number, number, Record<string, unknown>];
      const at = performance.now() - started;
      if (op === Op.Welcome) return void (welcomeMs = at);
      if (op === Op.Error) {
        // Overloaded or unavailable: SYNC again from where it stood, after the hint, as a client would.
        if (body.code === 30 || body.code === 32) {
          retries++;
          return void setTimeout(() => !done && ws.send(packr.pack([Op.Sync, rid++, { cursor, limit: 200 }])), typeof body.retryMs === 'number' ? body.retryMs : 500);
        }
        return finish(null, `ERROR ${String(body.code)} ${String(body.reason)} (rid ${r})`);
      }
      if (op !== Op.Inbox) return;
      if (r === 0) pushMs = at;
      frames++;
      bytes += data.length;
      const msgs = (body.n as number) > 0 ? (packr.unpack(gunzipSync(body.d as Uint8Array)) as { id: string }[]) : [];
      for (const m of msgs) {
        if (ids.has(m.id)) duplicates++;
        else ids.add(m.id);
      }
      if (ids.size >= waiting) return finish(performance.now() - started, null);
      if (!body.more) return finish(null, `the inbox said no more after ${ids.size} of ${waiting} messages`);
      cursor = body.cursor as number;
      ws.send(packr.pack([Op.Sync, rid++, { cursor, limit: 200 }]));
    });
    ws.on('error', (err) => finish(null, err.message));
    ws.on('close', (code) => finish(null, `closed with ${code}`));
  });
}
