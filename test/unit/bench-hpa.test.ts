import t from 'tap';
import { Autoscaler, DEFAULT_SCALE_DOWN, DEFAULT_SCALE_UP, externalReplicas, milli, podsReplicas, recommend, type HpaSpec } from '../../bench/lib/hpa.js';
import { adapterQuantile, adapterRule, compare, kedaQueryFor, quantity, readAutoscaling } from '../../bench/lib/hpa-manifests.js';
import { Follower, PodReader } from '../../bench/lib/rehearsal-run.js';
import { bucketsBetween, bucketsOf, histogramQuantile } from '../../bench/lib/prom.js';

/** A single-metric HPA (danmaku_connections, a Pods metric) whose target is `target`. */
const spec = ({ target = 8000, ...over }: Partial<HpaSpec> & { target?: number } = {}): HpaSpec & { target: number } => ({
  name: 'gw',
  minReplicas: 2,
  maxReplicas: 10,
  metrics: [{ name: 'danmaku_connections', source: 'Pods', targetType: 'AverageValue', target }],
  target,
  scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 30 }, { type: 'Pods', value: 4, periodSeconds: 30 }], tolerance: 0.1 },
  scaleDown: { stabilizationWindowSeconds: 600, selectPolicy: 'Min', policies: [{ type: 'Pods', value: 1, periodSeconds: 120 }], tolerance: 0.1 },
  ...over,
});

t.test('bench hpa - desired is ceil(current x metric / target), unchanged within the 10% tolerance', async (t) => {
  const s = spec();
  t.equal(recommend(s, 2, 8000), 2, 'at the target');
  t.equal(recommend(s, 2, 8799), 2, 'under +10%: within the tolerance (2.2 would round up to 3)');
  t.equal(recommend(s, 2, 8800), 3, 'exactly +10% is 1.1000000000000001 in float64: out, as in the controller');
  t.equal(recommend(s, 2, 8801), 3, 'just past it');
  t.equal(recommend(s, 2, 7201), 2, 'just under -10%: within');
  t.equal(recommend(s, 4, 7100), 4, '-11.25% of 4 pods: ceil(3.55) is 4 anyway');
  t.equal(recommend(s, 10, 7100), 9, '-11.25% of 10: 8.875 up to 9');
  t.equal(recommend(s, 3, 16000), 6, 'twice the target: twice the pods');
  t.equal(recommend(s, 2, 0), 0, 'nothing: zero before min/max');
  t.equal(recommend(spec({ target: 0.02 }), 2, 0.025), 3, 'a latency target in seconds: 1.25 x 2');
  const tight = { ...s, scaleUp: { ...s.scaleUp, tolerance: 0.01 } };
  t.equal(recommend(tight, 2, 8400), 3, 'a behaviour tolerance replaces the default (up only)');
  t.equal(recommend(tight, 2, 7400), 2, '... the down side keeps its own');
});

t.test('bench hpa - min and max replicas bound what the metric asks for', async (t) => {
  const a = new Autoscaler(spec({ scaleDown: { ...spec().scaleDown, stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] } }));
  const low = a.sync(0, 3, 100);
  t.equal(low.recommended, 1);
  t.equal(low.desired, 2, 'never below minReplicas');
  t.equal(low.limitedBy, 'minReplicas');
  const b = new Autoscaler(spec({ scaleUp: { ...spec().scaleUp, policies: [{ type: 'Pods', value: 100, periodSeconds: 15 }] } }));
  const high = b.sync(0, 4, 40000);
  t.equal(high.recommended, 20);
  t.equal(high.desired, 10, 'never above maxReplicas');
  t.equal(high.limitedBy, 'maxReplicas');
  t.equal(new Autoscaler(spec()).sync(0, 12, 8000).desired, 10, 'a current above max is brought to max first');
  t.equal(new Autoscaler(spec()).sync(0, 1, 8000).desired, 2, 'and one below min to min');
});

