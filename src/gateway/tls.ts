// TLS on the WebSocket port (TLS_CERT, TLS_KEY, TLS_PASSPHRASE) and the certificate's reload.
// uWS's SSLApp takes file paths and keeps the certificate it started with as its default for
// the app's life; a new certificate can only be served through SNI. So a reload (the files'
// mtimes changed, polled every TLS_RELOAD_MS) validates the new pair, then replaces the SNI
// entries of the names the certificate is for (removeServerName, addServerName; uSockets matches
// `*.example.com` entries itself, so a wildcard certificate needs one entry). A server name gets
// a router of its own in uWS, empty: the gateway's routes are attached to it again (domain()).
// Connections already up keep the certificate they were opened with. Clients that send no SNI
// (a URL with an IP address) or name a host the certificate is not for keep getting the startup
// certificate until the process restarts. uWS is only imported as a type here.
//
// This uWS build prints lines of its own on stdout when server names change (`finding <name>`,
// `Browsed to SNI: <name>`, `Cannot browse to SNI: `): a few lines per reload, not JSON.

import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type * as uWS from 'uWebSockets.js';
import type { Logger } from '../log.js';
import type { TlsReloadResult } from '../metric-labels.js';

export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly passphrase: string | null;
}

/** A certificate and key that were read and checked to belong together. */
export interface TlsPair {
  /** the DNS names of the certificate (subjectAltName, else the subject's CN), lower case; wildcards as `*.example.com` */
  readonly names: readonly string[];
  /** SHA-256 fingerprint of the leaf certificate, as node:crypto writes it */
  readonly fingerprint: string;
  /** the files' mtimes (ms) when read */
  readonly stamp: string;
}

/** Names of one certificate taken for SNI, at most (each gets an SNI entry and a router). */
export const MAX_CERT_NAMES = 100;

/** The files' mtimes, as one string; throws when one cannot be read. */
export function tlsStamp(files: TlsFiles): string {
  return `${statSync(files.cert).mtimeMs}:${statSync(files.key).mtimeMs}`;
}

/** Reads and checks the pair (OpenSSL loads it, the key must match the certificate); throws a readable Error. */
export function readTlsPair(files: TlsFiles): TlsPair {
  let stamp: string;
  let cert: Buffer;
  let key: Buffer;
  try {
    stamp = tlsStamp(files);
    cert = readFileSync(files.cert);
    key = readFileSync(files.key);
  } catch (err) {
    throw new Error(`cannot read the certificate or key (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
  let x509: X509Certificate;
  try {
    createSecureContext({ cert, key, passphrase: files.passphrase ?? undefined });
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new Error(`not a usable PEM certificate and matching key: ${(err as Error).message}`, { cause: err });
  }
  return { names: certificateNames(x509), fingerprint: x509.fingerprint256, stamp };
}

/** The DNS names a certificate is for: its subjectAltName DNS entries, else its subject CN. */
export function certificateNames(x509: X509Certificate): string[] {
  const names = new Set<string>();
  for (const entry of (x509.subjectAltName ?? '').split(',')) {
    const m = /^\s*DNS:(.+)$/.exec(entry);
    if (m) names.add(m[1]!.trim().toLowerCase());
  }
  if (names.size === 0) {
    const cn = /(?:^|\n)CN=([^\n]+)/.exec(x509.subject);
    if (cn) names.add(cn[1]!.trim().toLowerCase());
  }
  return [...names].filter((n) => /^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(n)).slice(0, MAX_CERT_NAMES);
}

export type SniApp = Pick<uWS.TemplatedApp, 'addServerName' | 'removeServerName' | 'domain'>;

export interface TlsReloadObserver {
  tlsReload(result: TlsReloadResult): void;
}

/** Polls the files and applies a changed pair through SNI. */
export class TlsReloader {
  private current: TlsPair;
  /** names with an SNI entry for the current pair */
  private readonly added = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  /** the stamp of a pair that failed, not tried again until the files change again */
  private failedStamp: string | null = null;

  constructor(
    private readonly app: SniApp,
    private readonly files: TlsFiles,
    private readonly intervalMs: number,
    private readonly metrics: TlsReloadObserver,
    private readonly log: Logger,
    /** attaches the gateway's routes to the app's current router (the one domain() chose) */
    private readonly routes: () => void,
    startup: TlsPair = readTlsPair(files),
  ) {
    this.current = startup;
  }

  get fingerprint(): string {
    return this.current.fingerprint;
  }

  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One poll: reloads when the files' mtimes changed. Returns the result, or null when nothing changed. */
  check(): TlsReloadResult | null {
    let stamp: string;
    try {
      stamp = tlsStamp(this.files);
    } catch (err) {
      return this.failed(`stat:${(err as NodeJS.ErrnoException).code ?? ''}`, err);
    }
    if (stamp === this.current.stamp || stamp === this.failedStamp) return null;
    let pair: TlsPair;
    try {
      pair = readTlsPair(this.files);
    } catch (err) {
      return this.failed(stamp, err);
    }
    this.apply(pair);
    this.failedStamp = null;
    this.metrics.tlsReload('ok');
    this.log.info({ names: pair.names, fingerprint: pair.fingerprint, previous: this.current.fingerprint }, 'TLS certificate reloaded: new connections that name these hosts (SNI) get it');
    this.current = pair;
    return 'ok';
  }

  private failed(stamp: string, err: unknown): TlsReloadResult {
    if (stamp === this.failedStamp) return 'failed';
    this.failedStamp = stamp;
    this.metrics.tlsReload('failed');
    this.log.warn({ err: (err as Error).message, cert: this.files.cert, key: this.files.key }, 'TLS certificate files changed but cannot be used; keeping the current certificate');
    return 'failed';
  }

  private apply(pair: TlsPair): void {
    for (const name of this.added) this.app.removeServerName(name);
    this.added.clear();
    const options = { cert_file_name: this.files.cert, key_file_name: this.files.key, ...(this.files.passphrase ? { passphrase: this.files.passphrase } : {}) };
    for (const name of pair.names) {
      this.app.addServerName(name, options);
      this.added.add(name);
      this.app.domain(name);
      this.routes();
    }
    // back to the default router (a name that has no entry selects it)
    this.app.domain('');
  }
}
