import { createServer, type Server } from 'node:http';
import t from 'tap';
import { metricOf, metricValue, parseSamples } from '../../bench/lib/prom.js';
import { urlsUsage } from '../../bench/lib/usage.js';

const TEXT = `# HELP danmaku_errors_total Error frames sent, by reason
# TYPE danmaku_errors_total counter
danmaku_errors_total{reason="bad_frame"} 2
danmaku_errors_total{reason="flood",node="gw-1"} 3
danmaku_errors_total{xreason="flood"} 100
danmaku_rooms 4 1795412451821
weird{msg="a \\"quoted\\" } brace"} 1.5
process_cpu_seconds_total 12.25
process_resident_memory_bytes 104857600
`;

t.test('bench prom - samples, labels (escaped, exact match), timestamps; absent is null or 0', async (t) => {
  const s = parseSamples(TEXT);
  t.equal(s.length, 7, 'comments skipped');
  t.same(s[4], { name: 'weird', labels: { msg: 'a "quoted" } brace' }, value: 1.5 });
  t.equal(metricValue(TEXT, 'danmaku_errors_total', { reason: 'flood' }), 3, 'a label is matched whole, not as a substring');
  t.equal(metricValue(TEXT, 'danmaku_errors_total'), 105, 'no labels: every sample summed');
  t.equal(metricValue(TEXT, 'danmaku_rooms'), 4, 'the timestamp is not the value');
  t.equal(metricOf(TEXT, 'danmaku_missing'), null);
  t.equal(metricValue(TEXT, 'danmaku_missing'), 0);
  t.equal(metricValue(TEXT, 'danmaku_error'), 0, 'a prefix of a name is another name');
});

function serve(text: string): Promise<{ url: string; server: Server }> {
  return new Promise((resolve) => {
    const server = createServer((_req, res) => res.end(text));
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}/metrics`, server }));
  });
}

t.test('bench usage - CPU and memory are summed over the /metrics of every gateway; one unreachable gives none', async (t) => {
  const a = await serve('process_cpu_seconds_total 10\nprocess_resident_memory_bytes 100000000\n');
  const b = await serve('process_cpu_seconds_total 2.5\nprocess_resident_memory_bytes 50000000\n');
  const bare = await serve('danmaku_rooms 1\n');
  t.teardown(() => [a, b, bare].forEach((s) => s.server.close()));
  t.same(await urlsUsage([a.url, b.url]), { cpu: 12.5, rss: 150_000_000 });
  t.same(await urlsUsage([a.url]), { cpu: 10, rss: 100_000_000 });
  t.equal(await urlsUsage([a.url, bare.url]), null, 'an endpoint without process metrics');
  b.server.close();
  b.server.closeAllConnections();
  t.equal(await urlsUsage([a.url, b.url]), null, 'an endpoint that is down');
  t.equal(await urlsUsage([]), null);
});
