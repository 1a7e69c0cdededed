// group-chat: members spread over --groups chat groups (and over the gateways, in a cluster);
// one member of each group sends MSG at --rate per second; every member connection should
// receive every message of its group once. The groups are created through the admin API.
// The baseline stands in with one pub/sub topic per group.

import { connsFor, roomNames, roomOf, tokens, type Scenario } from './lib/scenario.js';

export const groupChat: Scenario = {
  name: 'group-chat',
  summary: 'members over --groups G chat groups, one sender per group at --rate messages/s; fan-out to UIDs upstream',
  defaults: { rate: 5, likes: 0, gifts: 0 },
  plan(o, run) {
    const groups = roomNames(o.groups).map((g) => `g${g}`);
    return {
      conns: connsFor(run, Array.from({ length: o.connections }, (_, i) => roomOf(i, o.connections, groups, 'uniform')), groups, tokens(o.tokenSecret), true),
      send: { danmaku: o.rate, likes: 0, gifts: 0, group: true },
      checkLoss: true,
    };
  },
  async prepare(target, o, plan) {
    if (target.name === 'baseline') return; // members join the group's topic instead
    const admin = target.admin ?? (o.adminUrl && o.adminSecret ? { url: o.adminUrl, secret: o.adminSecret } : null);
    if (!admin) throw new Error('group-chat needs the admin API: --admin-url and --admin-secret with --url');
    const members = new Map<string, string[]>();
    for (const c of plan.conns) {
      if (!c.uid) continue;
      const list = members.get(c.room) ?? [];
      list.push(c.uid);
      members.set(c.room, list);
    }
    for (const [g, uids] of members) {
      const res = await fetch(`${admin.url}/api/groups/${g}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${admin.secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ members: uids }),
      });
      if (res.status >= 300) throw new Error(`creating group ${g}: HTTP ${res.status} ${await res.text()}`);
    }
  },
};
