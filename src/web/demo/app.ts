// The demo viewer page's entry point (bundled to app.js): builds the generated stream, the
// overlay over it and one SDK client per signed-in user, and wires the page's controls to
// them. Query: ?user=<uid>&room=<room>&gw=<ws url> (defaults: guest, lobby, this host).

import { createClient, type ConnectionState, type DanmakuClient, type TokenSource } from '../../sdk/index.js';
import { bindOverlay, DanmakuOverlay } from '../../overlay/index.js';
import { ChatPanel } from './chat.js';
import { EventLog } from './log.js';
import { wireRoomControls, type RoomControls } from './room.js';
import { startStream } from './video.js';

declare global {
  interface Window { demo: { client: DanmakuClient; overlay: DanmakuOverlay } }
}

const UID = /^[A-Za-z0-9_.@:-]{1,64}$/;

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from index.html`);
  return el as T;
}

const params = new URLSearchParams(location.search);
const gateway = params.get('gw') || `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`;
let user = params.get('user')?.trim() ?? '';
if (user !== '' && !UID.test(user)) user = '';

const log = new EventLog($('log'));
const video = $<HTMLVideoElement>('video');
const stream = startStream(video);
const overlay = new DanmakuOverlay($('overlay-host'), { media: video });

const chat = new ChatPanel({
  guestNote: $('chat-guest'),
  emptyNote: $('chat-empty'),
  list: $('conversations'),
  totalBadge: $('unread-total'),
  view: $('conversation-view'),
  title: $('conv-title'),
  close: $<HTMLButtonElement>('conv-close'),
  log: $('chat-log'),
  older: $<HTMLButtonElement>('chat-older'),
  messages: $('messages'),
  form: $<HTMLFormElement>('chat-form'),
  input: $<HTMLInputElement>('chat-input'),
  dmForm: $<HTMLFormElement>('new-dm-form'),
  dmInput: $<HTMLInputElement>('new-dm-input'),
}, log);

const rooms: RoomControls = wireRoomControls({
  log,
  client: () => window.demo.client,
  onRoom: (room) => {
    overlay.clear(); // the previous room's comments and likes are not this one's
    overlay.resetLikes();
    stream.setTitle(room);
    updateUrl();
  },
}, params.get('room')?.trim() || 'lobby');
stream.setTitle(rooms.current());

/** The token function: called by the SDK before every connect, so a reconnect gets a fresh token. */
function tokenFor(uid: string): TokenSource | undefined {
  if (uid === '') return undefined;
  return async () => {
    const res = await fetch(`/demo/token?uid=${encodeURIComponent(uid)}&name=${encodeURIComponent(uid)}`, { cache: 'no-store' });
    if (!res.ok) throw new Error(`/demo/token answered HTTP ${res.status}`);
    const body = (await res.json()) as { token?: unknown };
    if (typeof body.token !== 'string') throw new Error('/demo/token: no token in the reply');
    return body.token;
  };
}

let session: { client: DanmakuClient; off: Array<() => void> } | null = null;

/** A client for `uid` ('' = guest): the previous one is closed, the room joined again. */
function startSession(uid: string): DanmakuClient {
  if (session) {
    for (const off of session.off) off();
    session.client.close();
  }
  overlay.clear();
  const client = createClient({ url: gateway, token: tokenFor(uid) });
  const off = [
    bindOverlay(client, overlay),
    client.on('state', (state, detail) => {
      showState(state);
      const why = [detail.code !== undefined ? `code ${detail.code}` : '', detail.reason ?? '', detail.delayMs !== undefined ? `retry in ${Math.round(detail.delayMs)} ms` : '']
        .filter((s) => s !== '').join(', ');
      log.add(`connection ${state}${why ? ` (${why})` : ''}`, state === 'open' ? 'ok' : state === 'failed' ? 'err' : 'info');
    }),
    client.on('welcome', (w) => {
      showWho(w.guest ? '' : w.name || w.uid);
      log.add(`welcome ${w.uid}${w.guest ? ' (guest: watch only)' : ''} via ${w.gateway}`);
    }),
    client.on('error', (e) => log.error('error', e)),
    ...rooms.follow(client),
  ];
  session = { client, off };
  if (window.demo) window.demo.client = client;
  else window.demo = { client, overlay };
  showState(client.state);
  chat.attach(client, uid);
  rooms.rejoin();
  return client;
}

function showState(state: ConnectionState): void {
  const el = $('state');
  el.textContent = state;
  el.dataset.state = state;
  (el.parentElement as HTMLElement).dataset.state = state;
}

function showWho(name: string): void {
  const who = $('who');
  who.textContent = name === '' ? 'guest' : name;
  who.classList.toggle('signed-in', name !== '');
  $('send-form').classList.toggle('guest', name === '');
  $<HTMLInputElement>('text-input').placeholder = name === '' ? 'Sign in to send danmaku...' : 'Send a danmaku...';
}

function updateUrl(): void {
  const q = new URLSearchParams(location.search);
  if (user) q.set('user', user);
  else q.delete('user');
  const room = rooms.current();
  if (room) q.set('room', room);
  history.replaceState(null, '', `${location.pathname}?${q.toString()}${location.hash}`);
}

// ---- sign in ----

const userInput = $<HTMLInputElement>('user');
const loginButton = $<HTMLButtonElement>('login');
userInput.value = user;
/** What the button does with what is typed: sign in (as a guest: nothing typed), switch to another user id, or sign out (signed in, and the field empty or the same id). */
const loginAction = (): 'in' | 'switch' | 'out' => {
  const typed = userInput.value.trim();
  if (user === '') return 'in';
  return typed === '' || typed === user ? 'out' : 'switch';
};
const loginLabel = (): void => {
  const action = loginAction();
  loginButton.textContent = action === 'in' ? 'Sign in' : action === 'switch' ? 'Switch user' : 'Sign out';
  loginButton.dataset.action = action;
};
userInput.addEventListener('input', loginLabel);
$<HTMLFormElement>('login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const uid = loginAction() === 'out' ? '' : userInput.value.trim();
  if (uid === '') userInput.value = '';
  if (uid !== '' && !UID.test(uid)) {
    log.add(`not a valid user id: "${uid}" (letters, digits and _.@:- only)`, 'err');
    return;
  }
  user = uid;
  showWho(uid);
  loginLabel();
  updateUrl();
  log.add(uid === '' ? 'watching as a guest' : `signing in as ${uid}`);
  startSession(uid);
});

// ---- player: play/pause (the overlay follows the video's own events), hide, density ----

const playButton = $<HTMLButtonElement>('play');
const player = $('player');
const togglePlay = (): void => {
  if (video.paused) void video.play().catch((e: unknown) => log.error('play', e));
  else video.pause();
};
playButton.addEventListener('click', togglePlay);
video.addEventListener('click', togglePlay);
const showPlaying = (): void => {
  const paused = video.paused;
  playButton.classList.toggle('paused', paused);
  player.classList.toggle('paused', paused);
  playButton.setAttribute('aria-label', paused ? 'play' : 'pause');
  playButton.title = paused ? 'play (video and danmaku)' : 'pause (video and danmaku)';
  $('play-label').textContent = paused ? 'Paused' : 'Live';
};
video.addEventListener('play', showPlaying);
video.addEventListener('pause', showPlaying);
showPlaying();

const hideToggle = $<HTMLInputElement>('hide-toggle');
hideToggle.addEventListener('change', () => overlay.setOptions({ hidden: hideToggle.checked }));
const density = $<HTMLInputElement>('density');
const densityOut = $('density-out');
const applyDensity = (): void => {
  const d = Math.min(1, Math.max(0, Number(density.value)));
  overlay.setOptions({ density: d });
  densityOut.textContent = `${Math.round(d * 100)}%`;
};
density.addEventListener('input', applyDensity);
density.addEventListener('change', applyDensity);

showWho(user);
loginLabel();
startSession(user);
