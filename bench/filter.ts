// filter: what the word filter costs per message, measured on its own (not a harness
// scenario; issue 15's "T6 with a 10,000-word list within 0.9x"). Builds --words words in three
// lists (bench/lib/word-list.ts), checks --texts varied danmaku (about 1% holding a listed word)
// and prints the build time, µs per check (mean, and p50/p99 of single calls), the share of
// normalisation alone, and the cost against T6's process CPU per SEND. Build and mean are
// process CPU time, single calls wall time (noisy on a shared machine).
//   node dist/bench/filter.js [--words 10000] [--texts 10000] [--rounds 20] [--json FILE]
//     [--compare-library: also the build time of @monyone/aho-corasick/fast, the dev dependency]
//   node dist/bench/filter.js --write-list /tmp/words.json [--words 10000]
//     writes a FILTER_FILE for a T6 run: bash bench/targets.sh T6 with --env FILTER_FILE=/tmp/words.json

import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { AhoCorasick } from '@monyone/aho-corasick/fast';
import { ContentFilter, normalizeForMatch, type FilterVerdict } from '../src/logic/filter/index.js';
import { TYPICAL_TEXT } from './lib/protocol.js';
import { benchTexts, benchWordLists } from './lib/word-list.js';

/** T6's process CPU per acknowledged SEND without a filter (docs/benchmarks.md, issue 9 and 10 runs). */
const T6_CPU_PER_SEND_US = 49;

const { values } = parseArgs({
  options: {
    words: { type: 'string', default: '10000' },
    texts: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '20' },
    'write-list': { type: 'string' },
    json: { type: 'string' },
    'compare-library': { type: 'boolean', default: false },
  },
});
const WORDS = Number(values.words);
const TEXTS = Number(values.texts);
const ROUNDS = Number(values.rounds);

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Process CPU in µs (user + system): on a shared machine, less noisy than wall time. */
function cpuUs(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** Mean CPU µs per call over every text, the median of `ROUNDS` rounds. */
function meanUs(texts: readonly string[], f: (t: string) => unknown): number {
  const rounds: number[] = [];
  let sink = 0;
  const repeat = Math.max(1, Math.ceil(20_000 / texts.length));
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = cpuUs();
    for (let k = 0; k < repeat; k++) for (const t of texts) if (f(t) === null) sink++;
    rounds.push((cpuUs() - t0) / (texts.length * repeat));
  }
  if (sink < 0) console.log(sink);
  return rounds.sort((a, b) => a - b)[Math.floor(rounds.length / 2)]!;
}

/** p50 and p99 of single calls, less the timer's own cost. */
function singleUs(texts: readonly string[], f: (t: string) => unknown): { p50: number; p99: number } {
  const n = texts.length * 3;
  const times = new Float64Array(n);
  let overhead = Infinity;
  for (let i = 0; i < 10_000; i++) {
    const t0 = performance.now();
    overhead = Math.min(overhead, performance.now() - t0);
  }
  for (let i = 0; i < n; i++) {
    const text = texts[i % texts.length]!;
    const t0 = performance.now();
    f(text);
    times[i] = Math.max(0, (performance.now() - t0 - overhead) * 1000);
  }
  times.sort();
  return { p50: quantile(times, 0.5), p99: quantile(times, 0.99) };
}

function main(): void {
  const lists = benchWordLists(WORDS);
  if (values['write-list'] !== undefined) {
    writeFileSync(values['write-list'], JSON.stringify({ lists }));
    console.log(`wrote ${WORDS} words in ${lists.length} lists to ${values['write-list']}`);
    return;
  }
  const builds: number[] = [];
  let filter = new ContentFilter();
  for (let i = 0; i < 3; i++) {
    const t0 = cpuUs();
    filter = new ContentFilter(lists);
    builds.push((cpuUs() - t0) / 1000);
  }
  let libraryBuildMs: number | undefined;
  if (values['compare-library'] === true) {
    const words = [...new Set(lists.flatMap((l) => l.words).map(normalizeForMatch))];
    const t0 = cpuUs();
    new AhoCorasick(words);
    libraryBuildMs = (cpuUs() - t0) / 1000;
  }
  const texts = benchTexts(TEXTS, lists);
  const verdicts: Record<FilterVerdict['action'], number> = { pass: 0, mask: 0, hold: 0, reject: 0 };
  for (const t of texts) verdicts[filter.check(t).action]++;
  const check = (t: string) => filter.check(t);
  const empty = new ContentFilter();
  for (let i = 0; i < 5; i++) for (const t of texts) (check(t), normalizeForMatch(t), empty.check(t)); // warm up
  const chars = texts.reduce((n, t) => n + [...t].length, 0) / texts.length;
  const result = {
    words: filter.wordCount,
    texts: TEXTS,
    meanChars: Number(chars.toFixed(1)),
    verdicts,
    buildMs: builds.map((b) => Number(b.toFixed(1))),
    libraryBuildMs,
    checkMeanUs: meanUs(texts, check),
    checkSingleUs: singleUs(texts, check),
    normalizeMeanUs: meanUs(texts, normalizeForMatch),
    noListsMeanUs: meanUs(texts, (t) => empty.check(t)),
    typicalTextMeanUs: meanUs([TYPICAL_TEXT], check),
    t6CpuPerSendUs: T6_CPU_PER_SEND_US,
  };
  const share = result.checkMeanUs / T6_CPU_PER_SEND_US;
  const f = (x: number) => x.toFixed(2);
  console.log(`words ${result.words} in ${lists.length} lists; build ${result.buildMs.join(', ')} ms of CPU`);
  if (libraryBuildMs !== undefined) console.log(`  @monyone/aho-corasick/fast on the same words: ${libraryBuildMs.toFixed(0)} ms of CPU`);
  console.log(`texts ${TEXTS} (mean ${result.meanChars} characters): ${JSON.stringify(verdicts)}`);
  console.log(`check: mean ${f(result.checkMeanUs)} µs of CPU, single calls p50 ${f(result.checkSingleUs.p50)} µs, p99 ${f(result.checkSingleUs.p99)} µs`);
  console.log(`  normalisation alone ${f(result.normalizeMeanUs)} µs; no lists loaded ${f(result.noListsMeanUs)} µs; TYPICAL_TEXT ${f(result.typicalTextMeanUs)} µs`);
  console.log(`against T6's ${T6_CPU_PER_SEND_US} µs of CPU per SEND: +${(share * 100).toFixed(1)}% per checked text, T6 at the CPU limit ≈ ${(1 / (1 + share)).toFixed(3)}x (two checks per SEND: ${(1 / (1 + 2 * share)).toFixed(3)}x)`);
  if (values.json !== undefined) writeFileSync(values.json, JSON.stringify(result, null, 2) + '\n');
}

main();
