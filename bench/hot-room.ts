// hot-room: N viewers in one room (guests, or signed in with --viewer-tokens), S senders at a
// total upstream rate (danmaku, likes, gifts).

import type { Scenario } from './lib/scenario.js';
import { connsFor, tokens } from './lib/scenario.js';

export const hotRoom: Scenario = {
  name: 'hot-room',
  summary: 'N viewers in one room (guests; signed in with --viewer-tokens), S senders at a total rate of --rate danmaku, --likes likes and --gifts gifts per second',
  plan(o, run) {
    const senders = Math.max(1, o.senders);
    return {
      conns: connsFor(run, Array.from({ length: o.connections }, () => 'hot'), Array.from({ length: senders }, () => 'hot'), tokens(o.tokenSecret), o.viewerTokens),
      send: { danmaku: o.rate / senders, likes: o.likes / senders, gifts: o.gifts / senders },
      checkLoss: true,
    };
  },
};
