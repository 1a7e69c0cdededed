// The autoscaling rehearsal's report: the markdown summary and table of syncs, and the chart
// (chart.ts panels): load, the replicas each HPA asks for, delivery delay, the logic latency
// against its target, CPU per process against the quota, over the seconds of the run.

import { colours, document, panel, type Line } from './chart.js';
import type { AutoscalingManifests } from './hpa-manifests.js';
import { serverCpuOf, serverCpuText, type ServerCpuByRole } from './options.js';
import type { Crowd, RehearsalRun } from './rehearsal-run.js';

export interface RehearsalReport {
  readonly scenario: 'rehearsal';
  readonly at: string;
  readonly machine: { cpus: number; node: string; loadBefore: number[]; loadAfter: number[] };
  /** serverCpu: --server-cpu's number for every process, serverCpuByRole: that of a role instead (absent before it) */
  readonly cluster: { gateways: number; logics: number; serverCpu: number; serverCpuByRole?: ServerCpuByRole; env: Record<string, string> };
  readonly crowd: Crowd;
  /** what was read from deploy/kubernetes */
  readonly manifests: AutoscalingManifests;
  readonly run: RehearsalRun;
}

const fmt = (n: number | null | undefined, d = 1) => (n === null || n === undefined || Number.isNaN(n) ? '–' : n.toLocaleString('en', { maximumFractionDigits: d }));

export interface RehearsalFigures {
  readonly peakConnections: number;
  readonly peakAt: number;
  /** the most each HPA asked for, and when it first did */
  readonly gatewayMax: number;
  readonly gatewayMaxAt: number;
  readonly logicMax: number;
  readonly logicMaxAt: number;
  /** delivery p99 of the sync period with the most connections */
  readonly p99AtPeak: number | null;
}

export function figures(r: RehearsalReport): RehearsalFigures {
  const syncs = r.run.syncs;
  const peak = syncs.reduce((a, b) => (b.connections > a.connections ? b : a), syncs[0]!);
  const gw = syncs.reduce((a, b) => (b.gateway.desired > a.gateway.desired ? b : a), syncs[0]!);
  const lg = syncs.reduce((a, b) => (b.logic.desired > a.logic.desired ? b : a), syncs[0]!);
  return { peakConnections: peak.connections, peakAt: peak.t, gatewayMax: gw.gateway.desired, gatewayMaxAt: gw.t, logicMax: lg.logic.desired, logicMaxAt: lg.t, p99AtPeak: peak.p99 };
}

/** The CPU quota of the cluster's gateways and logic processes (0: none). */
function quotaOf(r: RehearsalReport): { gateway: number; logic: number } {
  const o = { serverCpu: r.cluster.serverCpu, serverCpuByRole: r.cluster.serverCpuByRole ?? {} };
  return { gateway: serverCpuOf(o, 'gateway'), logic: serverCpuOf(o, 'logic') };
}

function quotaText(r: RehearsalReport): string {
  const q = quotaOf(r);
  const given = serverCpuText({ serverCpu: r.cluster.serverCpu, serverCpuByRole: r.cluster.serverCpuByRole ?? {} });
  if (q.gateway === 0 && q.logic === 0) return '';
  if (q.gateway === q.logic) return `, every server process held to ${q.gateway} core (--server-cpu ${given})`;
  return `, ${q.gateway > 0 ? `the gateways held to ${q.gateway} core` : 'the gateways unlimited'}, ${q.logic > 0 ? `the logic processes to ${q.logic}` : 'the logic processes unlimited'} (--server-cpu ${given})`;
}

