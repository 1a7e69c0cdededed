// Reading Prometheus text exposition (what /metrics serves), for the tests and for the
// harness's server CPU and memory. Enough of the format for prom-client's output: one sample
// per line, `name{label="value",...} value [timestamp]`, comments skipped.

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const LINE = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g;

export function parseSamples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(LABEL)) labels[k!] = v!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The samples of `name` whose labels include all of `labels`, summed; null when there is none. */
export function metricOf(text: string, name: string, labels: Record<string, string> = {}): number | null {
  let sum: number | null = null;
  for (const s of parseSamples(text)) {
    if (s.name !== name || !Object.entries(labels).every(([k, v]) => s.labels[k] === v)) continue;
    sum = (sum ?? 0) + s.value;
  }
  return sum;
}

/** As metricOf, but 0 when absent (a counter not yet incremented). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  return metricOf(text, name, labels) ?? 0;
}

/** The text of a /metrics endpoint; throws on a network error or a non-2xx status. */
export async function scrape(url: string, timeoutMs = 5000): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.text();
}
