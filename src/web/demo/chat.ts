// The demo's chat panel: the conversation list (CONTACTS, with unread badges refreshed on
// 'unread' and 'message' events), one open conversation (HISTORY pages, newest at the bottom,
// older ones on scroll-back or the 'older' button), sending with MSG, and READ while the
// conversation is open and the page visible. Everything goes through the SDK's Conversations.

import type { Ack, ChatMessage, Conversation, ConversationSummary, DanmakuClient } from '../../sdk/index.js';
import { describeError, type EventLog } from './log.js';

export interface ChatElements {
  guestNote: HTMLElement;
  /** shown to a signed-in user with no conversation */
  emptyNote: HTMLElement;
  list: HTMLElement;
  totalBadge: HTMLElement;
  view: HTMLElement;
  title: HTMLElement;
  close: HTMLButtonElement;
  log: HTMLElement;
  older: HTMLButtonElement;
  messages: HTMLElement;
  form: HTMLFormElement;
  input: HTMLInputElement;
  dmForm: HTMLFormElement;
  dmInput: HTMLInputElement;
}

/** A message as shown: a stored one (key: its server id) or one of ours awaiting its ACK. */
interface Shown { key: string; s: number; u: string; n: string; t: number; x: string; state: 'stored' | 'pending' | 'failed'; local: boolean }

interface Open {
  id: string;
  conv: Conversation;
  shown: Map<string, Shown>;
  /** smallest s loaded from HISTORY: the next page's `before` */
  oldest: number | null;
  more: boolean;
  loading: boolean;
}

const UID = /^[A-Za-z0-9_.@:-]{1,64}$/;
const REFRESH_DELAY_MS = 250;
const READ_DELAY_MS = 300;
const SCROLL_LOAD_PX = 40;
const GROUP_WITHIN_MS = 5 * 60_000;

/** The conversation id ('g:<group>' or 'to:<uid>') a message belongs to, seen from `me`. */
export function conversationOf(m: ChatMessage, me: string): string {
  if (m.g !== undefined) return `g:${m.g}`;
  // a message addressed to me is the conversation with its sender ('' for server notices)
  return m.to === me ? `to:${m.u}` : `to:${m.to ?? ''}`;
}

export class ChatPanel {
  private client: DanmakuClient | null = null;
  private me = '';
  private unsubs: Array<() => void> = [];
  private open: Open | null = null;
  private summaries: ConversationSummary[] = [];
  /** CONTACTS answered at least once for this client */
  private listed = false;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private readTimer: ReturnType<typeof setTimeout> | null = null;
  private localIds = 0;