t.test('bench hpa - scale-up policies: the larger of 100% and 4 pods per 30 s, counted from the period start', async (t) => {
  const a = new Autoscaler(spec({ maxReplicas: 50 }));
  const first = a.sync(0, 2, 40000); // asks for 10
  t.equal(first.recommended, 10);
  t.equal(first.desired, 6, '2 + 4 pods beats 2 x 200%');
  t.equal(first.limitedBy, 'scale-up policy');
  const second = a.sync(15, 6, 80000 / 6);
  t.equal(second.recommended, 10);
  t.equal(second.desired, 6, 'within the same 30 s the period started at 2 pods: no more');
  const third = a.sync(31, 6, 120000 / 6);
  t.equal(third.recommended, 15);
  t.equal(third.desired, 12, 'a new period: 100% of 6 beats 6 + 4');
});

t.test('bench hpa - scale-down waits out the stabilisation window, then one pod per period', async (t) => {
  const a = new Autoscaler(spec());
  t.equal(a.sync(0, 2, 16000).desired, 4, 'a peak: twice the target per pod asks for twice the pods');
  let current = 4;
  const seen: number[] = [];
  for (let at = 15; at <= 900; at += 15) {
    const r = a.sync(at, current, 1000 / current); // the crowd has gone: 1,000 connections in all
    current = r.desired;
    seen.push(current);
  }
  // The peak's recommendation (4) is the highest of the window until 600 s; the later ones ask for 1.
  t.equal(seen[Math.round(585 / 15) - 1], 4, 'still 4 at 585 s: the peak is within the 600 s window');
  const firstDrop = 15 * (seen.findIndex((n) => n < 4) + 1);
  t.ok(firstDrop >= 600 && firstDrop <= 615, `the first pod goes once the peak has left the window (${firstDrop} s)`);
  const second = 15 * (seen.findIndex((n) => n < 3) + 1);
  t.ok(second - firstDrop >= 120, `one pod per 120 s (${firstDrop} s, then ${second} s)`);
  t.equal(current, 2, 'and down to minReplicas, not below');
});

t.test('bench hpa - a scale-up window takes the lowest recommendation of the window', async (t) => {
  const a = new Autoscaler(spec({ target: 0.02, scaleUp: { stabilizationWindowSeconds: 30, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 60 }], tolerance: 0.1 } }));
  t.equal(a.sync(0, 2, 0.01).desired, 2, 'calm');
  const spike = a.sync(15, 2, 0.05);
  t.equal(spike.recommended, 5);
  t.equal(spike.desired, 2, 'one spike within 30 s of a calm reading: held');
  t.equal(spike.limitedBy, 'scale-up window');
  const sustained = a.sync(30, 2, 0.05);
  t.equal(sustained.desired, 4, 'once the calm reading has left the 30 s window: up, at most 100% per 60 s');
  t.equal(sustained.limitedBy, 'scale-up policy');
  const held = a.sync(45, 4, 0.05);
  t.equal(held.recommended, 10);
  t.equal(held.desired, 4, 'within the same 60 s: no more than twice the period start');
});

t.test('bench hpa - defaults for a behaviour the manifest leaves out are autoscaling/v2\'s', async (t) => {
  t.equal(DEFAULT_SCALE_UP.stabilizationWindowSeconds, 0);
  t.equal(DEFAULT_SCALE_DOWN.stabilizationWindowSeconds, 300);
  t.same(DEFAULT_SCALE_UP.policies.map((p) => [p.type, p.value, p.periodSeconds]), [['Percent', 100, 15], ['Pods', 4, 15]]);
});

t.test('bench hpa - quantities and the adapter rule', async (t) => {
  t.equal(quantity('8000'), 8000);
  t.equal(quantity('20m'), 0.02);
  t.equal(quantity('500m'), 0.5);
  t.equal(quantity('1'), 1);
  t.equal(quantity('256Mi'), 256 * 1024 * 1024);
  t.equal(quantity('1.5k'), 1500);
  t.throws(() => quantity('8,000'));
  t.same(adapterQuantile('histogram_quantile(0.99, sum by (le) (rate(x[2m])))'), { quantile: 0.99, windowSeconds: 120, minRate: 0, scale: 1 });
  t.same(adapterQuantile('(histogram_quantile(0.9, sum by (le) (rate(x[1m]))) * 1000 and on (pod) (sum by (pod) (rate(x{le="+Inf"}[1m])) > 20)) or vector(0)'), { quantile: 0.9, windowSeconds: 60, minRate: 20, scale: 1000 }, 'the gate on the request rate, and seconds to ms');
  t.throws(() => adapterQuantile('sum(x)'));
});

