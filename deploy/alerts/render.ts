// Renders the alert rules' one source (deploy/alerts/alerts.yaml) as a Prometheus rules file
// and as a PrometheusRule (Prometheus Operator), so the two can never disagree.
//   npm run alerts            writes both files
//   npm run alerts -- --check exits 1, naming them, when a committed file differs

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

/** repository root: this file runs from dist/deploy/alerts/ */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const SOURCE = 'deploy/alerts/alerts.yaml';
export const RULES_FILE = 'deploy/prometheus/alerts.yml';
export const PROMETHEUS_RULE = 'deploy/kubernetes/base/prometheusrule.yaml';

const SEVERITIES = ['critical', 'warning', 'info'];

export interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: { summary: string; description: string };
}

export interface Group {
  name: string;
  rules: Rule[];
}

export class AlertSourceError extends Error {
  override name = 'AlertSourceError';
}

/** The source's groups, checked for what promtool does not require but we do. */
export function parseSource(text: string): Group[] {
  const doc = parse(text) as { groups?: unknown } | null;
  if (!doc || !Array.isArray(doc.groups) || doc.groups.length === 0) throw new AlertSourceError('the source has no groups');
  const names = new Set<string>();
  for (const g of doc.groups as Group[]) {
    if (typeof g?.name !== 'string' || !Array.isArray(g.rules)) throw new AlertSourceError(`group ${JSON.stringify(g?.name)}: needs a name and rules`);
    for (const r of g.rules) {
      const where = `${g.name}/${String(r?.alert)}`;
      if (typeof r?.alert !== 'string' || !/^Danmaku[A-Za-z]+$/.test(r.alert)) throw new AlertSourceError(`${where}: alert names are Danmaku<Name>`);
      if (names.has(r.alert)) throw new AlertSourceError(`${where}: alert name used twice`);
      names.add(r.alert);
      if (typeof r.expr !== 'string' || r.expr.trim() === '') throw new AlertSourceError(`${where}: no expr`);
      if (!SEVERITIES.includes(r.labels?.severity)) throw new AlertSourceError(`${where}: severity must be one of ${SEVERITIES.join(', ')}`);
      if (typeof r.annotations?.summary !== 'string' || typeof r.annotations.description !== 'string') throw new AlertSourceError(`${where}: needs a summary and a description`);
    }
  }
  return doc.groups as Group[];
}

const header = (what: string) =>
  `# ${what}\n# Generated from ${SOURCE} by \`npm run alerts\`: edit the source, not this file.\n`;

/** Both renders of the source text, by repository path. */
export function render(text: string): Record<string, string> {
  const groups = parseSource(text);
  const yaml = (v: unknown) => stringify(v, { lineWidth: 0 });
  const rule = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'danmaku', labels: { 'app.kubernetes.io/name': 'danmaku', 'app.kubernetes.io/component': 'alerts' } },
    spec: { groups },
  };
  return {
    [RULES_FILE]: header('Prometheus alert rules of the danmaku server (rule_files in prometheus.yml).') + yaml({ groups }),
    [PROMETHEUS_RULE]: header('The alert rules as a PrometheusRule (Prometheus Operator); add the labels your Prometheus ruleSelector picks.') + yaml(rule),
  };
}

function main(argv: string[]): number {
  const out = render(readFileSync(ROOT + SOURCE, 'utf8'));
  const stale = Object.keys(out).filter((p) => !existsSync(ROOT + p) || readFileSync(ROOT + p, 'utf8') !== out[p]);
  if (argv.includes('--check')) {
    for (const p of stale) console.error(`alerts: ${p} differs from the render of ${SOURCE}; run npm run alerts`);
    return stale.length === 0 ? 0 : 1;
  }
  for (const p of Object.keys(out)) writeFileSync(ROOT + p, out[p]!);
  console.log(`alerts: wrote ${Object.keys(out).join(', ')}`);
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