  constructor(private readonly el: ChatElements, private readonly log: EventLog) {
    el.list.addEventListener('click', (ev) => {
      const item = (ev.target as Element).closest<HTMLElement>('[data-conv]');
      if (item?.dataset.conv !== undefined) void this.openConversation(item.dataset.conv);
    });
    el.close.addEventListener('click', () => this.closeConversation());
    el.older.addEventListener('click', () => void this.loadOlder());
    el.log.addEventListener('scroll', () => {
      if (el.log.scrollTop < SCROLL_LOAD_PX && this.open?.more && !this.open.loading) void this.loadOlder();
    });
    el.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.sendMessage();
    });
    el.dmForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const uid = el.dmInput.value.trim();
      if (!UID.test(uid)) {
        this.log.add(`not a user id: "${uid}"`, 'err');
        return;
      }
      el.dmInput.value = '';
      void this.openConversation(`to:${uid}`);
    });
    document.addEventListener('visibilitychange', () => this.scheduleRead());
  }

  /** Follows a (new) client: `uid` empty means a guest, who has no chat. */
  attach(client: DanmakuClient, uid: string): void {
    this.detach();
    this.client = client;
    this.me = uid;
    const guest = uid === '';
    this.el.guestNote.hidden = !guest;
    this.el.dmForm.querySelectorAll('input, button').forEach((e) => { (e as HTMLInputElement).disabled = guest; });
    this.renderList();
    if (guest) return;
    this.unsubs.push(
      client.on('welcome', (w) => {
        this.me = w.uid;
        this.scheduleRefresh(0);
      }),
      client.on('unread', (u) => {
        this.setTotal(u.total);
        this.scheduleRefresh();
      }),
      client.on('message', (m) => {
        this.onMessage(m);
        this.scheduleRefresh();
      }),
    );
  }

  detach(): void {
    for (const off of this.unsubs) off();
    this.unsubs = [];
    this.client = null;
    this.summaries = [];
    this.listed = false;
    this.closeConversation();
    this.setTotal(0);
    if (this.refreshTimer !== null) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
  }

  private scheduleRefresh(delay = REFRESH_DELAY_MS): void {
    if (this.refreshTimer !== null) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      void this.refresh();
    }, delay);
  }

  private async refresh(): Promise<void> {
    const client = this.client;
    if (!client) return;
    try {
      const { total, items } = await client.conversations.list();
      if (client !== this.client) return;
      this.summaries = items;
      this.listed = true;
      this.setTotal(total);
      this.renderList();
    } catch (e) {
      if (client === this.client) this.log.error('conversations', e);
    }
  }

  private setTotal(total: number): void {
    this.el.totalBadge.textContent = String(total);
    this.el.totalBadge.hidden = total <= 0;
  }

  private renderList(): void {
    const list = this.el.list;
    list.replaceChildren();
    this.el.emptyNote.hidden = true;
    if (!this.client || this.me === '') return;
    const rows = [...this.summaries];
    // a conversation opened by uid that has no message yet is not in CONTACTS: show it anyway
    if (this.open && !rows.some((r) => r.id === this.open?.id)) {
      rows.unshift({ key: this.open.conv.key, id: this.open.id, t: Date.now(), unread: 0, read: 0 });
    }
    for (const c of rows) list.append(this.row(c));
    this.el.emptyNote.hidden = rows.length > 0 || !this.listed;
  }

  private row(c: ConversationSummary): HTMLElement {
    const li = document.createElement('li');
    li.className = 'conversation';
    li.dataset.testid = 'conversation';
    li.dataset.conv = c.id;
    li.tabIndex = 0;
    if (this.open?.id === c.id) li.classList.add('active');
    const name = conversationName(c.id);
    const avatar = document.createElement('span');
    avatar.className = 'avatar';
    avatar.textContent = (name.replace(/^# /, '')[0] ?? '?').toUpperCase();
    avatar.style.background = colourFor(c.id);
    const title = span('name', name);
    const time = span('time', c.last ? shortTime(c.last.t) : '');
    const preview = span('preview', c.last ? `${c.last.u === this.me ? 'You: ' : c.id.startsWith('g:') ? `${c.last.n}: ` : ''}${c.last.x}` : 'No messages yet');
    const badge = span('unread', String(c.unread));
    badge.dataset.testid = 'unread-badge';
    badge.hidden = c.unread <= 0;
    li.append(avatar, title, time, preview, badge);
    li.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') void this.openConversation(c.id);
    });
    return li;
  }

  async openConversation(id: string): Promise<void> {
    const client = this.client;
    if (!client || this.me === '') return;
    if (this.open?.id === id) return;
    const conv = client.conversations.get(id);
    const open: Open = { id, conv, shown: new Map(), oldest: null, more: true, loading: false };
    this.open = open;
    this.el.view.hidden = false;
    this.el.title.textContent = conversationName(id);
    this.renderList();
    this.renderMessages();
    await this.loadOlder();
    if (this.open === open) this.el.input.focus();
  }

  private closeConversation(): void {
    this.open = null;
    this.el.view.hidden = true;
    this.el.messages.replaceChildren();
    this.renderList();
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
        this.store(open, m);
        if (m.s > 0 && (open.oldest === null || m.s < open.oldest)) open.oldest = m.s;
      }
      open.more = page.more && open.oldest !== null && open.oldest > 1;
      this.renderMessages();
      // keep what the reader was looking at in place; the first page starts at the bottom
      log.scrollTop = first ? log.scrollHeight : log.scrollHeight - fromBottom;
      this.scheduleRead();
    } catch (e) {
      if (this.open === open) {
        open.more = false;
        this.log.error(`history of ${open.id}`, e);
        this.renderMessages();
      }
    } finally {
      open.loading = false;
      this.el.older.disabled = false;
    }
  }

  private store(open: Open, m: ChatMessage): void {
    // our own message's pending copy is replaced by the stored one (same conversation seq)
    for (const [key, shown] of open.shown) {
      if (shown.local && shown.s === m.s && m.s > 0 && shown.u === m.u) open.shown.delete(key);
    }
    open.shown.set(m.id, { key: m.id, s: m.s, u: m.u, n: m.n, t: m.t, x: m.x, state: 'stored', local: false });
  }

  private onMessage(m: ChatMessage): void {
    const open = this.open;
    if (!open || conversationOf(m, this.me) !== open.id) return;
    const atBottom = this.atBottom();
    this.store(open, m);
    this.renderMessages();
    if (atBottom) this.scrollToBottom();
    this.scheduleRead();
  }

  private sendMessage(): void {
    const open = this.open;
    const text = this.el.input.value.trim();
    if (!open || text === '') return;
    this.el.input.value = '';
    const key = `local-${++this.localIds}`;
    const mine: Shown = { key, s: 0, u: this.me, n: this.me, t: Date.now(), x: text, state: 'pending', local: true };
    open.shown.set(key, mine);
    this.renderMessages();
    this.scrollToBottom();
    open.conv.send(text).then((ack: Ack) => {
      // the live MESSAGE may have come first: then the pending copy goes
      const stored = [...open.shown.values()].some((s) => !s.local && s.s === ack.s && ack.s > 0 && s.u === this.me);
      if (stored) open.shown.delete(key);
      else {
        mine.s = ack.s;
        mine.t = ack.t;
        mine.state = 'stored';
      }
      if (this.open === open) this.renderMessages();
      this.scheduleRefresh();
    }, (e: unknown) => {
      mine.state = 'failed';
      this.log.add(`message to ${conversationName(open.id)} failed: ${describeError(e)}`, 'err');
      if (this.open === open) this.renderMessages();
    });
  }

  /** READ up to the newest message shown, while the conversation is open and the page visible. */
  private scheduleRead(): void {
    if (!this.open || document.visibilityState !== 'visible' || this.readTimer !== null) return;
    this.readTimer = setTimeout(() => {
      this.readTimer = null;
      const open = this.open;
      if (!open || document.visibilityState !== 'visible') return;
      const summary = this.summaries.find((c) => c.id === open.id);
      const newest = Math.max(0, ...[...open.shown.values()].map((m) => m.s));
      if (newest === 0 || (summary && summary.unread === 0 && summary.read >= newest)) return;
      open.conv.markRead().then((r) => {
        this.setTotal(r.total);
        const row = this.summaries.find((c) => c.id === open.id);
        if (row) {
          row.unread = r.unread;
          row.read = r.read;
          this.renderList();
        }
      }, (e: unknown) => this.log.error(`read ${open.id}`, e));
    }, READ_DELAY_MS);
  }

  private renderMessages(): void {
    const open = this.open;
    const ol = this.el.messages;
    ol.replaceChildren();
    if (!open) return;
    const sorted = [...open.shown.values()].sort(bySeq);
    let prev: Shown | undefined;
    for (const m of sorted) {
      const li = this.message(m);
      // a run of one sender's messages shows its name and time once
      if (prev && prev.u === m.u && m.t - prev.t < GROUP_WITHIN_MS && m.state === 'stored' && prev.state === 'stored') li.classList.add('cont');
      ol.append(li);
      prev = m;
    }
    if (sorted.length === 0 && !open.loading) {
      const li = document.createElement('li');
      li.className = 'chat-empty';
      li.textContent = open.more ? 'Loading...' : 'No messages yet. Say hello!';
      ol.append(li);
    }
    this.el.older.hidden = !open.more || open.oldest === null;
  }

  private message(m: Shown): HTMLElement {
    const li = document.createElement('li');
    li.dataset.testid = 'chat-message';
    if (m.s > 0) li.dataset.s = String(m.s);
    li.className = `msg ${m.u === this.me ? 'mine' : ''} ${m.u === '' ? 'system' : ''} ${m.state === 'stored' ? '' : m.state}`;
    const who = m.u === this.me ? 'You' : m.u === '' ? 'System' : m.n || m.u;
    const meta = span('meta', `${who} · ${m.state === 'pending' ? 'sending...' : m.state === 'failed' ? 'not sent' : shortTime(m.t)}`);
    const bubble = span('bubble', m.x);
    li.append(meta, bubble);
    return li;
  }

  private atBottom(): boolean {
    const log = this.el.log;
    return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  }

  private scrollToBottom(): void {
    this.el.log.scrollTop = this.el.log.scrollHeight;
  }
}

function bySeq(a: Shown, b: Shown): number {
  // unsequenced (s 0) and pending messages go after the numbered ones, by time
  if (a.s > 0 && b.s > 0) return a.s - b.s;
  if (a.s > 0) return -1;
  if (b.s > 0) return 1;
  return a.t - b.t;
}

export function conversationName(id: string): string {
  if (id.startsWith('g:')) return `# ${id.slice(2)}`;
  const uid = id.slice(3);
  return uid === '' ? 'System notices' : uid;
}

function span(className: string, text: string): HTMLElement {
  const s = document.createElement('span');
  s.className = className;
  s.textContent = text;
  return s;
}

function shortTime(t: number): string {
  const d = new Date(t);
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return d.toTimeString().slice(0, 5);
  return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
}

function colourFor(id: string): string {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return `hsl(${h % 360}, 55%, 42%)`;
}
