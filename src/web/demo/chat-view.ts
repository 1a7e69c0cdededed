// The demo's open conversation: HISTORY pages (newest at the bottom, older ones on scroll-back
// or the 'older' button), live messages, sending with MSG (shown pending until its ACK) and
// READ while the conversation is open and the page visible.

import type { Ack, ChatMessage, Conversation } from '../../sdk/index.js';
import { describeError, type EventLog } from './log.js';

export interface ViewElements {
  view: HTMLElement;
  title: HTMLElement;
  log: HTMLElement;
  older: HTMLButtonElement;
  messages: HTMLElement;
  form: HTMLFormElement;
  input: HTMLInputElement;
}

export interface ViewHooks {
  /** the list's idea of a conversation's read state, to skip a READ that changes nothing */
  readState(id: string): { unread: number; read: number } | undefined;
  /** a READ answered */
  read(id: string, r: { read: number; unread: number; total: number }): void;
  /** one of our messages was stored: the list's order and preview changed */
  sent(): void;
}

/** A message as shown: a stored one (key: its server id) or one of ours awaiting its ACK. */
interface Shown { key: string; s: number; u: string; n: string; t: number; x: string; state: 'stored' | 'pending' | 'failed'; local: boolean }

interface Open {
  id: string;
  conv: Conversation;
  me: string;
  shown: Map<string, Shown>;
  /** smallest s loaded from HISTORY: the next page's `before` */
  oldest: number | null;
  more: boolean;
  loading: boolean;
}

const READ_DELAY_MS = 300;
const SCROLL_LOAD_PX = 40;
const GROUP_WITHIN_MS = 5 * 60_000;

export class ConversationView {
  private open: Open | null = null;
  private readTimer: ReturnType<typeof setTimeout> | null = null;
  private localIds = 0;

  constructor(private readonly el: ViewElements, private readonly log: EventLog, private readonly hooks: ViewHooks) {
    el.older.addEventListener('click', () => void this.loadOlder());
    el.log.addEventListener('scroll', () => {
      if (el.log.scrollTop < SCROLL_LOAD_PX && this.open?.more && !this.open.loading) void this.loadOlder();
    });
    el.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.send();
    });
    document.addEventListener('visibilitychange', () => this.scheduleRead());
  }

  /** The open conversation's id, or null. */
  get id(): string | null {
    return this.open?.id ?? null;
  }

  async show(id: string, conv: Conversation, me: string, title: string): Promise<void> {
    const open: Open = { id, conv, me, shown: new Map(), oldest: null, more: true, loading: false };
    this.open = open;
    this.el.view.hidden = false;
    this.el.title.textContent = title;
    this.render();
    await this.loadOlder();
    if (this.open === open) this.el.input.focus();
  }

  close(): void {
    this.open = null;
    this.el.view.hidden = true;
    this.el.messages.replaceChildren();
  }

  /** A live or synced message of the open conversation (the caller checks which it belongs to). */
  add(m: ChatMessage): void {
    const open = this.open;
    if (!open) return;
    const atBottom = this.atBottom();
    store(open, m);
    this.render();
    if (atBottom) this.scrollToBottom();
    this.scheduleRead();
  }

  /** One HISTORY page before the oldest message loaded (the newest page the first time). */
  private async loadOlder(): Promise<void> {
    const open = this.open;
    if (!open || open.loading || !open.more) return;
    open.loading = true;
    this.el.older.disabled = true;
    const log = this.el.log;
    const fromBottom = log.scrollHeight - log.scrollTop;
    const first = open.oldest === null;
    try {
      const page = await open.conv.history(open.oldest === null ? {} : { before: open.oldest });
      if (this.open !== open) return;
      for (const m of page.messages) {
        store(open, m);
        if (m.s > 0 && (open.oldest === null || m.s < open.oldest)) open.oldest = m.s;
      }
      open.more = page.more && open.oldest !== null && open.oldest > 1;
      this.render();
      // keep what the reader was looking at in place; the first page starts at the bottom
      log.scrollTop = first ? log.scrollHeight : log.scrollHeight - fromBottom;
      this.scheduleRead();
    } catch (e) {
      if (this.open === open) {
        open.more = false;
        this.log.error(`history of ${open.id}`, e);
        this.render();
      }
    } finally {
      open.loading = false;
      this.el.older.disabled = false;
    }
  }

  private send(): void {
    const open = this.open;
    const text = this.el.input.value.trim();
    if (!open || text === '') return;
    this.el.input.value = '';
    const key = `local-${++this.localIds}`;
    const mine: Shown = { key, s: 0, u: open.me, n: open.me, t: Date.now(), x: text, state: 'pending', local: true };
    open.shown.set(key, mine);
    this.render();
    this.scrollToBottom();
    open.conv.send(text).then((ack: Ack) => {
      // the live MESSAGE may have come first: then the pending copy goes
      const stored = [...open.shown.values()].some((s) => !s.local && s.s === ack.s && ack.s > 0 && s.u === open.me);
      if (stored) open.shown.delete(key);
      else {
        mine.s = ack.s;
        mine.t = ack.t;
        mine.state = 'stored';
      }
      if (this.open === open) this.render();
      this.hooks.sent();
    }, (e: unknown) => {
      mine.state = 'failed';
      this.log.add(`message in ${open.id} not sent: ${describeError(e)}`, 'err');
      if (this.open === open) this.render();
    });
  }

  /** READ up to the newest message shown, while the conversation is open and the page visible. */
  private scheduleRead(): void {
    if (!this.open || document.visibilityState !== 'visible' || this.readTimer !== null) return;
    this.readTimer = setTimeout(() => {
      this.readTimer = null;
      const open = this.open;
      if (!open || document.visibilityState !== 'visible') return;
      const known = this.hooks.readState(open.id);
      const newest = Math.max(0, ...[...open.shown.values()].map((m) => m.s));
      if (newest === 0 || (known && known.unread === 0 && known.read >= newest)) return;
      open.conv.markRead().then((r) => this.hooks.read(open.id, r), (e: unknown) => this.log.error(`read ${open.id}`, e));
    }, READ_DELAY_MS);
  }

  private render(): void {
    const open = this.open;
    const ol = this.el.messages;
    ol.replaceChildren();
    if (!open) return;
    const sorted = [...open.shown.values()].sort(bySeq);
    let prev: Shown | undefined;
    for (const m of sorted) {
      const li = message(m, open.me);
      // a run of one sender's messages shows its name and time once
      if (prev && prev.u === m.u && m.t - prev.t < GROUP_WITHIN_MS && m.state === 'stored' && prev.state === 'stored') li.classList.add('cont');
      ol.append(li);
      prev = m;
    }
    if (sorted.length === 0) {
      const li = document.createElement('li');
      li.className = 'chat-empty';
      li.textContent = open.more ? 'Loading...' : 'No messages yet. Say hello!';
      ol.append(li);
    }
    this.el.older.hidden = !open.more || open.oldest === null;
  }

  private atBottom(): boolean {
    const log = this.el.log;
    return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  }

  private scrollToBottom(): void {
    this.el.log.scrollTop = this.el.log.scrollHeight;
  }
}