export function rehearsalMarkdown(r: RehearsalReport): string {
  const m = r.manifests;
  const f = r.run.syncs.length > 0 ? figures(r) : null;
  const c = r.crowd;
  const lines = [
    `# Autoscaling rehearsal (${r.at})`,
    '',
    `Loopback cluster: ${r.cluster.gateways} gateways, ${r.cluster.logics} logic processes, their own nats-server and redis-server${quotaText(r)}; ${r.machine.cpus} CPUs, Node ${r.machine.node}, load ${r.machine.loadBefore.map((x) => x.toFixed(2)).join(' ')} before, ${r.machine.loadAfter.map((x) => x.toFixed(2)).join(' ')} after.`,
    '',
    `Flash crowd: ${fmt(c.peak)} viewers (a token each) arriving over ${c.arriveS} s in ${c.cohorts} cohorts, most of them early, at the peak for ${c.holdS} s, leaving over ${c.leaveS} s, then ${c.tailS} s with the ${c.senders} senders only (${fmt(c.rate)} danmaku + ${fmt(c.likes)} likes + ${fmt(c.gifts)} gifts/s throughout). Every ${c.syncS} s each process's /metrics is read and the two HPAs synced.`,
    '',
    '## The HPAs (from deploy/kubernetes/overlays/hpa; overlays/keda agrees)',
    '',
    '| HPA | metric | target | min..max | scale up | scale down |',
    '|---|---|---:|---|---|---|',
    ...[m.gateway, m.logic].map((h) => `| ${h.name} | ${h.metric} | ${h === m.logic ? `${fmt(h.target * 1000)} ms` : fmt(h.target)} per pod | ${h.minReplicas}..${h.maxReplicas} | window ${h.scaleUp.stabilizationWindowSeconds} s, ${h.scaleUp.selectPolicy} of ${h.scaleUp.policies.map((p) => `${p.value}${p.type === 'Percent' ? '%' : ' pods'}/${p.periodSeconds} s`).join(', ')}; tolerance ${h.scaleUp.tolerance} | window ${h.scaleDown.stabilizationWindowSeconds} s, ${h.scaleDown.selectPolicy} of ${h.scaleDown.policies.map((p) => `${p.value}${p.type === 'Percent' ? '%' : ' pods'}/${p.periodSeconds} s`).join(', ')} |`),
    '',
    `The logic metric is the adapter rule's: p${m.logicLatency.quantile * 100} of danmaku_logic_request_seconds per pod over ${m.logicLatency.windowSeconds} s (shorter at the start of the run: the history there is), 0 for a pod that handled nothing. The replicas are computed, not started: for gateways the average is the connections over the replicas the HPA asked for; for logic it is the latency of the ${r.cluster.logics} real processes (an upper bound: more pods would lower it).`,
    '',
  ];
  if (f) {
    lines.push(
      '## Figures',
      '',
      `- peak load: **${fmt(f.peakConnections)} connections** at ${f.peakAt} s (${fmt(f.peakConnections / m.gateway.target, 2)}x one gateway's target)`,
      `- gateways asked for: **${f.gatewayMax}** (first at ${f.gatewayMaxAt} s; from ${r.cluster.gateways}); logic: **${f.logicMax}** (at ${f.logicMaxAt} s; from ${r.cluster.logics})`,
      `- delivery delay over the run: p50 ${fmt(r.run.delay.p50)} ms, **p99 ${fmt(r.run.delay.p99)} ms**, max ${fmt(r.run.delay.max)} ms; p99 in the sync period of the peak: ${fmt(f.p99AtPeak)} ms`,
      `- connections that failed to join: ${r.run.failed}; closed by the server: ${r.run.closed}${r.run.closed > 0 ? ` (${Object.entries(r.run.closeCodes).map(([k, n]) => `${k} x${n}`).join(', ')})` : ''}; processes not running at the end: ${r.run.died.length > 0 ? r.run.died.join(', ') : 'none'}`,
      '',
      '## Syncs',
      '',
      '| t (s) | connections (per gateway) | gateway CPU (cores) | gateways: metric asks, HPA sets | logic p99 (ms, per pod) | logic CPU | logic: metric asks, HPA sets | delivery p50 / p99 (ms) |',
      '|---:|---|---|---|---|---|---|---:|',
      ...r.run.syncs.map((s) => {
        const gws = s.processes.filter((p) => p.role === 'gateway');
        const lgs = s.processes.filter((p) => p.role === 'logic');
        const why = (x: typeof s.gateway) => (x.limitedBy ? ` (${x.limitedBy})` : '');
        return `| ${s.t} | ${fmt(s.connections)} (${gws.map((p) => fmt(p.connections)).join(', ')}) | ${gws.map((p) => fmt(p.cores, 2)).join(', ')} | ${s.gateway.recommended}, **${s.gateway.desired}**${why(s.gateway)} | ${lgs.map((p) => fmt(p.p99 === null ? null : p.p99 * 1000, 1)).join(', ')} | ${lgs.map((p) => fmt(p.cores, 2)).join(', ')} | ${s.logic.recommended}, **${s.logic.desired}**${why(s.logic)} | ${fmt(s.p50)} / ${fmt(s.p99)} |`;
      }),
      '',
    );
  }
  return lines.join('\n');
}

/**
 * One colour per thing across the chart (chart.ts hands them out by first use): the two lines of
 * one HPA, the two delivery percentiles and everything of one process share their thing's
 * colour and differ by dash or panel, so that nine colours cover 2 gateways and 2 logic pods.
 */
function colourKeys(): (label: string) => string {
  const palette = colours();
  return (label) => palette(/^(gateways|logic):/.exec(label)?.[1] ?? /^(delivery) /.exec(label)?.[1] ?? /^([\w-]+) (CPU|request)/.exec(label)?.[1] ?? label);
}

