#!/usr/bin/env node
// danmaku CLI: `token` mints a connection token for trying things out; `client` joins a room,
// prints what arrives and sends each line typed as a danmaku.

import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { parseTokenKeys } from '../auth/keys.js';
import { mintToken } from '../auth/token.js';
import { DanmakuClient, RequestFailed } from '../client/client.js';
import { DEV_TOKEN_SECRET, envSecret } from '../config.js';
import { Kind, kindOf } from '../protocol/kinds.js';

const USAGE = `usage:
  danmaku token --uid ID [--name NAME] [--roles a,b] [--ttl SECONDS] [--secret S] [--kid KID] [--aud A] [--iss I]
      --kid signs with that key of $TOKEN_KEYS (or the file $TOKEN_KEYS_FILE names; --secret: that key's secret)
      and names it in the token's header.
  danmaku client [--url ws://127.0.0.1:9001] [--room lobby] [--token T | --uid ID]
      Joins the room, prints what arrives, sends every line you type as a danmaku.
      Lines starting with /like, /gift ID [N] or /switch ROOM do what they say;
      /msg GROUP TEXT sends to a chat group, /dm UID TEXT to one user.
  The secret defaults to $TOKEN_SECRET (or the file $TOKEN_SECRET_FILE names), else the standalone development secret.`;

async function token(args: string[]): Promise<void> {
  const str = { type: 'string' } as const;
  const { values } = parseArgs({ args, options: { uid: str, name: str, roles: str, ttl: str, secret: str, kid: str, aud: str, iss: str } });
  if (!values.uid) throw new Error('--uid is required');
  const secret = values.secret ?? (values.kid !== undefined ? keySecret(values.kid) : (envSecret('TOKEN_SECRET') ?? DEV_TOKEN_SECRET));
  const roles = values.roles ? values.roles.split(',').filter(Boolean) : [];
  const ttlSeconds = values.ttl ? Number(values.ttl) : undefined;
  process.stdout.write(`${mintToken(secret, { uid: values.uid, name: values.name, roles, ttlSeconds, kid: values.kid, aud: values.aud, iss: values.iss })}\n`);
}

/** The secret of key `kid` in TOKEN_KEYS (as the server reads it). */
function keySecret(kid: string): string {
  const secret = parseTokenKeys(envSecret('TOKEN_KEYS') ?? '').get(kid);
  if (secret === undefined) throw new Error(`--kid ${kid}: no such key in TOKEN_KEYS (or TOKEN_KEYS_FILE); or give its --secret`);
  return secret;
}

function describe(item: Record<string, unknown>): string {
  const who = item.n ?? item.u ?? '';
  switch (item.k) {
    case Kind.Danmaku:
      return `#${item.s} ${who}: ${item.x}`;
    case Kind.Like:
      return `#${item.s} +${item.a} like${item.a === 1 ? '' : 's'}`;
    case Kind.Gift:
      return `#${item.s} ${who} sent ${item.a} x ${item.g}`;
    default: {
      // Any other kind, as the kinds table describes it: its name and its fields.
      const kind = kindOf(item.k);
      const fields = Object.keys(kind?.fields ?? {}).filter((f) => item[f] !== undefined);
      return `#${item.s} [${kind?.name ?? `kind ${String(item.k)}`}] ${who} ${fields.map((f) => (f === 'x' ? String(item.x) : `${f}=${String(item[f])}`)).join(' ')}`.trimEnd();
    }
  }
}

async function client(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { url: { type: 'string' }, room: { type: 'string' }, token: { type: 'string' }, uid: { type: 'string' }, secret: { type: 'string' } } });
  const url = values.url ?? `ws://127.0.0.1:${process.env.PORT ?? 9001}`;
  const secret = values.secret ?? envSecret('TOKEN_SECRET') ?? DEV_TOKEN_SECRET;
  const tok = values.token ?? (values.uid ? mintToken(secret, { uid: values.uid }) : undefined);
  const c = await DanmakuClient.connect(url, { token: tok });
  const w = c.welcome ?? {};
  console.log(`connected to ${w.gateway} as ${w.uid}${w.guest ? ' (guest: watch only)' : ''}`);
  const joined = await c.join(values.room ?? 'lobby');
  console.log(`joined ${joined.body.room}: ${joined.body.online} online`);
  for (const item of joined.body.replay as Record<string, unknown>[]) console.log(`  ${describe(item)}`);
  c.on('batch', (b: { d: Record<string, unknown>[]; s: number }) => {
    for (const item of b.d) console.log(describe(item));
    if (b.s > 0) console.log(`  (${b.s} danmaku not shown: room over its display cap)`);
  });
  c.on('online', (o: { n: number }) => console.log(`  [${o.n} online]`));
  c.on('message', (m: { g?: string; to?: string; u: string; n: string; x: string }) => {
    const where = m.g !== undefined ? `group ${m.g}` : m.u === '' ? 'notice' : `${m.u} -> ${m.to}`;
    console.log(`<${where}> ${m.u === '' ? '' : `${m.n}: `}${m.x}`);
  });
  c.on('close', (code: number, reason: string) => {
    console.log(`closed: ${code} ${reason}`);
    process.exit(code === 1000 ? 0 : 1);
  });
  const rl = createInterface({ input: process.stdin });
  let n = 0;
  rl.on('line', (line) => {
    const [cmd, a, b] = line.trim().split(/\s+/);
    const rest = line.trim().split(/\s+/).slice(2).join(' ');
    let req: Promise<unknown>;
    if (!cmd) return;
    if (cmd === '/switch' && a) req = c.switchTo(a).then((j) => console.log(`switched to ${j.body.room}`));
    else if (cmd === '/like') req = c.send({ k: Kind.Like, a: 1 });
    else if (cmd === '/gift' && a) req = c.send({ k: Kind.Gift, g: a, a: Number(b ?? 1) });
    else if (cmd === '/msg' && a && rest) req = c.message({ g: a, x: rest, id: `cli-${process.pid}-${++n}` });
    else if (cmd === '/dm' && a && rest) req = c.message({ to: a, x: rest, id: `cli-${process.pid}-${++n}` });
    else req = c.send({ k: Kind.Danmaku, x: line, id: `cli-${process.pid}-${++n}` });
    req.catch((err: unknown) => console.log(`! ${err instanceof RequestFailed ? `${err.frame.body.reason}: ${err.message}` : String(err)}`));
  });
  rl.on('close', () => c.close());
}

const [cmd, ...rest] = process.argv.slice(2);
const run = cmd === 'token' ? token : cmd === 'client' ? client : null;
if (!run) {
  console.error(USAGE);
  process.exit(cmd === '--help' || cmd === '-h' ? 0 : 2);
}
run(rest).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
