// switch-storm: viewers switch rooms at --switch-rate per second while every room has
// traffic. Isolation is checked: an item of a room a viewer has left, after the JOINED of its
// switch, counts as an isolation error.

import type { Scenario } from './lib/scenario.js';
import { connsFor, roomNames, roomOf, tokens } from './lib/scenario.js';

export const switchStorm: Scenario = {
  name: 'switch-storm',
  summary: 'viewers over --rooms K rooms switch at --switch-rate per second while every room has traffic; checks isolation',
  defaults: { rooms: 20, rate: 10, likes: 2, gifts: 0.5 },
  plan(o, run) {
    const rooms = roomNames(o.rooms);
    return {
      conns: connsFor(run, Array.from({ length: o.connections }, (_, i) => roomOf(i, o.connections, rooms, 'uniform')), rooms, tokens(o.tokenSecret), o.viewerTokens),
      send: { danmaku: o.rate, likes: o.likes, gifts: o.gifts },
      switches: { perSecond: o.switchRate, rooms },
      checkLoss: false,
    };
  },
};
