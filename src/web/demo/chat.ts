// The demo's chat panel: the conversation list (CONTACTS, with unread badges refreshed on
// 'unread' and 'message' events), starting a conversation by uid, and the open conversation
// (chat-view.ts). Everything goes through the SDK's Conversations; guests have no chat.

import type { ChatMessage, ConversationSummary, DanmakuClient } from '../../sdk/index.js';
import { ConversationView, shortTime, span, type ViewElements } from './chat-view.js';
import type { EventLog } from './log.js';

export interface ChatElements extends ViewElements {
  guestNote: HTMLElement;
  /** shown to a signed-in user with no conversation */
  emptyNote: HTMLElement;
  list: HTMLElement;
  totalBadge: HTMLElement;
  close: HTMLButtonElement;
  dmForm: HTMLFormElement;
  dmInput: HTMLInputElement;
}

const UID = /^[A-Za-z0-9_.@:-]{1,64}$/;
const REFRESH_DELAY_MS = 250;

/** The conversation id ('g:<group>' or 'to:<uid>') a message belongs to, seen from `me`. */
export function conversationOf(m: ChatMessage, me: string): string {
  if (m.g !== undefined) return `g:${m.g}`;
  // a message addressed to me is the conversation with its sender ('' for server notices)
  return m.to === me ? `to:${m.u}` : `to:${m.to ?? ''}`;
}

export function conversationName(id: string): string {
  if (id.startsWith('g:')) return `# ${id.slice(2)}`;
  const uid = id.slice(3);
  return uid === '' ? 'System notices' : uid;
}

export class ChatPanel {
  private client: DanmakuClient | null = null;
  private me = '';
  private unsubs: Array<() => void> = [];
  private summaries: ConversationSummary[] = [];
  /** CONTACTS answered at least once for this client */
  private listed = false;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly view: ConversationView;

  constructor(private readonly el: ChatElements, private readonly log: EventLog) {
    this.view = new ConversationView(el, log, {
      readState: (id) => this.summaries.find((c) => c.id === id),
      read: (id, r) => {
        this.setTotal(r.total);
        const row = this.summaries.find((c) => c.id === id);
        if (row) {
          row.unread = r.unread;
          row.read = r.read;
          this.renderList();
        }
      },
      sent: () => this.scheduleRefresh(),
    });
    el.list.addEventListener('click', (ev) => {
      const item = (ev.target as Element).closest<HTMLElement>('[data-conv]');
      if (item?.dataset.conv !== undefined) void this.openConversation(item.dataset.conv);
    });
    el.list.addEventListener('keydown', (ev) => {
      const item = (ev.target as Element).closest<HTMLElement>('[data-conv]');
      if (ev.key === 'Enter' && item?.dataset.conv !== undefined) void this.openConversation(item.dataset.conv);
    });
    el.close.addEventListener('click', () => {
      this.view.close();
      this.renderList();
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
  }

  /** Follows a (new) client: `uid` empty means a guest, who has no chat. */
  attach(client: DanmakuClient, uid: string): void {
    this.detach();
    this.client = client;
    this.me = uid;
    const guest = uid === '';
    this.el.guestNote.hidden = !guest;
    for (const e of this.el.dmForm.querySelectorAll<HTMLInputElement | HTMLButtonElement>('input, button')) e.disabled = guest;
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
        if (conversationOf(m, this.me) === this.view.id) this.view.add(m);
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
    this.view.close();
    this.setTotal(0);
    this.renderList();
    if (this.refreshTimer !== null) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
  }

  async openConversation(id: string): Promise<void> {
    const client = this.client;
    if (!client || this.me === '' || this.view.id === id) return;
    const shown = this.view.show(id, client.conversations.get(id), this.me, conversationName(id));
    this.renderList();
    await shown;
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
    const open = this.view.id;
    if (open !== null && !rows.some((r) => r.id === open)) {
      rows.unshift({ key: keyOf(open), id: open, t: Date.now(), unread: 0, read: 0 });
    }
    for (const c of rows) list.append(this.row(c, c.id === open));
    this.el.emptyNote.hidden = rows.length > 0 || !this.listed;
  }

  private row(c: ConversationSummary, active: boolean): HTMLElement {
    const li = document.createElement('li');
    li.className = active ? 'conversation active' : 'conversation';
    li.dataset.testid = 'conversation';
    li.dataset.conv = c.id;
    li.tabIndex = 0;
    const name = conversationName(c.id);
    const avatar = span('avatar', (name.replace(/^# /, '')[0] ?? '?').toUpperCase());
    avatar.style.background = colourFor(c.id);
    const who = !c.last ? '' : c.last.u === this.me ? 'You: ' : c.id.startsWith('g:') ? `${c.last.n}: ` : '';
    const preview = span('preview', c.last ? `${who}${c.last.x}` : 'No messages yet');
    const badge = span('unread', String(c.unread));
    badge.dataset.testid = 'unread-badge';
    badge.hidden = c.unread <= 0;
    li.append(avatar, span('name', name), span('time', c.last ? shortTime(c.last.t) : ''), preview, badge);
    return li;
  }
}

function keyOf(id: string): { g: string } | { to: string } {
  return id.startsWith('g:') ? { g: id.slice(2) } : { to: id.slice(3) };
}

function colourFor(id: string): string {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return `hsl(${h % 360}, 55%, 42%)`;
}
