import t from 'tap';
import { TokenVerifier } from '../../src/auth/token.js';
import { Admission, overload, retryAfterSeconds, RETRY_AFTER_MAX_S, RETRY_AFTER_MIN_S, type LoadSignals } from '../../src/gateway/admission.js';

const LIMITS = { maxConnections: 100, admitMaxLagMs: 200, admitMaxOutboundBytes: 1 << 20 };
/** the per-client limits, all off */
const OFF = { maxConnectionsPerIp: 0, ipConnectRate: 0, ipConnectBurst: 20, maxConnectionsPerUser: 0, allowedOrigins: [] };
const CALM: LoadSignals = { connections: 10, lagMs: 3, outboundBytes: 0 };

t.test('admission - a gateway under every threshold admits', async (t) => {
  t.equal(overload(CALM, LIMITS), null);
  t.equal(overload({ connections: 99, lagMs: 200, outboundBytes: 1 << 20 }, LIMITS), null, 'at the lag and outbound thresholds, one below the cap');
});

t.test('admission - each threshold refuses with its own reason', async (t) => {
  t.equal(overload({ ...CALM, connections: 100 }, LIMITS), 'capacity', 'the cap is the number of connections held');
  t.equal(overload({ ...CALM, lagMs: 201 }, LIMITS), 'lag');
  t.equal(overload({ ...CALM, outboundBytes: (1 << 20) + 1 }, LIMITS), 'outbound');
  t.equal(overload({ connections: 100, lagMs: 500, outboundBytes: 1 << 30 }, LIMITS), 'capacity', 'capacity first, then lag, then outbound');
  t.equal(overload({ connections: 0, lagMs: 500, outboundBytes: 1 << 30 }, LIMITS), 'lag');
});

t.test('admission - 0 turns a threshold off', async (t) => {
  const off = { maxConnections: 0, admitMaxLagMs: 0, admitMaxOutboundBytes: 0 };
  t.equal(overload({ connections: 1e7, lagMs: 1e5, outboundBytes: 2 ** 40 }, off), null);
});

t.test('admission - Retry-After is a whole number of seconds spread over its range', async (t) => {
  t.equal(retryAfterSeconds(0), RETRY_AFTER_MIN_S);
  t.equal(retryAfterSeconds(0.999999), RETRY_AFTER_MAX_S);
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    const s = retryAfterSeconds(Math.random());
    t.ok(Number.isInteger(s) && s >= RETRY_AFTER_MIN_S && s <= RETRY_AFTER_MAX_S, `${s} in range`);
    seen.add(s);
  }
  t.equal(seen.size, RETRY_AFTER_MAX_S - RETRY_AFTER_MIN_S + 1, 'every value comes up');
});

t.test('admission - refusals answer 503 with a reason and Retry-After; draining comes first', async (t) => {
  let load: LoadSignals = CALM;
  const a = new Admission(new TokenVerifier('test-secret-0123456789abcdef'), { ...LIMITS, ...OFF, allowGuests: true, maxTokenBytes: 4096 }, () => load, () => 0.5);
  const req = { token: '', since: '', address: '127.0.0.1', origin: '' };
  const ok = a.admit(req, 1);
  t.equal(ok.upgrade, true, 'a guest is admitted while calm');
  t.equal(a.refusal(), null);
  load = { ...CALM, lagMs: 1000 };
  const v = a.admit(req, 2);
  t.equal(v.upgrade, false);
  if (!v.upgrade) {
    t.equal(v.reason, 'lag');
    t.equal(v.status, '503 Service Unavailable');
    t.equal(v.retryAfter, 3);
    t.match(v.body, /lag/);
  }
  a.drain();
  t.equal(a.refusal(), 'draining');
  load = CALM;
  const d = a.admit(req, 3);
  t.equal(!d.upgrade && d.reason, 'draining');
});
