// Browser tests' helpers: Debian's Chromium through playwright-core (bench/lib/chromium.ts),
// pages whose every console error, uncaught exception and failed or refused request is
// recorded (a page that "works" with errors in its console is not done), and the directory
// where screenshots are written for the record.

import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../../bench/lib/chromium.js';

export { haveChromium } from '../../bench/lib/chromium.js';

/** Screenshots and other artefacts of the browser tests (git-ignored: under dist/). */
export const OUTPUT_DIR = fileURLToPath(new URL('../../test-output/browser/', import.meta.url));

export function outputPath(name: string): string {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  return OUTPUT_DIR + name;
}

export interface WatchedPage {
  readonly page: Page;
  readonly context: BrowserContext;
  /** console errors, page errors, failed requests and HTTP errors, in order */
  readonly problems: string[];
}

/**
 * A new context (its own cookies and storage: another viewer) with one page opened at `url`,
 * watched for problems from the first request on.
 */
export async function openPage(browser: Browser, url: string, opts: { viewport?: { width: number; height: number }; ignore?: RegExp } = {}): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1280, height: 720 } });
  const page = await context.newPage();
  const problems: string[] = [];
  const note = (what: string) => {
    if (!opts.ignore?.test(what)) problems.push(what);
  };
  page.on('console', (m) => {
    if (m.type() === 'error') note(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => note(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    // A WebSocket closed by a server restart is the test's doing, not the page's.
    if (r.resourceType() !== 'websocket') note(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) note(`HTTP ${r.status()}: ${r.url()}`);
  });
  await page.goto(url, { waitUntil: 'load' });
  return { page, context, problems };
}

/** A shared browser for one test file, closed at teardown. */
export async function browserFor(t: { teardown(fn: () => unknown): void }): Promise<Browser> {
  const browser = await launchChromium();
  t.teardown(() => browser.close());
  return browser;
}
