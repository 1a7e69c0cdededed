// Runs the load-test harness (dist/bench/index.js) as a child process, for the e2e tests.

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const BENCH = fileURLToPath(new URL('../../bench/index.js', import.meta.url));

/** The parts of a run's JSON (bench/lib/run.ts) that the tests look at. */
export interface BenchRun {
  target: string;
  run: string;
  connections: { connected: number; closed: number; closeCodes: Record<string, number> };
  itemsPerSec: number;
  loss: { danmaku: number; likes: number; gifts: number; viewers: number; closedViewers: number };
  server: { cpuPerFrameUs: number; rssBytes: number } | null;
  timeline: { closed: number }[];
}

export function readReport(file: string): { runs: BenchRun[]; slo: { rule: string; ok: boolean }[] } {
  return JSON.parse(readFileSync(file, 'utf8')) as { runs: BenchRun[]; slo: { rule: string; ok: boolean }[] };
}

export function bench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BENCH, ...args], { timeout: 90_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
