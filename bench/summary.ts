// Medians of repeated runs: node dist/bench/summary.js bench/results/targets
// Groups <name>-<n>.json files by name and prints, per group, the median of each figure of a
// run report (FIGURES) for every target (server, cluster, baseline) and the median of the
// per-run ratios of the first target to the others, as markdown for docs/benchmarks.md. Runs of
// the upstream scenario have figures of their own (UPSTREAM_FIGURES), and so do the chat
// scenario's (its numeric rows); runs with resumes add RESUME_FIGURES.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chatFigures, type ChatReport } from './lib/chat-report.js';
import { FIGURES, RESUME_FIGURES, type BenchReport } from './lib/report.js';
import { UPSTREAM_FIGURES, type UpstreamReport } from './lib/upstream-report.js';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (n: number) => (Number.isNaN(n) ? '–' : n.toLocaleString('en', { maximumFractionDigits: n < 10 ? 2 : 1 }));

const dir = process.argv[2] ?? 'bench/results/targets';
const groups = new Map<string, BenchReport[]>();
for (const f of readdirSync(dir).filter((f) => /-\d+\.json$/.test(f)).sort()) {
  const name = f.replace(/-\d+\.json$/, '');
  const list = groups.get(name) ?? [];
  list.push(JSON.parse(readFileSync(join(dir, f), 'utf8')) as BenchReport);
  groups.set(name, list);
}
function upstreamSummary(name: string, reports: UpstreamReport[]): string[] {
  const targets = reports[0]!.runs.map((r) => r.target);
  const shown = targets.map((t) => (t === 'server' ? 'standalone' : t));
  const cols = [...shown, ...(shown.length === 2 ? [`${shown[1]} / ${shown[0]}`] : [])];
  const lines = [`### ${name} (upstream, median of ${reports.length})`, '', `| | ${cols.join(' | ')} |`, `|---|${cols.map(() => '---:').join('|')}|`];
  for (const [label, get] of UPSTREAM_FIGURES) {
    const values = (t: string) => reports.map((rep) => rep.runs.find((r) => r.target === t)).map((r) => (r ? get(r) : null));
    const per = targets.map((t) => median(values(t).filter((v): v is number => v !== null)));
    const ratios = targets.length === 2 ? [median(values(targets[1]!).map((b, i) => (b !== null && values(targets[0]!)[i] ? b / values(targets[0]!)[i]! : NaN)).filter((v) => !Number.isNaN(v)))] : [];
    lines.push(`| ${label} | ${[...per.map(fmt), ...ratios.map((r) => (Number.isNaN(r) ? '–' : `${r.toFixed(2)}x`))].join(' | ')} |`);
  }
  const met = reports[0]!.checks.map((c, i) => `${c.target === 'server' ? 'standalone' : c.target} ${c.criterion}: met in ${reports.filter((rep) => rep.checks[i]?.ok).length} of ${reports.length}`);
  return [...lines, '', ...met.map((m) => `- ${m}`)];
}

function chatSummary(name: string, reports: ChatReport[]): string[] {
  const titles = reports[0]!.runs.map(chatFigures.title);
  const cols = [...titles, ...titles.slice(1).map((t) => `${titles[0]} / ${t}`)];
  const lines = [`### ${name} (chat, median of ${reports.length})`, '', `| | ${cols.join(' | ')} |`, `|---|${cols.map(() => '---:').join('|')}|`];
  for (const [label, get] of chatFigures.numeric) {
    const values = (i: number) => reports.map((rep) => (rep.runs[i] ? get(rep.runs[i]!) : null));
    const per = titles.map((_, i) => median(values(i).filter((v): v is number => typeof v === 'number')));
    const ratios = titles.slice(1).map((_, j) => median(values(0).map((a, k) => (typeof a === 'number' && typeof values(j + 1)[k] === 'number' && values(j + 1)[k] !== 0 ? a / (values(j + 1)[k] as number) : NaN)).filter((v) => !Number.isNaN(v))));
    if (per.every((v) => Number.isNaN(v))) continue;
    lines.push(`| ${label} | ${[...per.map(fmt), ...ratios.map((r) => (Number.isNaN(r) ? '–' : `${r.toFixed(2)}x`))].join(' | ')} |`);
  }
  return lines;
}

for (const [name, reports] of groups) {
  if ((reports[0] as unknown as ChatReport).scenario === 'chat') {
    process.stdout.write(`${chatSummary(name, reports as unknown as ChatReport[]).join('\n')}\n\n`);
    continue;
  }
  if ((reports[0] as unknown as UpstreamReport).scenario === 'upstream') {
    process.stdout.write(`${upstreamSummary(name, reports as unknown as UpstreamReport[]).join('\n')}\n\n`);
    continue;
  }
  const targets = reports[0]!.runs.map((r) => r.target);
  const [first, ...others] = targets;
  const cols = [...targets, ...others.map((o) => `${first} / ${o}`)];
  const lines = [`### ${name} (${reports[0]!.scenario}, median of ${reports.length})`, '', `| | ${cols.join(' | ')} |`, `|---|${cols.map(() => '---:').join('|')}|`];
  for (const [label, get] of [...FIGURES, ...RESUME_FIGURES]) {
    const per = targets.map((t) => median(reports.map((rep) => get(rep.runs.find((r) => r.target === t)!)).filter((v): v is number => v !== undefined)));
    const ratios = others.map((o) =>
      median(
        reports
          .map((rep) => {
            const a = get(rep.runs.find((r) => r.target === first)!);
            const b = get(rep.runs.find((r) => r.target === o)!);
            return a !== undefined && b !== undefined && b !== 0 ? a / b : NaN;
          })
          .filter((v) => !Number.isNaN(v)),
      ),
    );
    if (per.every((v) => Number.isNaN(v))) continue;
    lines.push(`| ${label} | ${[...per.map(fmt), ...ratios.map((r) => (Number.isNaN(r) ? '–' : `${r.toFixed(2)}x`))].join(' | ')} |`);
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);
}
