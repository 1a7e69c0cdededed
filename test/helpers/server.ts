// Starts the real server process (dist/src/main.js) on free loopback ports (through
// bench/lib/server-process.ts, which the harness shares) and gives the tests a client for it.

import { DanmakuClient, type ClientOptions } from '../../src/client/client.js';
import { mintToken } from '../../src/auth/token.js';
import { scrape } from '../../bench/lib/prom.js';
import { startServerProcess, type NodeProcess } from '../../bench/lib/server-process.js';

export { metricValue } from '../../bench/lib/prom.js';

export const SECRET = 'test-secret-0123456789abcdef';

export interface RunningServer extends NodeProcess {
  readonly url: string;
  connect(uid?: string, opts?: ClientOptions & { roles?: string[] }): Promise<DanmakuClient>;
  token(uid: string, roles?: string[]): string;
  metrics(): Promise<string>;
}

export async function startServer(env: Record<string, string> = {}, name = 'server'): Promise<RunningServer> {
  // Admission by event-loop lag is off here (server-process.ts) unless a test asks for it
  // (test/e2e/admission.test.ts): on a CI machine shared with Chromium and other tests the loop
  // can lag past the default for seconds, and a refused upgrade is not what the others test.
  // Adaptive degradation likewise (test/e2e/degrade.test.ts turns it on): a loaded machine
  // must not widen the merge windows of the other tests' rooms.
  const p = await startServerProcess({ TOKEN_SECRET: SECRET, LOG_LEVEL: 'info', DEGRADE: 'off', ...env }, { name });
  const url = `ws://127.0.0.1:${p.port}`;
  const token = (uid: string, roles?: string[]) => mintToken(SECRET, { uid, name: uid, roles });
  return {
    ...p,
    url,
    token,
    async connect(uid, opts = {}) {
      return DanmakuClient.connect(url, { heartbeat: false, ...opts, token: uid ? token(uid, opts.roles) : opts.token });
    },
    metrics: () => scrape(`http://127.0.0.1:${p.metricsPort}/metrics`),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves when `check` returns true, polling; rejects after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
