// The browser danmaku overlay's public surface (docs/overlay.md): DanmakuOverlay, bindOverlay
// the replay policy and their types. Importing it touches no DOM; constructing an overlay needs a browser.

export { DanmakuOverlay } from './overlay.js';
export { bindOverlay, type OverlaySource } from './bind.js';
export { chooseReplay, REPLAY_DANMAKU_MAX, REPLAY_RECENT_MS, type ReplayChoice } from './items.js';
export type { Comment, CommentKind, OverlayItem, OverlayMode, OverlayOptions, OverlayStats } from './types.js';