t.test('bench hpa - the rehearsal reads the manifests\' targets, and both overlays scale the same', async (t) => {
  const m = readAutoscaling();
  t.equal(m.gateway.name, 'danmaku-gateway');
  t.same(m.gateway.metrics.map((x) => x.name), ['danmaku_connections']);
  t.same(m.logic.metrics.map((x) => x.name), ['danmaku_logic_requests_per_second', 'danmaku_logic_request_p99_milliseconds'], 'logic: the request rate first, the gated latency second');
  const [rate, p99] = m.logic.metrics;
  t.ok(m.gateway.metrics[0]!.target >= 1000 && m.gateway.metrics[0]!.target <= 16000, `gateway target ${m.gateway.metrics[0]!.target} connections per pod`);
  t.ok(rate!.target >= 100 && rate!.target <= 100000, `logic rate target ${rate!.target}/s per pod`);
  t.equal(p99!.target, 15, 'logic p99 target 15 ms');
  t.equal(m.gateway.scaleDown.stabilizationWindowSeconds, 600, 'the scale-down window the gateway HPA sets');
  t.equal(m.gateway.scaleUp.tolerance, 0.1, 'no tolerance in the manifest: the controller\'s 0.1');
  t.match(m.rules['danmaku_logic_request_p99_milliseconds'], { kind: 'quantile', quantile: 0.99, windowSeconds: 120, minRate: 20, scale: 1000, series: 'danmaku_logic_request_seconds_bucket' }, 'the adapter\'s p99 over 2 minutes in ms, above 20 requests/s');
  t.match(m.rules['danmaku_logic_requests_per_second'], { kind: 'rate', windowSeconds: 60, series: 'danmaku_logic_request_seconds_count' });
  t.match(m.rules['danmaku_connections'], { kind: 'gauge', series: 'danmaku_connections' });
  t.equal(m.namespace, 'danmaku');
  t.ok(m.resources.gateway.cpuLimit >= m.resources.gateway.cpuRequest, 'a CPU limit at or above the request');
  t.same(compare(m.gateway, m.keda.gateway, m.rules, m.namespace, 'gateway'), [], 'KEDA scales gateways as the HPA does');
  t.same(compare(m.logic, m.keda.logic, m.rules, m.namespace, 'logic'), [], 'and logic processes, trigger by trigger');
  t.equal(m.keda.gateway.pollingInterval, 15, 'KEDA polls as often as the HPA syncs');
  const drifted = { ...m.keda.logic, metrics: m.keda.logic.metrics.map((x, i) => (i === 1 ? { ...x, target: x.target * 2 } : x)) };
  t.match(compare(m.logic, drifted, m.rules, m.namespace, 'logic'), [/target of danmaku_logic_request_p99_milliseconds/], 'a drifted target is named');
  const pooled = { ...m.keda.logic, metrics: m.keda.logic.metrics.map((x, i) => (i === 1 ? { ...x, name: 'histogram_quantile(0.99, sum by (le) (rate(danmaku_logic_request_seconds_bucket{namespace="danmaku",role="logic"}[2m])))' } : x)) };
  t.match(compare(m.logic, pooled, m.rules, m.namespace, 'logic'), [/query is not the sum over pods/], 'a query pooling the pods\' p99 (not what the adapter averages) is named');
  const value = { ...m.keda.gateway, metrics: m.keda.gateway.metrics.map((x) => ({ ...x, targetType: 'Value' as const })) };
  t.match(compare(m.gateway, value, m.rules, m.namespace, 'gateway'), [/Value/], 'and a Value threshold');
  t.match(compare(m.logic, { ...m.keda.logic, metrics: m.keda.logic.metrics.slice(0, 1) }, m.rules, m.namespace, 'logic'), [/2 metrics \(HPA\) vs 1 triggers/], 'and a missing trigger');
});

