// The gateway's push tracker (src/gateway/pushes.ts) on a fake clock: resends of the same bytes
// at the configured times, then giving up; acknowledgements, overflow, closed connections,
// one timer for everything, and the RECEIVED body rules.

import t from 'tap';
import { Pushes, receivedIds, RUN_SPACING_MS, type PushClock, type PushObserver } from '../../src/gateway/pushes.js';
import type { PushGiveUp } from '../../src/metric-labels.js';
import { ProtocolError } from '../../src/protocol/errors.js';

class FakeClock implements PushClock {
  t = 1_700_000_000_000;
  private timers: { at: number; fn: () => void; live: boolean }[] = [];
  now(): number {
    return this.t;
  }
  schedule(fn: () => void, ms: number): () => void {
    const timer = { at: this.t + ms, fn, live: true };
    this.timers.push(timer);
    return () => void (timer.live = false);
  }
  /** timers set and not yet fired or cancelled */
  get armed(): number {
    return this.timers.filter((x) => x.live).length;
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.live && x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.t = Math.max(this.t, due.at);
      due.live = false;
      due.fn();
    }
    this.timers = this.timers.filter((x) => x.live);
    this.t = end;
  }
}

class Counts implements PushObserver {
  resent = 0;
  ackFrames = 0;
  acked = 0;
  givenUp: Record<PushGiveUp, number> = { unacked: 0, overflow: 0, closed: 0 };
  pushResent(): void {
    this.resent++;
  }
  pushGivenUp(reason: PushGiveUp, n: number): void {
    this.givenUp[reason] += n;
  }
  pushAckFrame(acked: number): void {
    this.ackFrames++;
    this.acked += acked;
  }
}

const OPTS = { ackTimeoutMs: 5000, resendIntervalMs: 2000, resends: 2, pendingMax: 1000 };

function setup(opts: Partial<typeof OPTS> = {}, accept: (conn: string) => boolean = () => true) {
  const clock = new FakeClock();
  const counts = new Counts();
  const sent: { conn: string; frame: Uint8Array; at: number }[] = [];
  const pushes = new Pushes<string>((conn, frame) => (sent.push({ conn, frame, at: clock.t }), accept(conn)), { ...OPTS, ...opts }, counts, clock);
  return { clock, counts, sent, pushes };
}

const frame = (n: number) => new Uint8Array([0x93, 32, 0, n]);

t.test('pushes - unacknowledged: resent with the same bytes at T and T + I, given up at T + 2I', async (t) => {
  const { clock, counts, sent, pushes } = setup();
  const f = frame(1);
  const start = clock.t;
  pushes.track('a', 'm1', f);
  t.equal(pushes.pending, 1);
  clock.advance(4999);
  t.equal(sent.length, 0, 'nothing before the ack timeout');
  clock.advance(1);
  t.equal(sent.length, 1, 'first resend at the ack timeout');
  t.equal(sent[0]!.frame, f, 'the very same bytes (shared, not copied)');
  t.equal(sent[0]!.at - start, 5000);
  clock.advance(1999);
  t.equal(sent.length, 1);
  clock.advance(1);
  t.equal(sent.length, 2, 'second resend one interval later');
  t.equal(sent[1]!.at - start, 7000);
  t.equal(pushes.pending, 1, 'still pending: waiting for an ACK of the last resend');
  clock.advance(2000);
  t.equal(sent.length, 2, 'no third resend');
  t.equal(pushes.pending, 0, 'given up one interval after the last resend');
  t.same(counts.givenUp, { unacked: 1, overflow: 0, closed: 0 });
  t.equal(counts.resent, 2);
  clock.advance(60_000);
  t.equal(sent.length, 2);
  t.equal(clock.armed, 0, 'no timer left once nothing is pending');
});

t.test('pushes - PUSH_RESENDS 0: given up at the first check, never resent', async (t) => {
  const { clock, counts, sent, pushes } = setup({ resends: 0 });
  pushes.track('a', 'm1', frame(1));
  clock.advance(5000);
  t.equal(sent.length, 0);
  t.equal(pushes.pending, 0);
  t.equal(counts.givenUp.unacked, 1);
});

t.test('pushes - acknowledged: never resent; after the first resend: no second one; unknown ids ignored', async (t) => {
  const { clock, counts, sent, pushes } = setup();
  pushes.track('a', 'm1', frame(1));
  pushes.track('a', 'm2', frame(2));
  pushes.track('b', 'm1', frame(1)); // the same message on another connection: acknowledged apart
  clock.advance(100);
  pushes.received('a', ['m1', 'nope', 'm1']);
  t.equal(counts.acked, 1, 'one pending id acknowledged; the unknown and the repeated one ignored');
  t.equal(counts.ackFrames, 1);
  t.equal(pushes.pending, 2);
  clock.advance(4900);
  t.same(sent.map((s) => `${s.conn}:${s.frame[3]}`).sort(), ['a:2', 'b:1'], 'only the unacknowledged ones are resent');
  pushes.received('a', ['m2']);
  pushes.received('b', ['m1']);
  clock.advance(10_000);
  t.equal(sent.length, 2, 'no second resend after the ACK');
  t.equal(pushes.pending, 0);
  t.same(counts.givenUp, { unacked: 0, overflow: 0, closed: 0 });
  t.equal(counts.acked, 3);
  pushes.received('a', ['m1']);
  t.equal(counts.acked, 3, 'an ACK of an id no longer pending changes nothing');
  t.equal(counts.ackFrames, 4, 'every RECEIVED frame is counted');
});

