import t from 'tap';
import { Autoscaler } from '../../bench/lib/hpa.js';
import { readAutoscaling } from '../../bench/lib/hpa-manifests.js';
import { figures, rehearsalMarkdown, rehearsalSvg, type RehearsalReport } from '../../bench/lib/rehearsal-report.js';
import { Follower, cohortSizes, type SyncPoint } from '../../bench/lib/rehearsal-run.js';
import { parseRehearsalOptions } from '../../bench/rehearsal.js';

t.test('bench rehearsal - the crowd arrives early: cohorts shrink and add up to the peak', async (t) => {
  const sizes = cohortSizes(12000, 6);
  t.equal(sizes.reduce((a, b) => a + b, 0), 12000);
  for (let i = 1; i < sizes.length; i++) t.ok(sizes[i]! <= sizes[i - 1]!, `cohort ${i} no larger than the one before (${sizes.join(', ')})`);
  t.same(cohortSizes(5, 1), [5]);
});

t.test('bench rehearsal - its own flags are split from the shared ones', async (t) => {
  const { crowd, rest } = parseRehearsalOptions(['--peak', '9000', '--gateways', '3', '--hold=20', '--server-cpu', '0.5', '--sync', '5']);
  t.equal(crowd.peak, 9000);
  t.equal(crowd.holdS, 20);
  t.equal(crowd.syncS, 5);
  t.equal(crowd.arriveS, 30, 'defaults');
  t.same(rest, ['--gateways', '3', '--server-cpu', '0.5']);
  t.throws(() => parseRehearsalOptions(['--peak', 'many']), /--peak/);
});

/** A synthetic run: connections rise to 20,000 and fall, over 2 gateways and 2 logic processes; SENDs follow. */
function report(): RehearsalReport {
  const m = readAutoscaling();
  const follow = (h: typeof m.gateway, keyed: typeof m.gateway) => new Follower(new Autoscaler(h), keyed.metrics.map((x) => x.name), m.rules, 2, 30);
  const hpa = { gateway: follow(m.gateway, m.gateway), logic: follow(m.logic, m.logic) };
  const keda = { gateway: follow(m.keda.gateway, m.gateway), logic: follow(m.keda.logic, m.logic) };
  const load = [4000, 15000, 20000, 20000, 12000, 2000, 0];
  const rateTarget = m.logic.metrics[0]!.target;
  const syncs: SyncPoint[] = load.map((c, i) => {
    const t = (i + 1) * 15;
    const sends = Math.round((c / 20000) * rateTarget * 3);
    const p99 = 4; // ms: under the target throughout, so that the request rate decides
    const gw = (name: string) => ({ name, role: 'gateway' as const, cores: 0.2 + c / 50000, values: { danmaku_connections: c / 2 } });
    const lg = (name: string) => ({ name, role: 'logic' as const, cores: 0.1, values: { danmaku_logic_requests_per_second: sends / 2, danmaku_logic_request_p99_milliseconds: p99 } });
    const processes = [gw('gw-0'), gw('gw-1'), lg('logic-0'), lg('logic-1')];
    const pods = { gateway: hpa.gateway.pods(t), logic: hpa.logic.pods(t) };
    const gateway = hpa.gateway.sync(t, processes.slice(0, 2));
    const logic = hpa.logic.sync(t, processes.slice(2));
    const k = { gateway: keda.gateway.sync(t, processes.slice(0, 2)), logic: keda.logic.sync(t, processes.slice(2)) };
    return { t, connections: c, sends, gateway, logic, keda: k, pods, p50: 40, p99: 200 + c / 100, processes };
  });
  return {
    scenario: 'rehearsal',
    at: '2026-11-27T06:00:00.000Z',
    machine: { cpus: 2, node: 'v20', loadBefore: [1, 1, 1], loadAfter: [2, 2, 2] },
    cluster: { gateways: 2, logics: 2, serverCpu: 0.5, env: {} },
    crowd: { peak: 20000, senders: 10, rate: 60, likes: 20, gifts: 1, arriveS: 30, holdS: 40, leaveS: 30, tailS: 5, cohorts: 6, syncS: 15, sends: rateTarget * 3, chatters: 200, podStartS: 30 },
    manifests: m,
    run: {
      seconds: Array.from({ length: 105 }, (_, i) => ({ t: i + 1, viewers: Math.min(20000, i * 700), items: 5000, p50: 40, p99: 300 })),
      syncs,
      cohorts: [],
      delay: { p50: 40, p99: 300, max: 900 },
      sends: { acked: 100000, ackP99: 12 },
      closed: 0,
      closeCodes: {},
      failed: 0,
      died: [],
    },
  };
}

t.test('bench rehearsal - the report: peak, replicas asked for, and the stabilised scale-down', async (t) => {
  const r = report();
  const f = figures(r);
  t.equal(f.peakConnections, 20000);
  t.equal(f.peakAt, 45, 'the first sync at the peak');
  t.ok(f.gatewayMax >= 3, `more gateways asked for at 20,000 connections (${f.gatewayMax})`);
  const last = r.run.syncs[r.run.syncs.length - 1]!;
  t.equal(last.gateway.recommended, 0, 'once the crowd has gone the metric alone asks for none');
  t.equal(last.gateway.desired, f.gatewayMax, 'but the 600 s scale-down window holds the peak\'s replicas');
  const md = rehearsalMarkdown(r);
  t.match(md, /peak load: \*\*20,000 connections\*\*/);
  t.match(md, /\| danmaku-gateway \| danmaku_connections \(gauge\) \| [\d,]+ \|/);
  t.match(md, /\| \| danmaku_logic_request_p99_milliseconds \(p99 over 120 s above 20 req\/s\) \| 15 ms \|/, 'one row per metric, the latency in ms');
  t.match(md, /scale-down window/, 'the table names what held the replicas');
  t.match(md, /the same at every sync/, 'KEDA asked for what the HPAs did');
  t.ok(f.logicMax > 2, `the SENDs made the logic HPA ask for more (${f.logicMax})`);
  t.ok(r.run.syncs.some((x) => x.logic.recommended > 2 && x.logic.decidedBy === 0), 'and the request rate is what asked');
  const svg = rehearsalSvg(r);
  for (const label of ['gateways: HPA sets', 'logic: the metrics alone ask', 'logic: KEDA sets', 'delivery p99', 'logic-0 request p99', 'logic-0 requests/s', 'SENDs/s offered', 'gw-1 CPU', 'quota 0.5 core']) t.ok(svg.includes(label), `the chart has ${label}`);
  t.notOk(/NaN/.test(svg), 'no NaN coordinates');
});
