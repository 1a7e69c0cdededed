// many-rooms: N viewers over K rooms, uniform or skewed (Zipf: a few hot rooms and a long
// tail), one sender per room at --rate/--likes/--gifts per second each.

import type { Scenario } from './lib/scenario.js';
import { connsFor, roomNames, roomOf, tokens } from './lib/scenario.js';

export const manyRooms: Scenario = {
  name: 'many-rooms',
  summary: 'N viewers over --rooms K rooms (--skew uniform|zipf), one sender per room; rates are per room',
  defaults: { rate: 5, likes: 2, gifts: 0.2 },
  plan(o, run) {
    const rooms = roomNames(o.rooms);
    return {
      conns: connsFor(run, Array.from({ length: o.connections }, (_, i) => roomOf(i, o.connections, rooms, o.skew)), rooms, tokens(o.tokenSecret), o.viewerTokens),
      send: { danmaku: o.rate, likes: o.likes, gifts: o.gifts },
      checkLoss: true,
    };
  },
};
