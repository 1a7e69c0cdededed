// The contract every Intake implementation passes: memory (standalone), Redis (cluster), and
// the fallback both while Redis answers and while it is down (then numbers are 0,
// "unsequenced", and the instances are one process).

import type { Test } from 'tap';
import type { Intake, IntakeStep } from '../../src/store/intake/index.js';
import { sleep, type Fixture } from './fixture.js';

export interface IntakeContractOptions {
  /** false: the fallback while Redis is down, which answers seq 0 */
  readonly sequenced?: boolean;
}

const step = (over: Partial<IntakeStep>): IntakeStep => ({ claimTtlMs: 10_000, bucket: 'u:a', rate: 1000, burst: 1000, scope: 'room:r', ...over });

export function intakeContract(t: Test, make: () => Promise<Fixture<Intake>>, opts: IntakeContractOptions = {}): void {
  const sequenced = opts.sequenced ?? true;
  const n = (x: number) => (sequenced ? x : 0);

  t.test('intake - numbers increase per scope across instances, also when admitted together', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [a, b] = [await f.instance(), await f.instance()];
    const verdicts = await Promise.all(Array.from({ length: 300 }, (_, i) => (i % 2 ? a : b).admit(step({ bucket: `u:${i % 7}`, claim: `u${i}|m` }))));
    const seqs = verdicts.map((v) => ('seq' in v ? v.seq : -1)).sort((x, y) => x - y);
    t.same(seqs, Array.from({ length: 300 }, (_, i) => n(i + 1)), 'every one accepted, no gaps, no repeats');
    t.same(await a.admit(step({ scope: 'room:other' })), { seq: n(1) }, 'independent scopes');
  });

  t.test('intake - a claimed id is in flight, then answers its number once settled; release frees it', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [a, b] = [await f.instance(), await f.instance()];
    t.same(await a.admit(step({ claim: 'a|m1' })), { seq: n(1) }, 'first claim');
    t.same(await b.admit(step({ claim: 'a|m1' })), { inFlight: true }, 'in flight');
    await a.settle('a|m1', 1, 10_000);
    t.same(await b.admit(step({ claim: 'a|m1' })), { dup: 1 }, 'settled: the retry gets the first number');
    t.same(await a.admit(step({ claim: 'a|m0' })), { seq: n(2) });
    await a.settle('a|m0', 0, 10_000);
    t.same(await b.admit(step({ claim: 'a|m0' })), { dup: 0 }, 'settled unsequenced (0) is a duplicate, not in flight');
    t.same(await a.admit(step({ claim: 'a|m2' })), { seq: n(3) });
    await a.release('a|m2');
    t.same(await a.admit(step({ claim: 'a|m2' })), { seq: n(4) }, 'a released claim is processed anew');
    await a.release('a|m2');
    t.same(await a.admit(step({ claim: 'a|m3', claimTtlMs: 200 })), { seq: n(5) });
    await sleep(300);
    t.same(await a.admit(step({ claim: 'a|m3', claimTtlMs: 200 })), { seq: n(6) }, 'claims lapse after their ttl');
    await a.release('a|m3');
    const same = await Promise.all([a.admit(step({ claim: 'a|m4' })), a.admit(step({ claim: 'a|m4' }))]);
    t.same(same, [{ seq: n(7) }, { inFlight: true }], 'two attempts admitted together: one number, one in flight');
    await a.release('a|m4');
  });

  t.test('intake - the rate limit is shared, refills, and a refusal takes no number and frees the claim', async (t) => {
    const f = await make();
    t.teardown(() => f.close());
    const [a, b] = [await f.instance(), await f.instance()];
    // 0.01/s: nothing refills during the test, however slow the machine.
    const slow = (o: Partial<IntakeStep>) => step({ bucket: 'u:b', rate: 0.01, burst: 3, ...o });
    const first = await Promise.all(Array.from({ length: 5 }, (_, i) => (i % 2 ? a : b).admit(slow({ claim: `b|x${i}` }))));
    t.equal(first.filter((v) => 'seq' in v).length, 3, 'the burst, shared by every instance');
    t.equal(first.filter((v) => 'limited' in v).length, 2);
    for (const [i, v] of first.entries()) if ('seq' in v) await a.settle(`b|x${i}`, v.seq, 10_000);
    const refused = first.findIndex((v) => 'limited' in v);
    const accepted = first.findIndex((v) => 'seq' in v);
    t.same(await a.admit(slow({ claim: `b|x${accepted}` })), { dup: (first[accepted] as { seq: number }).seq }, 'a duplicate is answered with an empty bucket');
    t.same(await a.admit(slow({})), { limited: true }, 'and took no token');
    t.same(await b.admit(step({ bucket: 'u:other', claim: `b|x${refused}` })), { seq: n(4) }, 'refusals took no number and freed their claim; buckets are per key');
    t.same(await a.admit(step({ bucket: 'u:c', rate: 10, burst: 1 })), { seq: n(5) });
    await sleep(250);
    t.same(await b.admit(step({ bucket: 'u:c', rate: 10, burst: 1 })), { seq: n(6) }, 'refilled after 250 ms at 10/s');
  });
}
