// Debian's Chromium, driven by playwright-core, for the browser tests and the overlay bench.
// Headless, no sandbox (CI runs as root), and none of Chromium's own network traffic
// (background networking, component updates, sync, QUIC): this machine has no internet, and
// a refused connection to Google's hosts must not look like a page's failed request.

import { existsSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type LaunchOptions } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--metrics-recording-only',
  '--no-default-browser-check',
  '--password-store=basic',
];

/** Whether the Chromium binary is there (`.ci/run` installs Debian's `chromium`). */
export function haveChromium(): boolean {
  return existsSync(CHROMIUM_PATH);
}

/**
 * Launches a fresh headless Chromium. Each call gets a browser of its own; `close()` it (the
 * profile directory is playwright's own temporary one, removed on close).
 */
export async function launchChromium(opts: LaunchOptions = {}): Promise<Browser> {
  if (!haveChromium()) throw new Error(`Chromium not found at ${CHROMIUM_PATH}: apt-get install chromium (or set CHROMIUM_PATH)`);
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: [...CHROMIUM_ARGS, ...(opts.args ?? [])], ...opts, timeout: opts.timeout ?? 30_000 });
}

/** A persistent context with its own profile directory, removed when the context closes. */
export async function launchPersistent(opts: { viewport?: { width: number; height: number } } = {}): Promise<BrowserContext> {
  if (!haveChromium()) throw new Error(`Chromium not found at ${CHROMIUM_PATH}`);
  const dir = mkdtempSync(join(tmpdir(), 'danmaku-chromium-'));
  const ctx = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, viewport: opts.viewport ?? { width: 1280, height: 720 } });
  ctx.on('close', () => rmSync(dir, { recursive: true, force: true }));
  return ctx;
}
