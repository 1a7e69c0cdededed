// The autoscaling rehearsal's report: the markdown summary and table of syncs, and the chart
// (chart.ts panels): load, the replicas each HPA asks for, delivery delay, the logic latency
// against its target, CPU per process against the quota, over the seconds of the run.

import { colours, document, panel, type Line } from './chart.js';
import type { HpaSpec, SyncResult } from './hpa.js';
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
  /** the most the ScaledObjects asked for */
  readonly kedaGatewayMax: number;
  readonly kedaLogicMax: number;
  /** syncs at which a ScaledObject set other replicas than its HPA */
  readonly disagreements: number;
}

export function figures(r: RehearsalReport): RehearsalFigures {
  const syncs = r.run.syncs;
  const peak = syncs.reduce((a, b) => (b.connections > a.connections ? b : a), syncs[0]!);
  const gw = syncs.reduce((a, b) => (b.gateway.desired > a.gateway.desired ? b : a), syncs[0]!);
  const lg = syncs.reduce((a, b) => (b.logic.desired > a.logic.desired ? b : a), syncs[0]!);
  const kedaGatewayMax = Math.max(...syncs.map((x) => x.keda.gateway.desired));
  const kedaLogicMax = Math.max(...syncs.map((x) => x.keda.logic.desired));
  const disagreements = syncs.filter((x) => x.keda.gateway.desired !== x.gateway.desired || x.keda.logic.desired !== x.logic.desired).length;
  return { peakConnections: peak.connections, peakAt: peak.t, gatewayMax: gw.gateway.desired, gatewayMaxAt: gw.t, logicMax: lg.logic.desired, logicMaxAt: lg.t, p99AtPeak: peak.p99, kedaGatewayMax, kedaLogicMax, disagreements };
}

/** A latency's unit: ms when the rule scales seconds by 1000, else s. */
function latencyUnit(m: AutoscalingManifests, metric: string): { unit: string; toMs: number } {
  const r = m.rules[metric];
  return r?.kind === 'quantile' && r.scale === 1000 ? { unit: 'ms', toMs: 1 } : { unit: 's', toMs: 1000 };
}

/** A metric's value as people read it: a latency (a quantile rule) in ms, the rest as it is. */
function shown(m: AutoscalingManifests, metric: string, v: number | null | undefined): string {
  if (v === null || v === undefined) return '–';
  return m.rules[metric]?.kind === 'quantile' ? `${fmt(v * latencyUnit(m, metric).toMs, 1)} ms` : fmt(v, 0);
}

function unit(m: AutoscalingManifests, metric: string): string {
  const r = m.rules[metric];
  return r?.kind === 'quantile' ? `p${r.quantile * 100} over ${r.windowSeconds} s above ${r.minRate} req/s` : r?.kind === 'rate' ? `rate over ${r.windowSeconds} s` : 'gauge';
}

