// The composition root: the one place that chooses implementations. Standalone mode wires
// the in-memory bus and store into the gateway and logic roles of a single process.

import { TokenVerifier } from './auth/token.js';
import { MemoryBroker } from './bus/memory.js';
import { ConfigError, DEV_TOKEN_SECRET, loadConfig, type Config } from './config.js';
import { Gateway } from './gateway/gateway.js';
import { createLogger, type Logger } from './log.js';
import { Logic } from './logic/logic.js';
import { boundPort, startMetricsServer } from './metrics-server.js';
import { Metrics } from './metrics.js';
import { MemoryStore } from './store/memory.js';

async function start(config: Config, log: Logger): Promise<void> {
  const metrics = new Metrics({ labels: { gateway: config.gatewayId } });
  const broker = new MemoryBroker();
  const store = new MemoryStore({ replaySize: config.replaySize });

  const logicBus = broker.connect();
  const logic = new Logic(logicBus, store, config, metrics, log.child({ component: 'logic' }));
  logicBus.serve(logic.handle);

  const gatewayBus = broker.connect();
  const gateway = new Gateway(config, {
    bus: gatewayBus,
    history: store.history,
    presence: store.presence,
    verifier: new TokenVerifier(config.tokenSecret),
    metrics,
    log: log.child({ component: 'gateway' }),
  });

  const port = await gateway.listen();
  const metricsServer = await startMetricsServer(config.host, config.metricsPort, metrics, log);
  log.info({ mode: 'standalone', port, metricsPort: boundPort(metricsServer) }, 'listening');
  if (config.tokenSecret === DEV_TOKEN_SECRET) {
    log.warn('using the public development TOKEN_SECRET; set TOKEN_SECRET before exposing this server');
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, connections: gateway.connectionCount }, 'shutting down');
    const hardStop = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs + 2_000);
    hardStop.unref();
    await gateway.shutdown(config.shutdownTimeoutMs);
    await Promise.all([gatewayBus.close(), logicBus.close()]);
    await store.close();
    metricsServer.close();
    log.info('stopped');
    log.flush();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`configuration error: ${err.message}\n`);
  process.exit(2);
}
const log = createLogger(config.logLevel, { gateway: config.gatewayId });
start(config, log).catch((err: unknown) => {
  log.fatal({ err }, 'failed to start');
  process.exit(1);
});
