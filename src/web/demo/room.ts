// The demo's room controls: the room picker (input, quick rooms, current room), the viewer
// count, the danmaku send bar (colour, position, Enter to send; cleared on ACK, failures in
// the log), likes (clicks within a moment go as one SEND) and gifts.

import { chooseReplay } from '../../overlay/index.js';
import type { DanmakuClient, ItemMeta, JoinInfo, RoomItem } from '../../sdk/index.js';
import type { EventLog } from './log.js';

export interface RoomControls {
  /** the room the viewer asked for (shown as current once joined) */
  current(): string;
  /** subscriptions of a new client to the room's events; the caller removes them */
  follow(client: DanmakuClient): Array<() => void>;
  /** joins the wanted room with the current client (after a new client was made) */
  rejoin(): void;
}

interface Deps {
  log: EventLog;
  client: () => DanmakuClient;
  /** the wanted room changed */
  onRoom: (room: string) => void;
}

const ROOM = /^[A-Za-z0-9_-]{1,64}$/;
const QUICK_ROOMS = ['lobby', 'music', 'gaming', 'sports', 'talk'];
const GIFTS: ReadonlyArray<{ id: string; label: string }> = [
  { id: 'rose', label: 'Rose' },
  { id: 'heart', label: 'Heart' },
  { id: 'cake', label: 'Cake' },
  { id: 'star', label: 'Star' },
  { id: 'rocket', label: 'Rocket' },
  { id: 'castle', label: 'Castle' },
];
const LIKE_COALESCE_MS = 300;
const MAX_LIKES_PER_SEND = 1000;

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from index.html`);
  return el as T;
}

export function wireRoomControls(deps: Deps, initialRoom: string): RoomControls {
  const { log } = deps;
  const currentEl = byId('room-current');
  const onlineEl = byId('online');
  const roomInput = byId<HTMLInputElement>('room-input');
  const chips = byId('quick-rooms');
  let wanted = ROOM.test(initialRoom) ? initialRoom : 'lobby';
  // the room's name shows at once; data-joined (and the dimmed style) until its JOINED
  const setJoined = (joined: boolean): void => {
    currentEl.classList.toggle('pending', !joined);
    currentEl.dataset.joined = String(joined);
  };

  for (const room of QUICK_ROOMS) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'chip';
    b.dataset.room = room;
    b.textContent = room;
    b.addEventListener('click', () => join(room));
    chips.append(b);
  }
  const markChips = (): void => {
    for (const b of chips.querySelectorAll<HTMLElement>('.chip')) b.classList.toggle('active', b.dataset.room === wanted);
  };

  function join(room: string): void {
    if (!ROOM.test(room)) {
      log.add(`not a room id: "${room}" (letters, digits, _ and - only)`, 'err');
      return;
    }
    wanted = room;
    currentEl.textContent = room;
    setJoined(false);
    markChips();
    deps.onRoom(room);
    deps.client().join(room).catch((e: unknown) => {
      // an overtaken join (the viewer picked another room meanwhile) is nothing to report
      if (wanted === room) log.error(`join ${room}`, e);
    });
  }

  byId<HTMLFormElement>('room-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const room = roomInput.value.trim();
    if (room === '') return;
    roomInput.value = '';
    join(room);
  });

  // ---- danmaku ----
  const textInput = byId<HTMLInputElement>('text-input');
  const colorInput = byId<HTMLInputElement>('color-input');
  const modeSelect = byId<HTMLSelectElement>('mode-select');
  byId<HTMLFormElement>('send-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = textInput.value.trim();
    if (text === '') return;
    const mode = modeSelect.value === 'top' || modeSelect.value === 'bottom' ? modeSelect.value : 'scroll';
    deps.client().send(text, { color: colorInput.value, mode }).then(() => {
      // cleared on ACK, unless the viewer has typed something else meanwhile
      if (textInput.value.trim() === text) textInput.value = '';
    }, (e: unknown) => log.error(`danmaku "${clip(text)}" not sent`, e));
  });

  // ---- likes: a burst of clicks is one SEND with a count ----
  const likeButton = byId<HTMLButtonElement>('like');
  let likes = 0;
  let likeTimer: ReturnType<typeof setTimeout> | null = null;
  const flushLikes = (): void => {
    likeTimer = null;
    const n = Math.min(likes, MAX_LIKES_PER_SEND);
    likes -= n;
    if (n > 0) deps.client().like(n).catch((e: unknown) => log.error(`like x${n}`, e));
    if (likes > 0) likeTimer = setTimeout(flushLikes, LIKE_COALESCE_MS);
  };
  likeButton.addEventListener('click', () => {
    likes++;
    likeButton.classList.remove('pop');
    void likeButton.offsetWidth; // restart the animation
    likeButton.classList.add('pop');
    if (likeTimer === null) likeTimer = setTimeout(flushLikes, LIKE_COALESCE_MS);
  });

  // ---- gifts ----
  const giftSelect = byId<HTMLSelectElement>('gift-select');
  for (const g of GIFTS) giftSelect.add(new Option(g.label, g.id));
  byId<HTMLButtonElement>('gift').addEventListener('click', () => {
    const gift = giftSelect.value;
    deps.client().gift(gift, 1).catch((e: unknown) => log.error(`gift ${gift}`, e));
  });

  markChips();
  currentEl.textContent = wanted;
  setJoined(false);

  return {
    current: () => wanted,
    rejoin: () => join(wanted),
    follow(client: DanmakuClient): Array<() => void> {
      // Replayed gifts and notices (a JOIN's catch-up) follow the overlay's replay policy: on a
      // plain join only those of the last seconds are logged, on a resume every missed one, marked so.
      let replay: RoomItem[] = [];
      let resumed = false;
      let flushing = false;
      const flush = (): void => {
        flushing = false;
        const { show } = chooseReplay(replay, resumed, Date.now());
        const how = resumed ? 'missed' : 'just before you joined';
        for (const item of show) log.add(`${itemText(item)} (${how})`);
        replay = [];
        resumed = false;
      };
      const later = (): void => {
        if (!flushing) queueMicrotask(flush);
        flushing = true;
      };
      const take = (item: RoomItem, meta: ItemMeta): void => {
        if (!meta.replay) log.add(itemText(item));
        else {
          replay.push(item);
          later();
        }
      };
      return [
        client.on('joined', (info: JoinInfo) => {
          resumed = info.resumed || info.reset;
          later();
          if (info.room !== wanted) return;
          currentEl.textContent = info.room;
          setJoined(true);
          onlineEl.textContent = String(info.online);
          log.add(joinedText(info), 'ok');
        }),
        client.on('left', () => setJoined(false)),
        client.on('online', (n: number, room: string) => {
          if (room === wanted) onlineEl.textContent = String(n);
        }),
        client.on('gift', take),
        client.on('notice', take),
      ];
    },
  };
}

function joinedText(info: JoinInfo): string {
  let s = `joined ${info.room}: ${info.online} watching`;
  if (info.resumed) s += info.recovered === false ? ', resumed (some items missed)' : ', resumed';
  if (info.reset) s += ', room restarted';
  if (info.replayed > 0) s += `, ${info.replayed} replayed`;
  return s;
}

/** A gift or notice as a log line. */
function itemText(item: RoomItem): string {
  return item.k === 3 ? `${item.n ?? item.u} sent ${item.a ?? 1} x ${giftLabel(item.g)}` : `notice from ${item.n ?? item.u}: ${item.x ?? ''}`;
}

function giftLabel(id: string | undefined): string {
  return GIFTS.find((g) => g.id === id)?.label.toLowerCase() ?? id ?? 'gift';
}

function clip(text: string): string {
  return text.length > 24 ? `${text.slice(0, 24)}...` : text;
}
