// Debian's Prometheus and promtool for the tests (.ci/run installs the `prometheus` package).
// startPrometheus() runs a real Prometheus on a free loopback port with a temporary config
// and storage directory of its own; it is taken to be up when the server answering on that port
// reports our storage directory (another process may have bound the port in between: then it
// starts again on another port). Stopped by PID; stop() also removes its directory.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from './infra.js';

const START_TIMEOUT_MS = 20_000;

/** The path of `name` on PATH or in /usr/bin, or null: the tests fail, not skip, without it. */
export function findTool(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin'];
  for (const d of dirs) if (d && existsSync(join(d, name))) return join(d, name);
  return null;
}

export function promtool(args: string[], cwd?: string): { status: number | null; output: string } {
  const bin = findTool('promtool');
  if (!bin) throw new Error('promtool not found: install Debian\'s prometheus package (.ci/run does)');
  const r = spawnSync(bin, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

export interface PrometheusOptions {
  /** host:port of each /metrics endpoint to scrape, with the labels to give its target */
  readonly targets: readonly { address: string; labels?: Record<string, string> }[];
  /** rule files to load (absolute paths) */
  readonly ruleFiles?: readonly string[];
  /** scrape and rule evaluation interval, e.g. '1s' */
  readonly interval: string;
}

export interface RunningPrometheus {
  readonly url: string;
  readonly pid: number;
  /** GET <url>/api/v1/<path>; throws unless Prometheus answers status "success" */
  api<T = unknown>(path: string, params?: Record<string, string>): Promise<T>;
  logs(): string;
  stop(): Promise<void>;
}

function config(opts: PrometheusOptions): string {
  // JSON is YAML: no YAML writer needed for a config this small.
  return JSON.stringify({
    global: { scrape_interval: opts.interval, evaluation_interval: opts.interval, scrape_timeout: opts.interval },
    rule_files: opts.ruleFiles ?? [],
    scrape_configs: [
      {
        job_name: 'danmaku',
        static_configs: opts.targets.map((t) => ({ targets: [t.address], labels: t.labels ?? {} })),
      },
    ],
  });
}

export async function startPrometheus(opts: PrometheusOptions): Promise<RunningPrometheus> {
  const bin = findTool('prometheus');
  if (!bin) throw new Error('prometheus not found: install Debian\'s prometheus package (.ci/run does)');
  const dir = mkdtempSync(join(tmpdir(), 'danmaku-prometheus-'));
  writeFileSync(join(dir, 'prometheus.yml'), config(opts));
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let output = '';
    const proc: ChildProcess = spawn(bin, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => (output = (output + d.toString()).slice(-8000));
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    const stop = async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
    };
    const api = async <T>(path: string, params: Record<string, string> = {}): Promise<T> => {
      const res = await fetch(`${url}/api/v1/${path}?${new URLSearchParams(params)}`);
      const body = (await res.json()) as { status: string; data: T; error?: string; errorType?: string };
      if (body.status !== 'success') throw new Error(`prometheus ${path} ${JSON.stringify(params)}: ${body.errorType}: ${body.error}`);
      return body.data;
    };
    const deadline = Date.now() + START_TIMEOUT_MS;
    let ours = false;
    while (!ours && proc.exitCode === null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      // Our Prometheus is the one whose storage is our directory.
      const flags = await api<Record<string, string>>('status/flags').catch(() => null);
      ours = flags?.['storage.tsdb.path'] === join(dir, 'data');
    }
    if (ours) {
      return {
        url,
        pid: proc.pid!,
        api,
        logs: () => output,
        async stop() {
          await stop();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    await stop();
    if (attempt >= 2 || !/address already in use/.test(output)) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`prometheus did not start on ${url}:\n${output}`);
    }
  }
}
