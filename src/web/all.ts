// The one-file browser bundle (/sdk/danmaku.js): the client SDK and the overlay together.
export * from '../sdk/index.js';
export * from '../overlay/index.js';