t.test('bench hpa - the derived KEDA query: the rule per pod, summed', async (t) => {
  const rule = adapterRule({ seriesQuery: 'x_count{namespace!="",pod!=""}', name: { as: 'x_per_second' }, metricsQuery: 'sum by (<<.GroupBy>>) (rate(<<.Series>>{<<.LabelMatchers>>}[1m]))' });
  t.equal(kedaQueryFor(rule, 'ns', 'logic'), 'sum((sum by (pod) (rate(x_count{namespace="ns",role="logic"}[1m]))) and on (pod) (up{namespace="ns"} == 1))', 'only pods scraped now: a rate window still holds a pod that is gone');
});

t.test('bench hpa - values reach the controller in milli-units, truncated', async (t) => {
  t.equal(milli(0.0149999), 14);
  t.equal(milli(0.015), 15, '0.015 x 1000 is 15.000000000000002 in float64: 15');
  t.equal(milli(8000), 8_000_000);
  const s = spec({ target: 0.015 });
  t.equal(recommend(s, 2, 0.01699), 2, '16.99 ms (13% over 15 ms) reaches the controller as 16m: +6.7%, within the tolerance');
  t.equal(recommend(s, 2, 0.017), 3, '17 ms is 17m, 13% over: out');
  const r = podsReplicas(s, 3, 0.015, [0.0100009, 0.0100009, 0.0100009]);
  t.equal(r.value, 0.01, 'the average of three 10.0009 ms reads as 10m');
});

t.test('bench hpa - pods without a value: left out, then counted at the target or at 0, whichever holds the change back', async (t) => {
  const s = spec();
  // 2 pods at 12,000 and 2 starting (no value): at 0 the average is 6,000, under the target: no change.
  t.equal(podsReplicas(s, 4, 8000, [12000, 12000, null, null]).replicas, 4, 'a scale-up that the missing pods at 0 would reverse: held');
  // 2 pods at 20,000, 1 starting: at 0 the average is 13,333: ceil(1.667 x 3) = 5.
  t.equal(podsReplicas(s, 3, 8000, [20000, 20000, null]).replicas, 5, 'a scale-up, with the missing pod counted at 0');
  // 3 pods at 2,000, 1 missing: at the target the average is 3,500: ceil(0.4375 x 4) = 2.
  t.equal(podsReplicas(s, 4, 8000, [2000, 2000, 2000, null]).replicas, 2, 'a scale-down, with the missing pod counted at the target');
  t.equal(podsReplicas(s, 4, 8000, [12000, 12000, 12000, 12000]).replicas, 6, 'everyone reports: ceil(1.5 x 4)');
  t.equal(podsReplicas(s, 2, 8000, [null, null]).replicas, null, 'no pod reports: the metric cannot be computed');
  t.equal(podsReplicas(s, 4, 12000, [12000, 12000, null, null]).replicas, 4, 'at a ratio of exactly 1 the missing pods are counted at neither: no change');
  t.equal(podsReplicas(s, 4, 8000, [4000, 4000], 2).replicas, 1, 'Pending pods are left out of a scale-down: ceil(0.5 x 2 ready)');
  t.equal(podsReplicas(s, 4, 8000, [16000, 16000], 2).replicas, 4, 'and counted at 0 to hold a scale-up back: 4 x 8,000 average is the target');
  t.equal(podsReplicas(s, 3, 8000, [20000, 20000], 1).replicas, 5, 'a scale-up past the Pending pod at 0: ceil(1.667 x 3)');
});