/** Replicas hold from one sync to the next: a step line, to the end of the run. */
function steps(points: readonly (readonly [number, number])[], end: number): [number, number][] {
  return points.flatMap(([t, v], i): [number, number][] => [[t, v], [points[i + 1]?.[0] ?? end, v]]);
}

export function rehearsalSvg(r: RehearsalReport): string {
  const colorOf = colourKeys();
  const m = r.manifests;
  const syncs = r.run.syncs;
  const xLabel = 'seconds since the crowd began arriving';
  const parts: string[] = [];
  let y = 0;
  const add = (p: { svg: string; height: number }) => {
    parts.push(p.svg);
    y += p.height;
  };
  const leave = r.crowd.arriveS + r.crowd.holdS;
  const phases = [
    { t: 0, label: 'arriving', line: 'viewers connected (load generator, per second)' },
    { t: r.crowd.arriveS, label: 'at the peak', line: 'viewers connected (load generator, per second)' },
    { t: leave, label: 'leaving', line: 'viewers connected (load generator, per second)' },
  ];
  const load: Line[] = [
    { label: 'viewers connected (load generator, per second)', points: r.run.seconds.map((s) => [s.t, s.viewers]) },
    { label: `danmaku_connections, all gateways (every ${r.crowd.syncS} s)`, points: syncs.map((s) => [s.t, s.connections]) },
  ];
  add(panel(load, y, `Load: a flash crowd of ${r.crowd.peak.toLocaleString('en')} viewers on ${r.cluster.gateways} gateways`, 'connections', colorOf, { xLabel, marks: phases, reference: { value: m.gateway.target * r.cluster.gateways, label: `HPA target x ${r.cluster.gateways} gateways: ${(m.gateway.target * r.cluster.gateways).toLocaleString('en')}` } }));
  const end = r.run.seconds[r.run.seconds.length - 1]?.t ?? 0;
  for (const [key, h, n] of [['gateways', m.gateway, r.cluster.gateways], ['logic', m.logic, r.cluster.logics]] as const) {
    const get = (s: (typeof syncs)[number]) => (key === 'gateways' ? s.gateway : s.logic);
    const lines: Line[] = [
      { label: `${key}: HPA sets`, points: steps(syncs.map((s) => [s.t, get(s).desired]), end) },
      { label: `${key}: the metric alone asks (before the behaviour)`, points: steps(syncs.map((s) => [s.t, get(s).recommended]), end), dash: true },
    ];
    const what = key === 'gateways' ? `${h.target.toLocaleString('en')} connections per pod` : `p${m.logicLatency.quantile * 100} ${h.target * 1000} ms per pod`;
    add(panel(lines, y, `${h.name}: replicas asked for (target ${what}, ${h.minReplicas}..${h.maxReplicas}, ${n} running)`, 'replicas', colorOf, { xLabel }));
  }
  const delay: Line[] = [
    { label: 'delivery p50', points: r.run.seconds.map((s) => [s.t, s.p50 ?? NaN]), dash: true },
    { label: 'delivery p99', points: r.run.seconds.map((s) => [s.t, s.p99 ?? NaN]) },
  ];
  add(panel(delay, y, 'Delivery delay per second (server receipt to viewer)', 'ms', colorOf, { xLabel, reference: { value: 1000, label: '1 s' }, log: true }));
  const names = syncs[0]?.processes.map((p) => p.name) ?? [];
  const latency: Line[] = names.filter((n) => syncs[0]!.processes.find((p) => p.name === n)!.role === 'logic').map((n) => ({ label: `${n} request p99`, points: syncs.map((s): [number, number] => [s.t, (s.processes.find((p) => p.name === n)?.p99 ?? NaN) * 1000]) }));
  add(panel(latency, y, `Logic request p${m.logicLatency.quantile * 100} (the adapter rule, ${m.logicLatency.windowSeconds} s window)`, 'ms', colorOf, { xLabel, reference: { value: m.logic.target * 1000, label: `HPA target ${m.logic.target * 1000} ms` } }));
  const cpu: Line[] = names.map((n) => ({ label: `${n} CPU`, points: syncs.map((s): [number, number] => [s.t, s.processes.find((p) => p.name === n)?.cores ?? NaN]) }));
  const quota = quotaOf(r);
  add(panel(cpu, y, `CPU per process over each ${r.crowd.syncS} s`, 'cores', colorOf, { xLabel, ...(quota.gateway > 0 && quota.gateway === quota.logic ? { reference: { value: quota.gateway, label: `quota ${quota.gateway} core` } } : {}) }));
  return document(parts, y);
}
