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

/** A histogram's cumulative buckets: upper bound (`le`, +Inf included) to count. */
export type Buckets = ReadonlyMap<number, number>;

/** The `<name>_bucket` samples whose labels include `labels`, summed by `le` (as `sum by (le)`). */
export function bucketsOf(text: string, name: string, labels: Record<string, string> = {}): Map<number, number> {
  const out = new Map<number, number>();
  for (const s of parseSamples(text)) {
    if (s.name !== `${name}_bucket` || s.labels.le === undefined || !Object.entries(labels).every(([k, v]) => s.labels[k] === v)) continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    out.set(le, (out.get(le) ?? 0) + s.value);
  }
  return out;
}

/** What was observed between two readings of the same histogram (b later): what rate() sees, unscaled. */
export function bucketsBetween(a: Buckets, b: Buckets): Map<number, number> {
  return new Map([...b].map(([le, n]) => [le, Math.max(0, n - (a.get(le) ?? 0))]));
}

/**
 * PromQL's histogram_quantile over cumulative buckets (promql/quantile.go, bucketQuantile):
 * linear within the bucket the rank falls in, the highest finite bound when it falls in +Inf,
 * NaN without observations or without a +Inf bucket.
 */
export function histogramQuantile(q: number, buckets: Buckets): number {
  const bs = [...buckets].sort((x, y) => x[0] - y[0]);
  if (bs.length < 2 || bs[bs.length - 1]![0] !== Infinity) return NaN;
  for (let i = 1; i < bs.length; i++) if (bs[i]![1] < bs[i - 1]![1]) bs[i] = [bs[i]![0], bs[i - 1]![1]]; // monotonic
  const total = bs[bs.length - 1]![1];
  if (total === 0) return NaN;
  let rank = q * total;
  let b = bs.findIndex(([, n], i) => i < bs.length - 1 && n >= rank);
  if (b === -1) b = bs.length - 1;
  if (b === bs.length - 1) return bs[bs.length - 2]![0];
  if (b === 0 && bs[0]![0] <= 0) return bs[0]![0];
  const end = bs[b]![0];
  let count = bs[b]![1];
  let start = 0;
  if (b > 0) {
    start = bs[b - 1]![0];
    count -= bs[b - 1]![1];
    rank -= bs[b - 1]![1];
  }
  return start + (end - start) * (rank / count);
}