t.test('bench hpa - External AverageValue (KEDA): ceil(value / target), the tolerance on value / (target x current)', async (t) => {
  const s = spec();
  const m = { target: 8000, targetType: 'AverageValue' as const };
  t.equal(externalReplicas(s, 2, m, 17599).replicas, 2, '17,599 over 2 pods is under +10%: within');
  t.equal(externalReplicas(s, 2, m, 17600).replicas, 3, 'exactly +10% is 1.1000000000000001 in float64: out, as for Pods');
  t.equal(externalReplicas(s, 4, m, 1000).replicas, 1, 'down: ceil(1,000 / 8,000)');
  t.equal(externalReplicas(s, 2, m, null).replicas, null, 'the query failed');
  t.equal(externalReplicas(s, 2, { target: 0.015, targetType: 'Value' }, 0.03).replicas, 4, 'Value: ratio x current');
  // With every pod reporting, the adapter's average and KEDA's sum ask for the same, over many readings.
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  let differ = 0;
  for (let i = 0; i < 2000; i++) {
    const n = 1 + Math.floor(rnd() * 8);
    const pods = Array.from({ length: n }, () => Math.round(rnd() * 20000));
    const a = podsReplicas(s, n, 8000, pods).replicas;
    const k = externalReplicas(s, n, m, pods.reduce((x, y) => x + y, 0)).replicas;
    if (a !== k) differ++;
  }
  t.equal(differ, 0, 'adapter (Pods) and KEDA (External AverageValue) agree on 2,000 random integer readings');
  // Fractional latencies in ms (the adapter rule's unit): the adapter truncates each pod's, KEDA the sum, at a thousandth of a ms.
  const ms = { target: 15, targetType: 'AverageValue' as const };
  let apart = 0;
  for (let i = 0; i < 20000; i++) {
    const n = 2 + Math.floor(rnd() * 7);
    const pods = Array.from({ length: n }, () => rnd() * 30);
    if (podsReplicas(s, n, 15, pods).replicas !== externalReplicas(s, n, ms, pods.reduce((x, y) => x + y, 0)).replicas) apart++;
  }
  t.ok(apart <= 20, `p99s in ms (0-30 ms, 2-8 pods): the two ask for other replicas on ${apart} of 20,000 readings (at most 0.1%: only where the ratio is within a microsecond of a tolerance edge)`);
});

t.test('bench hpa - several metrics: the largest ask wins; a failed one blocks a scale-down only', async (t) => {
  const s: HpaSpec = { ...spec(), metrics: [{ name: 'rate', source: 'Pods', targetType: 'AverageValue', target: 1000 }, { name: 'p99', source: 'Pods', targetType: 'AverageValue', target: 0.015 }] };
  const calm = new Autoscaler({ ...s, scaleDown: { ...s.scaleDown, stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] } });
  const busy = calm.sync(0, 2, [{ pods: [1500, 1500] }, { pods: [0.005, 0.005] }]);
  t.equal(busy.recommended, 3, 'the rate asks for 3, the latency for 1');
  t.equal(busy.decidedBy, 0);
  const slow = calm.sync(15, 3, [{ pods: [900, 900, 900] }, { pods: [0.03, 0.03, 0.03] }]);
  t.equal(slow.recommended, 6, 'saturated at a lower rate: the latency asks for 6');
  t.equal(slow.decidedBy, 1);
  const blind = calm.sync(30, 6, [{ pods: [100, 100, 100, 100, 100, 100] }, { pods: [null, null, null, null, null, null] }]);
  t.equal(blind.desired, 6, 'the latency cannot be computed and the rate would scale down: nothing changes');
  t.equal(blind.limitedBy, 'metrics missing');
  const up = calm.sync(45, 6, [{ pods: [2000, 2000, 2000, 2000, 2000, 2000] }, { pods: [null, null, null, null, null, null] }]);
  t.equal(up.recommended, 12, 'but a scale-up goes ahead');
  t.ok(up.desired > 6, `(as far as the policies let it: ${up.desired})`);
});

t.test('bench rehearsal - a pod\'s values from its /metrics, as the adapter rules compute them', async (t) => {
  const m = readAutoscaling();
  const reader = new PodReader(m.rules);
  const text = (count: number, fast: number, cpu: number) => [
    `process_cpu_seconds_total ${cpu}`,
    `danmaku_logic_request_seconds_bucket{le="0.005",op="send"} ${fast}`,
    `danmaku_logic_request_seconds_bucket{le="0.05",op="send"} ${count}`,
    `danmaku_logic_request_seconds_bucket{le="+Inf",op="send"} ${count}`,
    `danmaku_logic_request_seconds_count{op="send"} ${count}`,
  ].join('\n');
  const first = reader.add('logic-0', 'logic', 0, text(0, 0, 1));
  const p99 = 'danmaku_logic_request_p99_milliseconds';
  t.equal(first.values['danmaku_logic_requests_per_second'], null, 'one reading: no rate yet');
  const second = reader.add('logic-0', 'logic', 15, text(15000, 15000, 4));
  t.equal(second.values['danmaku_logic_requests_per_second'], 1000, '15,000 requests in 15 s');
  t.equal(second.cores, 0.2, '3 s of CPU in 15 s');
  t.ok(Math.abs(second.values[p99]! - 4.95) < 1e-9, `the p99 in the first bucket, in ms (${second.values[p99]})`);
  reader.add('logic-0', 'logic', 90, text(15050, 15050, 4.2));
  const idle = reader.add('logic-0', 'logic', 180, text(15100, 15100, 4.5));
  t.equal(idle.values['danmaku_logic_request_p99_milliseconds'], 0, '50 requests over the readings of the 2-minute window (under 20/s): 0');
  t.equal(idle.values['danmaku_logic_requests_per_second'], null, 'no other reading within the rate\'s 1-minute window: no value, as PromQL\'s rate()');
  const gw = new PodReader(m.rules).add('gw-0', 'gateway', 0, 'danmaku_connections{node="gw-0"} 4200');
  t.equal(gw.values['danmaku_connections'], 4200);
});