/** What each metric asked for at a sync, and what held the HPA back. */
function asks(x: SyncResult): string {
  return x.metrics.map((r) => (r.replicas === null ? '–' : String(r.replicas))).join(' / ');
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
  const policies = (x: HpaSpec['scaleUp']) => `window ${x.stabilizationWindowSeconds} s, ${x.selectPolicy} of ${x.policies.map((p) => `${p.value}${p.type === 'Percent' ? '%' : ' pods'}/${p.periodSeconds} s`).join(', ')}; tolerance ${x.tolerance}`;
  const lines = [
    `# Autoscaling rehearsal (${r.at})`,
    '',
    `Loopback cluster: ${r.cluster.gateways} gateways, ${r.cluster.logics} logic processes, their own nats-server and redis-server${quotaText(r)}; ${r.machine.cpus} CPUs, Node ${r.machine.node}, load ${r.machine.loadBefore.map((x) => x.toFixed(2)).join(' ')} before, ${r.machine.loadAfter.map((x) => x.toFixed(2)).join(' ')} after.`,
    '',
    `Flash crowd: ${fmt(c.peak)} viewers (a token each) arriving over ${c.arriveS} s in ${c.cohorts} cohorts, most of them early, at the peak for ${c.holdS} s, leaving over ${c.leaveS} s, then ${c.tailS} s with the ${c.senders} senders only (${fmt(c.rate)} danmaku + ${fmt(c.likes)} likes + ${fmt(c.gifts)} gifts/s throughout)${c.sends > 0 ? `; ${fmt(c.chatters)} chatters in rooms of their own posting up to ${fmt(c.sends)} SENDs/s, in proportion to the crowd` : ''}. Every ${c.syncS} s each process's /metrics is read and the autoscalers synced; a pod asked for counts without a value for ${c.podStartS} s.`,
    '',
    '## The autoscalers (from deploy/kubernetes/overlays/hpa; overlays/keda scales the same)',
    '',
    '| HPA | metric (adapter rule) | target per pod | min..max | scale up | scale down |',
    '|---|---|---:|---|---|---|',
    ...[m.gateway, m.logic].flatMap((h) => h.metrics.map((x, i) => (i === 0 ? `| ${h.name} | ${x.name} (${unit(m, x.name)}) | ${shown(m, x.name, x.target)} | ${h.minReplicas}..${h.maxReplicas} | ${policies(h.scaleUp)} | ${policies(h.scaleDown)} |` : `| | ${x.name} (${unit(m, x.name)}) | ${shown(m, x.name, x.target)} | | | |`))),
    '',
    `The replicas are computed, not started: each autoscaler follows its own asks over the ${r.cluster.gateways} + ${r.cluster.logics} real processes and the pods it asked for beyond them, which hold nothing (the real processes hold the whole load, so averages over the pods are what they would be) and read the real pods' mean latency (an upper bound). The values go to the controller in milli-units, as prometheus-adapter and KEDA send them. KEDA's triggers are the adapter rules summed over the pods, with AverageValue thresholds.`,
    '',
  ];
  if (f) {
    lines.push(
      '## Figures',
      '',
      `- peak load: **${fmt(f.peakConnections)} connections** at ${f.peakAt} s (${fmt(f.peakConnections / m.gateway.metrics[0]!.target, 2)}x one gateway's target)`,
      `- gateways asked for: **${f.gatewayMax}** (first at ${f.gatewayMaxAt} s; from ${r.cluster.gateways}); logic: **${f.logicMax}** (at ${f.logicMaxAt} s; from ${r.cluster.logics}); KEDA: ${f.kedaGatewayMax} and ${f.kedaLogicMax}, ${f.disagreements === 0 ? 'the same at every sync' : `different from the HPAs at ${f.disagreements} of ${r.run.syncs.length} syncs`}`,
      `- delivery delay over the run: p50 ${fmt(r.run.delay.p50)} ms, **p99 ${fmt(r.run.delay.p99)} ms**, max ${fmt(r.run.delay.max)} ms; p99 in the sync period of the peak: ${fmt(f.p99AtPeak)} ms`,
      ...(c.sends > 0 ? [`- chatters' SENDs acknowledged: ${fmt(r.run.sends.acked)}, ACK p99 ${fmt(r.run.sends.ackP99)} ms`] : []),
      `- connections that failed to join: ${r.run.failed}; closed by the server: ${r.run.closed}${r.run.closed > 0 ? ` (${Object.entries(r.run.closeCodes).map(([k, n]) => `${k} x${n}`).join(', ')})` : ''}; processes not running at the end: ${r.run.died.length > 0 ? r.run.died.join(', ') : 'none'}`,
      '',
      '## Syncs',
      '',
      `Asks are per metric, in the table's order above; "sets" is after the behaviour, with what held it back; pods asked for and still starting are in brackets.`,
      '',
      '| t (s) | connections (per gateway) | gateway CPU | gateways: asks, HPA sets (KEDA) | SENDs/s offered | logic req/s per pod | logic p99 per pod (ms) | logic CPU | logic: asks, HPA sets (KEDA) | delivery p50 / p99 (ms) |',
      '|---:|---|---|---|---:|---|---|---|---|---:|',
      ...r.run.syncs.map((x) => {
        const gws = x.processes.filter((p) => p.role === 'gateway');
        const lgs = x.processes.filter((p) => p.role === 'logic');
        const why = (y: SyncResult) => (y.limitedBy ? ` (${y.limitedBy})` : '');
        const starting = (n: number) => (n > 0 ? ` [${n} starting]` : '');
        const [rate, p99] = [m.logic.metrics[0]?.name ?? '', m.logic.metrics[1]?.name ?? ''];
        return `| ${x.t} | ${fmt(x.connections)} (${gws.map((p) => fmt(p.values['danmaku_connections'])).join(', ')}) | ${gws.map((p) => fmt(p.cores, 2)).join(', ')} | ${asks(x.gateway)}, **${x.gateway.desired}**${why(x.gateway)} (${x.keda.gateway.desired})${starting(x.pods.gateway.starting + x.pods.gateway.pending)} | ${fmt(x.sends)} | ${lgs.map((p) => fmt(p.values[rate], 0)).join(', ')} | ${lgs.map((p) => fmt(p.values[p99] === null || p.values[p99] === undefined ? null : p.values[p99]! * latencyUnit(m, p99).toMs, 1)).join(', ')} | ${lgs.map((p) => fmt(p.cores, 2)).join(', ')} | ${asks(x.logic)}, **${x.logic.desired}**${why(x.logic)} (${x.keda.logic.desired})${starting(x.pods.logic.starting + x.pods.logic.pending)} | ${fmt(x.p50)} / ${fmt(x.p99)} |`;
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
  return (label) => palette(/^(gateways|logic): KEDA/.exec(label)?.[0] ?? /^(gateways|logic):/.exec(label)?.[1] ?? /^(delivery) /.exec(label)?.[1] ?? /^([\w-]+) (CPU|request)/.exec(label)?.[1] ?? label);
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
  const gwTarget = m.gateway.metrics[0]!.target;
  add(panel(load, y, `Load: a flash crowd of ${r.crowd.peak.toLocaleString('en')} viewers on ${r.cluster.gateways} gateways`, 'connections', colorOf, { xLabel, marks: phases, reference: { value: gwTarget * r.cluster.gateways, label: `HPA target x ${r.cluster.gateways} gateways: ${(gwTarget * r.cluster.gateways).toLocaleString('en')}` } }));
  const end = r.run.seconds[r.run.seconds.length - 1]?.t ?? 0;
  for (const [key, h, n] of [['gateways', m.gateway, r.cluster.gateways], ['logic', m.logic, r.cluster.logics]] as const) {
    const get = (x: (typeof syncs)[number]) => (key === 'gateways' ? x.gateway : x.logic);
    const lines: Line[] = [
      { label: `${key}: HPA sets`, points: steps(syncs.map((x) => [x.t, get(x).desired]), end) },
      { label: `${key}: the metrics alone ask (before the behaviour)`, points: steps(syncs.map((x) => [x.t, get(x).recommended]), end), dash: true },
      { label: `${key}: KEDA sets`, points: steps(syncs.map((x) => [x.t, (key === 'gateways' ? x.keda.gateway : x.keda.logic).desired]), end), dash: true },
    ];
    const what = h.metrics.map((x) => { const rule = m.rules[x.name]; return rule?.kind === 'quantile' ? `${shown(m, x.name, x.target)} p${rule.quantile * 100}` : rule?.kind === 'rate' ? `${shown(m, x.name, x.target)} req/s` : `${shown(m, x.name, x.target)} connections`; }).join(' or ');
    add(panel(lines, y, `${h.name}: replicas asked for (${what} per pod; ${h.minReplicas}..${h.maxReplicas}, ${n} running)`, 'replicas', colorOf, { xLabel }));
  }
  const delay: Line[] = [
    { label: 'delivery p50', points: r.run.seconds.map((x) => [x.t, x.p50 ?? NaN]), dash: true },
    { label: 'delivery p99', points: r.run.seconds.map((x) => [x.t, x.p99 ?? NaN]) },
  ];
  add(panel(delay, y, 'Delivery delay per second (server receipt to viewer)', 'ms', colorOf, { xLabel, reference: { value: 1000, label: '1 s' }, log: true }));
  const names = syncs[0]?.processes.map((p) => p.name) ?? [];
  const logicNames = names.filter((n) => syncs[0]!.processes.find((p) => p.name === n)!.role === 'logic');
  const value = (x: (typeof syncs)[number], n: string, metric: string) => x.processes.find((p) => p.name === n)?.values[metric] ?? NaN;
  for (const metric of m.logic.metrics) {
    const rule = m.rules[metric.name];
    const ms = rule?.kind === 'quantile';
    const toMs = ms ? latencyUnit(m, metric.name).toMs : 1;
    const lines: Line[] = logicNames.map((n) => ({ label: `${n} ${ms ? 'request p99' : 'requests/s'}`, points: syncs.map((x): [number, number] => [x.t, value(x, n, metric.name) * toMs]) }));
    if (!ms) lines.push({ label: 'SENDs/s offered by the chatters', points: syncs.map((x): [number, number] => [x.t, x.sends]), dash: true });
    const title = ms ? `Logic request p${(rule.kind === 'quantile' ? rule.quantile : 0) * 100} per pod (the adapter rule: ${rule.kind === 'quantile' ? `${rule.windowSeconds} s window, 0 at or below ${rule.minRate} req/s` : ''})` : `Logic requests per second per pod (the adapter rule${rule?.kind === 'rate' ? `: rate over ${rule.windowSeconds} s` : ''})`;
    add(panel(lines, y, title, ms ? 'ms' : 'requests/s', colorOf, { xLabel, reference: { value: metric.target * toMs, label: `HPA target ${shown(m, metric.name, metric.target)}` } }));
  }
  const cpu: Line[] = names.map((n) => ({ label: `${n} CPU`, points: syncs.map((x): [number, number] => [x.t, x.processes.find((p) => p.name === n)?.cores ?? NaN]) }));
  const quota = quotaOf(r);
  add(panel(cpu, y, `CPU per process over each ${r.crowd.syncS} s`, 'cores', colorOf, { xLabel, ...(quota.gateway > 0 && quota.gateway === quota.logic ? { reference: { value: quota.gateway, label: `quota ${quota.gateway} core` } } : {}) }));
  return document(parts, y);
}
