// Self-signed certificate pairs for the TLS tests, made with openssl in a temporary directory
// (CN=localhost, SAN DNS:localhost and IP:127.0.0.1, valid a day): two pairs, A and B, for a reload.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertPair {
  readonly cert: string;
  readonly key: string;
}

export interface CertPairs {
  readonly dir: string;
  readonly a: CertPair;
  readonly b: CertPair;
  remove(): void;
}

function makePair(dir: string, name: string): CertPair {
  const cert = join(dir, `${name}-cert.pem`);
  const key = join(dir, `${name}-key.pem`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  return { cert, key };
}

export function makeCertPairs(): CertPairs {
  const dir = mkdtempSync(join(tmpdir(), 'danmaku-tls-'));
  return { dir, a: makePair(dir, 'a'), b: makePair(dir, 'b'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}
