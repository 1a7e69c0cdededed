// bindOverlay: an SDK client's room events to an overlay. Typed structurally, so the overlay
// imports nothing from the SDK and works with any source that has `on()`.

import type { DanmakuOverlay } from './overlay.js';
import type { OverlayItem } from './types.js';

/** What bindOverlay needs of a client (the SDK's DanmakuClient has it). */
export interface OverlaySource {
  on(e: string, fn: (...a: any[]) => void): () => void;
  welcome?: { uid: string } | null;
}

interface Meta {
  replay?: boolean;
  room?: string;
}

/**
 * Wires a client's danmaku, gift, notice and like events to `overlay`; returns unsubscribe.
 * Live items are shown as they come. Replayed items (`meta.replay`: a JOIN's catch-up) are
 * collected and handed to `overlay.addReplay()` together with the `joined` event of the same
 * JOINED: a plain join shows only gifts and notices of the last few seconds, a resume after a
 * reconnect (`resumed`) shows what was missed (docs/overlay.md, "Replayed items"). The SDK emits
 * `joined` just before the replay, in the same task; the items are handed over at the end of
 * that task (a microtask), so either order works. The viewer's own comments (item.u equal to
 * the WELCOME uid) are marked self.
 */
export function bindOverlay(client: OverlaySource, overlay: DanmakuOverlay): () => void {
  const self = (item: OverlayItem) => !!item.u && item.u === client.welcome?.uid;
  let replay: OverlayItem[] = [];
  let resumed: boolean | null = null; // of the JOINED being replayed; null: none seen yet
  let flushing = false;
  let live = true;
  const flush = () => {
    flushing = false;
    const items = replay;
    const wasResumed = resumed === true;
    replay = [];
    resumed = null;
    if (live && items.length > 0) overlay.addReplay(items, { resumed: wasResumed, self });
  };
  const later = () => {
    if (flushing) return;
    flushing = true;
    queueMicrotask(flush);
  };
  const take = (item: OverlayItem, meta?: Meta) => {
    if (meta?.replay) {
      replay.push(item);
      later();
    } else if (item.k === 2) {
      overlay.addLikes(item.a ?? 1);
    } else {
      overlay.addItem(item, { self: self(item) });
    }
  };
  const offs = [
    client.on('joined', (info?: { resumed?: boolean; reset?: boolean }) => {
      // a reset (the room's numbering restarted under a joined viewer) replays what came since: missed, like a resume
      resumed = info?.resumed === true || info?.reset === true;
      later();
    }),
    client.on('danmaku', take),
    client.on('gift', take),
    client.on('notice', take),
    client.on('like', take),
  ];
  return () => {
    live = false;
    for (const off of offs.splice(0)) off();
  };
}
