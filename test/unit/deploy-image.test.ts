// The Dockerfile, read as text (no Docker engine here): one exact Node 22 release in every
// stage, a Node whose ABI uws-pack ships a binary for, the OCI labels, one image for every role.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { repoFile, ROOT } from '../helpers/deploy.js';

const pkg = JSON.parse(repoFile('package.json')) as { version: string; license: string };

/** What is wrong with a Dockerfile's base images and labels; empty when nothing is. */
function imageProblems(dockerfile: string): string[] {
  const problems: string[] = [];
  const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]!);
  if (froms.length === 0) problems.push('no FROM line');
  const versions = new Set<string>();
  for (const from of froms) {
    const m = /^node:(22\.\d+\.\d+)-bookworm-slim(@sha256:[0-9a-f]{64})?$/.exec(from);
    if (m === null) problems.push(`FROM ${from}: not node:22.x.y-bookworm-slim`);
    else versions.add(m[1]!);
  }
  if (versions.size > 1) problems.push(`FROM lines name ${versions.size} Node versions: ${[...versions].join(', ')}`);
  const labels = new Map([...dockerfile.matchAll(/\b(org\.opencontainers\.image\.[a-z.]+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
  for (const key of ['title', 'description', 'source', 'licenses', 'version', 'revision']) {
    if (!labels.has(`org.opencontainers.image.${key}`)) problems.push(`no org.opencontainers.image.${key} label`);
  }
  if (labels.get('org.opencontainers.image.licenses') !== pkg.license) problems.push(`licenses label is not package.json's ${pkg.license}`);
  if (labels.get('org.opencontainers.image.version') !== '${VERSION}') problems.push('version label is not the VERSION build arg');
  const version = /^ARG VERSION=(\S+)$/m.exec(dockerfile)?.[1];
  if (version !== pkg.version) problems.push(`ARG VERSION defaults to ${version}, package.json says ${pkg.version}`);
  if (!/^CMD \["node", "dist\/src\/main\.js"\]$/m.test(dockerfile)) problems.push('CMD is not node dist/src/main.js');
  if (/^ENV ROLE=/m.test(dockerfile)) problems.push('the image fixes a ROLE: one image serves every role');
  if (!/^STOPSIGNAL SIGTERM$/m.test(dockerfile)) problems.push('no STOPSIGNAL SIGTERM');
  if (!/^HEALTHCHECK .*\n.*\/livez/m.test(dockerfile)) problems.push('no HEALTHCHECK on /livez');
  if (!/^USER node$/m.test(dockerfile)) problems.push('does not run as the node user');
  return problems;
}

const dockerfile = repoFile('Dockerfile');

t.test('deploy-image - Node 22 pinned in every stage, OCI labels, one image', async (t) => {
  t.same(imageProblems(dockerfile), [], 'the Dockerfile as committed');
});

t.test('deploy-image - a wrong Dockerfile is caught', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['a floating tag', dockerfile.replace(/node:22\.\d+\.\d+-bookworm-slim AS build/, 'node:22-bookworm-slim AS build'), /FROM node:22-bookworm-slim: not/],
    ['Node 24', dockerfile.replaceAll(/node:22\.\d+\.\d+/g, 'node:24.1.0'), /not node:22/],
    ['two versions', dockerfile.replace(/node:22\.\d+\.\d+-bookworm-slim AS runtime/, 'node:22.1.0-bookworm-slim AS runtime'), /2 Node versions/],
    ['a label gone', dockerfile.replace(/org\.opencontainers\.image\.source=/, 'org.example.source='), /no org\.opencontainers\.image\.source/],
    ['a stale version', dockerfile.replace(/^ARG VERSION=.*$/m, 'ARG VERSION=0.0.1'), /ARG VERSION defaults to 0\.0\.1/],
    ['a role baked in', dockerfile.replace(/^ENV NODE_ENV=production$/m, 'ENV NODE_ENV=production\nENV ROLE=gateway'), /fixes a ROLE/],
  ];
  for (const [name, text, want] of cases) {
    t.not(text, dockerfile, `${name}: the mutation applied`);
    t.match(imageProblems(text).join('\n'), want, name);
  }
});

t.test('deploy-image - uws-pack has a binary for Node 22 (ABI 127)', async (t) => {
  // The runtime stage keeps uws_<platform>_<arch>_<ABI>.node for its node and fails without it.
  const bins = readdirSync(join(ROOT, 'node_modules/uWebSockets.js/dist/bin'));
  t.ok(bins.includes('uws_linux_x64_127.node'), 'linux x64, ABI 127 (Node 22)');
  t.notOk(bins.some((b) => b.endsWith('_137.node')), 'none for ABI 137 (Node 24): the reason the image is on 22');
});
