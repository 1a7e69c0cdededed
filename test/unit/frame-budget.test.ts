import t from 'tap';
import { guestIdentity } from '../../src/auth/token.js';
import { admitFrame, newConnState } from '../../src/gateway/connection.js';

t.test('frame budget - admits a burst, then rejects, then closes a flood', async (t) => {
  const budget = { rate: 10, burst: 5, closeAfter: 3 };
  const st = newConnState(1, guestIdentity(1), null, 0, budget.burst);
  const got = Array.from({ length: 9 }, () => admitFrame(st, budget, 0));
  t.same(got, ['ok', 'ok', 'ok', 'ok', 'ok', 'reject', 'reject', 'reject', 'close']);
});

t.test('frame budget - refills at the configured rate', async (t) => {
  const budget = { rate: 10, burst: 2, closeAfter: 100 };
  const st = newConnState(1, guestIdentity(1), null, 0, budget.burst);
  admitFrame(st, budget, 0);
  admitFrame(st, budget, 0);
  t.equal(admitFrame(st, budget, 0), 'reject');
  t.equal(admitFrame(st, budget, 100), 'ok', 'one token per 100 ms at 10/s');
  t.equal(admitFrame(st, budget, 100), 'reject');
});

t.test('frame budget - rejections are counted per ten-second window', async (t) => {
  const budget = { rate: 1, burst: 1, closeAfter: 2 };
  const st = newConnState(1, guestIdentity(1), null, 0, budget.burst);
  admitFrame(st, budget, 0);
  t.equal(admitFrame(st, budget, 10), 'reject');
  t.equal(admitFrame(st, budget, 20), 'reject');
  // a new window starts; the connection is not closed for old rejections
  st.tokens = 0;
  st.tokensAt = 20_000;
  t.equal(admitFrame(st, budget, 20_000), 'reject');
});
