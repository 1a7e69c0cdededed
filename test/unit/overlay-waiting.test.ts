// Gifts and notices waiting for a lane (src/overlay/waiting.ts), in Node: never dropped, merged
// by sender and gift (counts summed), folded into one "+N gifts" pill past the limit, in order.

import t from 'tap';
import { WaitingQueue } from '../../src/overlay/waiting.js';
import type { Comment } from '../../src/overlay/types.js';

const gift = (user: string, g: string, count = 1): Comment => ({ text: `${count} x ${g}`, kind: 'gift', user, gift: g, count });

function drain(q: WaitingQueue): string[] {
  const out: string[] = [];
  for (let next = q.peek(); next; next = q.peek()) {
    out.push(`${next.kind}:${next.comment.user ? `${next.comment.user} sent ` : ''}${next.comment.text}`);
    q.shift();
  }
  return out;
}

t.test('waiting - gifts of the same sender and gift merge, counts summed; order is first arrival', async (t) => {
  const q = new WaitingQueue(50);
  q.push(gift('alice', 'rose', 2), 'gift');
  q.push(gift('bob', 'rose'), 'gift');
  q.push(gift('alice', 'rose', 10), 'gift');
  q.push({ text: 'Be nice', kind: 'notice' }, 'notice');
  q.push(gift('alice', 'cake'), 'gift');
  q.push({ text: 'Be nice', kind: 'notice' }, 'notice');
  q.push({ text: 'a hug', kind: 'gift', user: 'carol' }, 'gift');
  q.push({ text: 'a hug', kind: 'gift', user: 'carol' }, 'gift');
  t.equal(q.size, 5);
  t.same(drain(q), ['gift:alice sent 12 x rose', 'gift:bob sent 1 x rose', 'notice:Be nice (x2)', 'gift:alice sent 1 x cake', 'gift:carol sent a hug (x2)']);
  t.equal(q.size, 0);
});

t.test('waiting - past the limit everything folds into one summary pill after the others; no gift is lost', async (t) => {
  const q = new WaitingQueue(3);
  let gifts = 0;
  for (let i = 0; i < 40; i++) {
    q.push(gift(`u${i}`, 'rose'), 'gift');
    gifts++;
  }
  q.push(gift('u0', 'rose', 5), 'gift'); // merges into the first entry even now
  q.push({ text: 'late notice', kind: 'notice' }, 'notice');
  t.equal(q.size, 4, 'three entries and the summary');
  const out = drain(q);
  t.same(out, ['gift:u0 sent 6 x rose', 'gift:u1 sent 1 x rose', 'gift:u2 sent 1 x rose', 'summary:+37 gifts, 1 notice']);
  t.equal(gifts - 3, 37, 'every gift is in a pill or in the summary');
  q.push(gift('x', 'rose'), 'gift');
  t.same(drain(q), ['gift:x sent 1 x rose'], 'after the summary went, new ones queue normally');
  q.push(gift('y', 'cake'), 'gift');
  q.clear();
  t.equal(q.size, 0);
  t.equal(q.peek(), null);
});

t.test('waiting - self is kept when merged', async (t) => {
  const q = new WaitingQueue(5);
  q.push(gift('me', 'rose'), 'gift');
  q.push({ ...gift('me', 'rose'), self: true }, 'gift');
  t.equal(q.peek()?.comment.self, true);
  t.equal(q.peek()?.comment.count, 2);
});
