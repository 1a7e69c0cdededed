import t from 'tap';
import { Autoscaler, DEFAULT_SCALE_DOWN, DEFAULT_SCALE_UP, recommend, type HpaSpec } from '../../bench/lib/hpa.js';
import { adapterQuantile, compare, quantity, readAutoscaling } from '../../bench/lib/hpa-manifests.js';
import { bucketsBetween, bucketsOf, histogramQuantile } from '../../bench/lib/prom.js';

const spec = (over: Partial<HpaSpec> = {}): HpaSpec => ({
  name: 'gw',
  minReplicas: 2,
  maxReplicas: 10,
  metric: 'danmaku_connections',
  target: 8000,
  targetType: 'AverageValue',
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
  t.equal(recommend({ ...s, target: 0.02 }, 2, 0.025), 3, 'a latency target in seconds: 1.25 x 2');
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
  t.same(adapterQuantile('histogram_quantile(0.99, sum by (le) (rate(x[2m])))'), { quantile: 0.99, windowSeconds: 120, minRate: 0 });
  t.same(adapterQuantile('(histogram_quantile(0.9, sum by (le) (rate(x[1m]))) and on (pod) (sum by (pod) (rate(x{le="+Inf"}[1m])) > 20)) or vector(0)'), { quantile: 0.9, windowSeconds: 60, minRate: 20 }, 'the gate on the request rate');
  t.throws(() => adapterQuantile('sum(x)'));
});

t.test('bench hpa - the rehearsal reads the manifests\' targets, and both overlays agree', async (t) => {
  const m = readAutoscaling();
  t.equal(m.gateway.name, 'danmaku-gateway');
  t.equal(m.gateway.metric, 'danmaku_connections');
  t.equal(m.logic.metric, 'danmaku_logic_request_seconds_p99');
  t.ok(m.gateway.target >= 1000 && m.gateway.target <= 16000, `gateway target ${m.gateway.target} connections per pod`);
  t.ok(m.logic.target > 0 && m.logic.target < 1, `logic target ${m.logic.target} s`);
  t.equal(m.gateway.scaleDown.stabilizationWindowSeconds, 600, 'the scale-down window the gateway HPA sets');
  t.equal(m.gateway.scaleUp.tolerance, 0.1, 'no tolerance in the manifest: the controller\'s 0.1');
  t.same(m.logicLatency, { quantile: 0.99, windowSeconds: 120, minRate: 20 }, 'the adapter\'s p99 over 2 minutes, above 20 requests/s');
  t.ok(m.resources.gateway.cpuLimit >= m.resources.gateway.cpuRequest, 'a CPU limit at or above the request');
  t.same(compare(m.gateway, m.keda.gateway), [], 'KEDA scales gateways as the HPA does');
  t.same(compare(m.logic, m.keda.logic), [], 'and logic processes');
  t.equal(m.keda.gateway.pollingInterval, 15, 'KEDA polls as often as the HPA syncs');
  t.match(compare(m.gateway, { ...m.keda.gateway, target: m.gateway.target + 1 }), [/target/], 'a drifted target is named');
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
