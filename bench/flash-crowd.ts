// flash-crowd: the stream starts. C connections, each with its own token, connect and join one
// room within --ramp seconds, then steady traffic flows as in hot-room.

import type { Scenario } from './lib/scenario.js';
import { connsFor, tokens } from './lib/scenario.js';

export const flashCrowd: Scenario = {
  name: 'flash-crowd',
  summary: 'C connections authenticate (a token each) and join one room within --ramp seconds, then steady traffic',
  defaults: { rampS: 10, connections: 2000 },
  plan(o, run) {
    const senders = Math.max(1, o.senders);
    return {
      conns: connsFor(run, Array.from({ length: o.connections }, () => 'stage'), Array.from({ length: senders }, () => 'stage'), tokens(o.tokenSecret), true),
      send: { danmaku: o.rate / senders, likes: o.likes / senders, gifts: o.gifts / senders },
      checkLoss: true,
    };
  },
};