function store(open: Open, m: ChatMessage): void {
  // Our own message's pending copy is replaced by the stored one: by its seq once the ACK has
  // come, or, when the live MESSAGE comes first, by its text (the oldest pending copy of it).
  let replaced = false;
  for (const [key, shown] of open.shown) {
    if (shown.local && shown.s === m.s && m.s > 0 && shown.u === m.u) {
      open.shown.delete(key);
      replaced = true;
    }
  }
  if (!replaced && m.u === open.me) {
    for (const [key, shown] of open.shown) {
      if (shown.local && shown.state === 'pending' && shown.x === m.x) {
        open.shown.delete(key);
        break;
      }
    }
  }
  open.shown.set(m.id, { key: m.id, s: m.s, u: m.u, n: m.n, t: m.t, x: m.x, state: 'stored', local: false });
}

function message(m: Shown, me: string): HTMLElement {
  const li = document.createElement('li');
  li.dataset.testid = 'chat-message';
  if (m.s > 0) li.dataset.s = String(m.s);
  li.className = ['msg', m.u === me ? 'mine' : '', m.u === '' ? 'system' : '', m.state === 'stored' ? '' : m.state].filter((c) => c !== '').join(' ');
  const who = m.u === me ? 'You' : m.u === '' ? 'System' : m.n || m.u;
  const when = m.state === 'pending' ? 'sending...' : m.state === 'failed' ? 'not sent' : shortTime(m.t);
  li.append(span('meta', `${who} · ${when}`), span('bubble', m.x));
  return li;
}

function bySeq(a: Shown, b: Shown): number {
  // unsequenced (s 0) and pending messages go after the numbered ones, by time
  if (a.s > 0 && b.s > 0) return a.s - b.s;
  if (a.s > 0) return -1;
  if (b.s > 0) return 1;
  return a.t - b.t;
}

export function span(className: string, text: string): HTMLElement {
  const s = document.createElement('span');
  s.className = className;
  s.textContent = text;
  return s;
}

export function shortTime(t: number): string {
  const d = new Date(t);
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return d.toTimeString().slice(0, 5);
  return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
}
