import t from 'tap';
import { FallbackStore } from '../../src/store/fallback.js';
import { MemoryIntake } from '../../src/store/intake/memory.js';
import { MemoryDeduper, MemoryRateLimiter } from '../../src/store/limits/memory.js';
import { MemorySequencer } from '../../src/store/sequence/memory.js';

t.test('fallback - a failing Redis is skipped, probed by one call at a time, and recovery is reported once', async (t) => {
  const numbers = new MemorySequencer();
  const primary = { sequencer: new MemorySequencer(), intake: new MemoryIntake(new MemoryDeduper(), new MemoryRateLimiter(), (s) => numbers.next(s)) };
  const local = { intake: new MemoryIntake(new MemoryDeduper(), new MemoryRateLimiter(), async () => 0) };
  let down = true;
  let calls = 0;
  primary.sequencer.next = async () => {
    calls++;
    await new Promise((r) => setTimeout(r, 20));
    if (down) throw new Error('redis down');
    return 7;
  };
  const states: boolean[] = [];
  let fallbacks = 0;
  const store = new FallbackStore(primary, local, { coolDownMs: 50, observer: { storeFallback: () => fallbacks++ }, onStateChange: (d) => states.push(d) });
  t.equal(await store.sequencer.next('s'), 0, 'unsequenced while the primary fails');
  t.same(states, [true], 'degraded, reported once');
  calls = 0;
  t.same(await Promise.all(Array.from({ length: 10 }, () => store.sequencer.next('s'))), Array(10).fill(0), 'during the cool-down nobody waits for the primary');
  t.equal(calls, 0);
  await new Promise((r) => setTimeout(r, 60));
  down = false;
  const after = await Promise.all(Array.from({ length: 10 }, () => store.sequencer.next('s')));
  t.equal(calls, 1, 'after the cool-down one call probes, the others use the fallback');
  t.equal(after.filter((s) => s === 7).length, 1);
  t.same(states, [true, false], 'recovery reported once');
  t.equal(await store.sequencer.next('s'), 7, 'then the primary serves everything again');
  t.ok(fallbacks >= 19, 'every fallback counted');
  t.same(await store.intake.admit({ claimTtlMs: 1_000, bucket: 'u:u', rate: 1, burst: 1, scope: 'room:s' }), { seq: 1 }, 'other operations still work');
});