t.test('pushes - the same id pending twice on one connection is tracked once', async (t) => {
  const { clock, sent, pushes } = setup();
  pushes.track('a', 'm1', frame(1));
  pushes.track('a', 'm1', frame(1));
  pushes.track('a', 'm2', frame(2));
  pushes.track('a', 'm2', frame(2));
  t.equal(pushes.pending, 2);
  clock.advance(5000);
  t.equal(sent.length, 2);
});

t.test('pushes - a resend dropped by backpressure counts as a try', async (t) => {
  const { clock, counts, sent, pushes } = setup({}, () => false);
  pushes.track('slow', 'm1', frame(1));
  clock.advance(9000);
  t.equal(sent.length, 2, 'two tries, both dropped');
  t.equal(counts.resent, 2);
  t.equal(pushes.pending, 0);
  t.equal(counts.givenUp.unacked, 1);
});

t.test('pushes - beyond PUSH_PENDING_MAX the oldest of the connection are given up', async (t) => {
  const { clock, counts, sent, pushes } = setup({ pendingMax: 3 });
  for (let i = 1; i <= 5; i++) pushes.track('a', `m${i}`, frame(i));
  pushes.track('b', 'm1', frame(1));
  t.equal(pushes.pending, 4, '3 on a, 1 on b');
  t.equal(counts.givenUp.overflow, 2);
  pushes.received('a', ['m1', 'm2']);
  t.equal(counts.acked, 0, 'the ones given up are no longer pending');
  clock.advance(5000);
  t.same(sent.map((s) => `${s.conn}:${s.frame[3]}`).sort(), ['a:3', 'a:4', 'a:5', 'b:1']);
});

t.test('pushes - PUSH_PENDING_MAX 1: each new push replaces the one pending', async (t) => {
  const { clock, counts, sent, pushes } = setup({ pendingMax: 1 });
  pushes.track('a', 'm1', frame(1));
  pushes.track('a', 'm2', frame(2));
  t.equal(pushes.pending, 1);
  t.equal(counts.givenUp.overflow, 1);
  clock.advance(5000);
  t.same(sent.map((s) => s.frame[3]), [2]);
  t.throws(() => setup({ pendingMax: 0 }), RangeError);
});

t.test('pushes - a closed connection gives up what it had pending; the others carry on', async (t) => {
  const { clock, counts, sent, pushes } = setup();
  pushes.track('a', 'm1', frame(1));
  pushes.track('a', 'm2', frame(2));
  pushes.track('b', 'm3', frame(3));
  pushes.drop('a');
  pushes.drop('a');
  pushes.drop('never');
  t.equal(counts.givenUp.closed, 2, 'counted once');
  t.equal(pushes.pending, 1);
  clock.advance(5000);
  t.same(sent.map((s) => s.conn), ['b']);
});

t.test('pushes - one timer for every connection and message; runs at least RUN_SPACING_MS apart', async (t) => {
  const { clock, sent, pushes } = setup();
  const start = clock.t;
  let timers = 0;
  for (let i = 0; i < 1000; i++) {
    pushes.track(`c${i % 100}`, `m${i}`, frame(i % 256));
    if (i % 10 === 9) clock.advance(1); // pushes spread over 100 ms
    timers = Math.max(timers, clock.armed);
  }
  t.equal(timers, 1, 'never more than one timer');
  let runs = 0;
  let last = -1;
  while (sent.length < 1000 && clock.t - start < 6000) {
    clock.advance(1);
    if (sent.length !== last) {
      if (last >= 0) runs++;
      last = sent.length;
    }
  }
  t.equal(sent.length, 1000, 'every push resent once');
  t.ok(runs <= Math.ceil(100 / RUN_SPACING_MS) + 1, `the resends of pushes made over 100 ms took ${runs} timer runs`);
  t.ok(sent.every((s) => s.at - start >= 5000), 'none resent before its time');
  pushes.received('c0', ['m0']);
  t.ok(clock.armed <= 1);
});

t.test('pushes - acknowledged in order, the queues empty at once and hold no frames', async (t) => {
  const { clock, pushes } = setup();
  for (let i = 0; i < 10_000; i++) {
    pushes.track('a', `m${i}`, frame(1));
    pushes.received('a', [`m${i}`]);
  }
  t.equal(pushes.pending, 0);
  const queued = (pushes as unknown as { first: { items: unknown[] } }).first.items.length;
  t.equal(queued, 0, 'nothing left in the first-check queue');
  t.equal((pushes as unknown as { conns: Map<string, unknown> }).conns.size, 0, 'a connection with nothing pending has nothing here');
  clock.advance(10_000);
});

t.test('pushes - RECEIVED bodies: {ids: [1-100 strings of 1-64 chars]}, anything else ERROR 3', async (t) => {
  t.same(receivedIds({ ids: ['a'] }), ['a']);
  t.same(receivedIds({ ids: Array.from({ length: 100 }, (_, i) => `id-${i}`), extra: 1 }).length, 100);
  t.same(receivedIds({ ids: ['x'.repeat(64)] }), ['x'.repeat(64)]);
  const bad = [null, undefined, 1, 'ids', [], [['a']], {}, { ids: null }, { ids: 'a' }, { ids: {} }, { ids: [] }, { ids: Array.from({ length: 101 }, () => 'a') }, { ids: [''] }, { ids: ['x'.repeat(65)] }, { ids: [1] }, { ids: ['a', null] }, { ids: [['a']] }, { ids: [{}] }];
  for (const body of bad) {
    let code: number | null = null;
    try {
      receivedIds(body);
    } catch (err) {
      code = err instanceof ProtocolError ? err.entry.code : -1;
    }
    t.equal(code, 3, `ERROR 3 for ${JSON.stringify(body)?.slice(0, 40)}`);
  }
});
