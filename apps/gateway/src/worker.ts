// A worker thread of the gateway process (GATEWAY_WORKERS > 1, libs/gateway workers.ts): the whole gateway
// stack on the main thread's ports, on this thread's own Redis connections. No Nest module here: the main
// thread holds the lifecycle, and a worker stops when the pool closes.
import { ConsoleLogger } from '@nestjs/common';
import { nestLogLevels } from '@lwm2m/config';
import { createGatewayStores, type GatewayWorkerData, runGatewayWorker } from '@lwm2m/gateway';
import { workerContext } from '@lwm2m/udp';

const ctx = workerContext();
const { config } = ctx.data as GatewayWorkerData;
const logger = new ConsoleLogger(`gateway-worker-${ctx.index}`, {
  logLevels: nestLogLevels(config.LOG_LEVEL),
  json: config.LOG_FORMAT === 'json',
});

runGatewayWorker(
  (cfg) => {
    const { stores, ports } = createGatewayStores(cfg, (line) => logger.warn(line));
    return { ...ports, close: () => stores.close() };
  },
  {
    log: (m) => logger.log(m),
    warn: (m) => logger.warn(m),
    error: (m) => logger.error(m),
    debug: (m) => logger.debug(m),
  },
).catch((err: unknown) => {
  console.error(`gateway worker ${ctx.index}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