t.test('bench rehearsal - a follower counts the pods it asked for: missing while they start, then holding nothing', async (t) => {
  const m = readAutoscaling();
  const f = new Follower(new Autoscaler(m.gateway), ['danmaku_connections'], m.rules, 2, 30);
  const reading = (name: string, c: number) => ({ name, role: 'gateway' as const, cores: 0.3, values: { danmaku_connections: c } });
  const peak = [reading('gw-0', 12000), reading('gw-1', 12000)];
  const first = f.sync(15, peak);
  t.equal(first.desired, 3, '24,000 over 2 pods: 3');
  t.same(f.pods(20), { started: 0, pending: 1, starting: 0 }, 'Pending for its first 15 s');
  t.same(f.inputs(20, peak), [{ pods: [12000, 12000], unready: 1 }], 'left out, as the controller leaves Pending pods');
  t.same(f.pods(35), { started: 0, pending: 0, starting: 1 }, 'then running, not scraped yet');
  t.same(f.inputs(35, peak), [{ pods: [12000, 12000, null] }], 'a pod without a value (missing)');
  const held = f.sync(35, peak);
  t.equal(held.desired, 3, 'with the new pod counted at 0 the average is 8,000: no more');
  t.same(f.inputs(45, peak), [{ pods: [12000, 12000, 0] }], 'started: it holds nothing');
  const keda = new Follower(new Autoscaler(m.keda.gateway), ['danmaku_connections'], m.rules, 2, 30);
  t.same(keda.inputs(15, peak), [{ external: 24000 }], 'KEDA sums the series there are');
});

t.test('bench prom - histogram_quantile as PromQL computes it, over the increase between two readings', async (t) => {
  const text = (n: number[]) => ['0.005', '0.01', '0.025', '0.05', '+Inf'].map((le, i) => `danmaku_logic_request_seconds_bucket{le="${le}",op="send"} ${n[i]}\ndanmaku_logic_request_seconds_bucket{le="${le}",op="msg"} 0`).join('\n');
  const a = bucketsOf(text([10, 10, 10, 10, 10]), 'danmaku_logic_request_seconds');
  const b = bucketsOf(text([60, 100, 110, 110, 110]), 'danmaku_logic_request_seconds');
  const d = bucketsBetween(a, b);
  t.same([...d.values()], [50, 90, 100, 100, 100], 'summed by le over ops, then the increase');
  t.equal(histogramQuantile(0.5, d), 0.005, 'rank 50 at the top of the first bucket');
  t.ok(Math.abs(histogramQuantile(0.99, d) - (0.01 + 0.015 * (9 / 10))) < 1e-12, 'rank 99: 9 of the 10 in (10 ms, 25 ms]: linear');
  t.ok(Number.isNaN(histogramQuantile(0.99, bucketsBetween(a, a))), 'nothing observed: NaN (the adapter rule reads 0)');
  const inf = new Map([[0.01, 0], [0.05, 0], [Infinity, 5]]);
  t.equal(histogramQuantile(0.99, inf), 0.05, 'in +Inf: the highest finite bound');
  t.ok(Number.isNaN(histogramQuantile(0.5, new Map([[0.01, 5]]))), 'no +Inf bucket: NaN');
});
