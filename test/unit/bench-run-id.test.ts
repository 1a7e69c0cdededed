import t from 'tap';
import { messageId, runPrefix } from '../../bench/lib/run-id.js';
import { connsFor, tokens } from '../../bench/lib/scenario.js';
import { TokenVerifier } from '../../src/auth/token.js';
import { validateSend } from '../../src/logic/validate.js';

const SECRET = 'bench-test-secret-0123456789';

t.test('bench run id - prefixes differ between runs, even within the same millisecond', async (t) => {
  const at = Date.now();
  const seen = new Set(Array.from({ length: 2000 }, () => runPrefix(at)));
  t.equal(seen.size, 2000);
  t.not(runPrefix(at), runPrefix(at + 1));
  for (const p of [...seen].slice(0, 20)) t.match(p, /^[0-9a-z]{12,20}$/);
});

t.test('bench run id - two runs of one plan share no user id and no client message id; the server accepts both', async (t) => {
  const [a, b] = [runPrefix(), runPrefix()];
  const verifier = new TokenVerifier(SECRET);
  const uids = (run: string) => connsFor(run, ['r0', 'r1', 'r0'], ['r0', 'r1'], tokens(SECRET), true).map((c) => {
    t.equal(verifier.verify(c.token!).uid, c.uid, 'the token carries the uid');
    return c.uid!;
  });
  const [ua, ub] = [uids(a), uids(b)];
  t.equal(new Set(ua).size, 5, 'one uid per connection');
  t.same(ua.filter((u) => ub.includes(u)), [], 'no uid in both runs');
  t.not(messageId(a, 0, 7), messageId(b, 0, 7));
  t.not(messageId(a, 0, 7), messageId(a, 1, 7), 'threads of one run differ');
  const longest = messageId(a, 15, 1e9);
  t.equal(validateSend({ k: 1, x: 'hi', id: longest }, { maxTextLength: 100 }).cmid, longest, 'a valid client message id');
});

t.test('bench run id - guests stay guests: no uid, no token', async (t) => {
  const conns = connsFor(runPrefix(), ['r0'], ['r0'], tokens(SECRET));
  t.same(conns[0], { room: 'r0' });
  t.equal(conns[1]!.sender, true);
});
