// The client's address at the upgrade: the socket's peer, or, when that peer is a trusted proxy
// (TRUSTED_PROXIES), the first untrusted hop its header names (CLIENT_IP_HEADER). Per-address
// limits (ip-limits.ts) key on it. The peer comes as uWS's binary form and is formatted here:
// this uWS build's own text form leaves IPv4-mapped and IPv6 addresses as 39 hex characters.

import { BlockList, isIP } from 'node:net';

/** Which request header a trusted proxy names the client in. */
export type ClientIpHeader = 'x-forwarded-for' | 'x-real-ip' | 'forwarded';
export const CLIENT_IP_HEADERS: readonly ClientIpHeader[] = ['x-forwarded-for', 'x-real-ip', 'forwarded'];

/** A peer's binary address (4 or 16 bytes) as text: dotted IPv4 (also for `::ffff:a.b.c.d`), else compressed IPv6. */
export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (bytes.length !== 16) return '';
  let mapped = bytes[10] === 0xff && bytes[11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) if (bytes[i] !== 0) mapped = false;
  if (mapped) return `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // RFC 5952: the longest run of two or more zero groups (the first of equal runs) becomes '::'
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/**
 * An address as it appears in a header, in the form formatAddress gives (so that one client has
 * one key): IPv4 as is, IPv6 compressed and lower case, IPv4-mapped IPv6 as IPv4; '' when it is
 * not an IP address (a hostname, `unknown`, an obfuscated RFC 7239 node, a port glued on).
 */
export function normalizeAddress(text: string): string {
  const kind = isIP(text);
  if (kind === 4) return text;
  if (kind !== 6) return '';
  const bytes = ipv6Bytes(text);
  return bytes ? formatAddress(bytes) : '';
}

/** The 16 bytes of a valid IPv6 text (net.isIP already said it is one); zone ids refused. */
function ipv6Bytes(text: string): Uint8Array | null {
  if (text.includes('%')) return null;
  // The URL parser writes an embedded dotted quad as two hex groups and compresses the zeros:
  // what is left is hex groups around at most one '::'.
  let host: string;
  try {
    host = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
  const [left, right] = host.includes('::') ? (host.split('::') as [string, string]) : [host, null];
  const head = left === '' ? [] : left.split(':');
  const tail = right === null || right === '' ? [] : right.split(':');
  const zeros = 8 - head.length - tail.length;
  if (zeros < 0 || (right === null && zeros !== 0)) return null;
  const groups = [...head, ...new Array<string>(zeros).fill('0'), ...tail].map((h) => parseInt(h, 16));
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** TRUSTED_PROXIES: IPs and CIDRs (IPv4 and IPv6), comma separated; throws a message naming the bad entry. */
export function parseTrustedProxies(raw: string): BlockList | null {
  const entries = raw
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (entries.length === 0) return null;
  const list = new BlockList();
  for (const entry of entries) {
    const [addr, bits, extra] = entry.split('/');
    const kind = isIP(addr ?? '');
    const max = kind === 4 ? 32 : 128;
    if (kind === 0 || extra !== undefined || (bits !== undefined && !/^\d{1,3}$/.test(bits)) || Number(bits ?? 0) > max) {
      throw new Error(`not an IP address or CIDR: ${JSON.stringify(entry)}`);
    }
    const type = kind === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(addr!, type);
    else list.addSubnet(addr!, Number(bits), type);
  }
  return list;
}

/** Who is trusted and which header they name the client in. */
export interface ClientAddressOptions {
  /** null: nobody, headers are ignored */
  readonly trusted: BlockList | null;
  readonly header: ClientIpHeader;
}

/** At most this many hops of a forwarding header are looked at (a longer chain: the hop reached is taken). */
const MAX_HOPS = 32;

/**
 * Resolves the client address of one upgrade: `peer` is the socket's (formatAddress), `header`
 * the raw value of the configured header ('' when absent). Every hop from the right that is a
 * trusted proxy is skipped; the first that is not is the client. A header that cannot be read
 * (garbage, a hostname) stops the walk at the last trusted hop: that proxy is then the client
 * as far as this gateway can tell, which limits the proxy rather than trusting the garbage.
 */
export class ClientAddress {
  constructor(private readonly opts: ClientAddressOptions) {}

  /** whether the configured header must be read for this peer (it is ignored otherwise) */
  readsHeader(peer: string): boolean {
    return this.opts.trusted !== null && this.isTrusted(peer);
  }

  get header(): ClientIpHeader {
    return this.opts.header;
  }

  resolve(peer: string, header: string): string {
    if (!this.readsHeader(peer) || header === '') return peer;
    const hops = hopsOf(this.opts.header, header);
    let client = peer;
    for (let i = hops.length - 1, n = 0; i >= 0 && n < MAX_HOPS; i--, n++) {
      const hop = normalizeAddress(hops[i]!);
      if (hop === '') return client;
      client = hop;
      if (!this.isTrusted(hop)) return hop;
    }
    return client;
  }

  private isTrusted(addr: string): boolean {
    const kind = isIP(addr);
    return kind !== 0 && this.opts.trusted!.check(addr, kind === 4 ? 'ipv4' : 'ipv6');
  }
}

/** The addresses a header names, leftmost (the original client) first; text that is not an address stays as is (and stops the walk). */
export function hopsOf(header: ClientIpHeader, value: string): string[] {
  if (header === 'x-real-ip') return [stripPort(value.trim())];
  if (header === 'x-forwarded-for') return value.split(',').map((h) => stripPort(h.trim()));
  // RFC 7239: elements separated by ',', pairs by ';', `for=` names the client of that hop
  // (quoted when it has a port or is IPv6: `for="[2001:db8::1]:4711"`).
  const out: string[] = [];
  for (const element of value.split(',')) {
    let node = '';
    for (const pair of element.split(';')) {
      const eq = pair.indexOf('=');
      if (eq < 0) continue;
      if (pair.slice(0, eq).trim().toLowerCase() !== 'for') continue;
      node = pair.slice(eq + 1).trim();
      if (node.startsWith('"') && node.endsWith('"') && node.length >= 2) node = node.slice(1, -1);
      break;
    }
    out.push(stripPort(node));
  }
  return out;
}

/** `1.2.3.4:80` → `1.2.3.4`; `[::1]:80` or `[::1]` → `::1`; anything else unchanged. */
function stripPort(hop: string): string {
  if (hop.startsWith('[')) {
    const end = hop.indexOf(']');
    return end > 0 && (end === hop.length - 1 || /^:\d{1,5}$/.test(hop.slice(end + 1))) ? hop.slice(1, end) : hop;
  }
  const m = /^(\d+\.\d+\.\d+\.\d+):\d{1,5}$/.exec(hop);
  return m ? m[1]! : hop;
}
