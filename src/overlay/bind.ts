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
}

/**
 * Wires a client's danmaku, gift, notice and like events to `overlay`; returns unsubscribe.
 * Replayed items (a JOIN's catch-up): gifts and notices are shown, old danmaku are not (they
 * would arrive as one burst of stale chat). The viewer's own comments (item.u equal to the
 * WELCOME uid) are marked self.
 */
export function bindOverlay(client: OverlaySource, overlay: DanmakuOverlay): () => void {
  const self = (item: OverlayItem) => !!item.u && item.u === client.welcome?.uid;
  const show = (item: OverlayItem) => overlay.addItem(item, { self: self(item) });
  const offs = [
    client.on('danmaku', (item: OverlayItem, meta?: Meta) => {
      if (!meta?.replay) show(item);
    }),
    client.on('gift', (item: OverlayItem) => show(item)),
    client.on('notice', (item: OverlayItem) => show(item)),
    client.on('like', (item: OverlayItem, meta?: Meta) => {
      if (!meta?.replay) overlay.addLikes(item.a ?? 1);
    }),
  ];
  return () => {
    for (const off of offs.splice(0)) off();
  };
}
