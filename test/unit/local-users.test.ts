import t from 'tap';
import { LocalUsers } from '../../src/gateway/local-users.js';
import { RegistryAgent } from '../../src/gateway/registry-agent.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { encodeDelivery } from '../../src/protocol/delivery.js';
import { MemoryRegistry } from '../../src/registry/memory.js';
import { metricValue } from '../helpers/server.js';

t.test('local users - a delivery goes to every connection of each recipient; drops are left to the socket layer to count', async (t) => {
  const metrics = new Metrics({ defaultMetrics: false });
  const log = createLogger('silent');
  const agent = new RegistryAgent(new MemoryRegistry(), { gatewayId: 'gw', heartbeatMs: 60_000, ttlMs: 180_000 }, metrics, log);
  const got: string[] = [];
  // 'full' stands for a socket over its buffer limit: uWS drops the frame and counts it in its dropped handler
  const users = new LocalUsers<string>((conn, _frame) => conn !== 'full' && got.push(conn) > 0, agent, metrics, log);
  users.add('alice', 'a1');
  users.add('alice', 'full');
  users.add('bob', 'b1');
  users.nodeMessage(encodeDelivery(['alice', 'bob', 'carol'], new Uint8Array([0x93, 32, 0, 0x80])));
  t.same(got.sort(), ['a1', 'b1']);
  const m = await metrics.text();
  t.equal(metricValue(m, 'danmaku_direct_frames_delivered_total'), 2);
  t.equal(metricValue(m, 'danmaku_dropped_frames_total'), 0, 'the drop is not counted a second time here');
  t.equal(metricValue(m, 'danmaku_dropped_total'), 0);
  users.nodeMessage(new Uint8Array([1, 2, 3]));
  t.equal(metricValue(await metrics.text(), 'danmaku_dropped_total', { reason: 'bad_delivery' }), 1, 'a bad delivery is counted');
  await agent.stop();
});
