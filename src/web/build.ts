// The browser half of `npm run build` (after tsc): bundles the SDK, the overlay and the demo
// page with esbuild into dist/web, which the gateway serves (src/gateway/web.ts), and prints
// each bundle's size, raw and gzipped. `--check` fails when a bundle is over its budget.

import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const out = join(root, 'dist', 'web');

/** Size budgets, minified and gzipped (README, "Embed it in your page"). */
export const BUDGETS: Readonly<Record<string, number>> = {
  'sdk/danmaku-client.js': 20 * 1024,
  'sdk/danmaku-overlay.js': 12 * 1024,
  'sdk/danmaku.js': 30 * 1024,
};

export interface BundleSize {
  readonly file: string;
  readonly bytes: number;
  readonly gzip: number;
  readonly budget?: number;
}

export async function buildWeb(): Promise<BundleSize[]> {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, 'demo'), { recursive: true });
  const common = { bundle: true, minify: true, format: 'esm', target: 'es2020', platform: 'browser', legalComments: 'none', logLevel: 'warning' } as const;
  await build({
    ...common,
    entryPoints: {
      'sdk/danmaku-client': join(root, 'src/sdk/index.ts'),
      'sdk/danmaku-overlay': join(root, 'src/overlay/index.ts'),
      'sdk/danmaku': join(root, 'src/web/all.ts'),
    },
    outdir: out,
    sourcemap: 'linked',
  });
  await build({ ...common, entryPoints: { 'demo/app': join(root, 'src/web/demo/app.ts') }, outdir: out, sourcemap: 'linked' });
  for (const f of ['index.html', 'style.css']) copyFileSync(join(root, 'src/web/demo', f), join(out, 'demo', f));
  const sizes = ['sdk/danmaku-client.js', 'sdk/danmaku-overlay.js', 'sdk/danmaku.js', 'demo/app.js'].map((file) => {
    const body = readFileSync(join(out, file));
    return { file, bytes: body.length, gzip: gzipSync(body, { level: 9 }).length, budget: BUDGETS[file] };
  });
  writeFileSync(join(root, 'dist', 'web-sizes.json'), JSON.stringify(sizes, null, 2) + '\n');
  return sizes;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const sizes = await buildWeb();
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  let over = false;
  for (const s of sizes) {
    const mark = s.budget === undefined ? '' : s.gzip <= s.budget ? ` (budget ${kb(s.budget)})` : ` OVER BUDGET ${kb(s.budget)}`;
    if (s.budget !== undefined && s.gzip > s.budget) over = true;
    process.stdout.write(`web: dist/web/${s.file}  ${kb(s.bytes)} min, ${kb(s.gzip)} gzip${mark}\n`);
  }
  if (over && process.argv.includes('--check')) process.exit(1);
}
