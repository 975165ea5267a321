// Single-node mode: every app in one process against one Redis (DESIGN.md "Layout rules").
// `npm start` runs this. Without REDIS_URL it starts a local redis-server that keeps its data in
// DATA_DIR (default .data/redis), so registrations survive a restart of the server.
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createRedisStores, hasRedisServer, type LocalRedis, startLocalRedis } from '@lwm2m/registry';
import { logLevels, validateApiConfig } from '../../api/src/config';
import { createApiApp, DOCS_PATH } from '../../api/src/create-api-app';
import { validateGatewayConfig } from '../../gateway/src/config';
import { CoapServerService } from '../../gateway/src/coap-server.service';
import { GatewayModule } from '../../gateway/src/gateway.module';

async function main(): Promise<void> {
  const gatewayConfig = validateGatewayConfig(process.env);
  const logger = new Logger('server');
  let local: LocalRedis | undefined;
  let redisUrl = gatewayConfig.REDIS_URL;
  if (!redisUrl) {
    if (!hasRedisServer()) {
      console.error(
        'redis-server not found: install it (Debian/Ubuntu: sudo apt-get install redis-server) or set REDIS_URL=redis://host:6379',
      );
      process.exit(1);
    }
    local = await startLocalRedis({ dir: process.env.DATA_DIR || '.data/redis', appendonly: true });
    redisUrl = local.url;
  }
  const apiConfig = validateApiConfig({ ...process.env, REDIS_URL: redisUrl });
  const levels = logLevels(gatewayConfig.LOG_LEVEL);

  const stores = createRedisStores(redisUrl);
  // ioredis reconnects by itself; without a listener every failed attempt is an "Unhandled error event".
  stores.redis.on('error', (err: Error) => logger.warn(`redis: ${err.message}`));

  const gateway = await NestFactory.createApplicationContext(
    GatewayModule.forRoot({ ports: stores, config: gatewayConfig }),
    { logger: levels },
  );
  const api = await createApiApp(
    { ...stores, ping: () => stores.redis.ping() },
    { logger: levels, shutdownHooks: false, ...(apiConfig.API_KEYS ? { apiKeys: apiConfig.API_KEYS } : {}) },
  );
  await api.listen(apiConfig.HTTP_PORT, apiConfig.HTTP_HOST);

  const coap = gateway.get(CoapServerService).address();
  const httpHost =
    apiConfig.HTTP_HOST === '0.0.0.0' || apiConfig.HTTP_HOST === '::' ? 'localhost' : apiConfig.HTTP_HOST;
  const httpPort = (api.getHttpServer().address() as { port: number }).port;
  const base = `http://${httpHost}:${httpPort}`;
  console.log(
    [
      `LwM2M server ready`,
      `  CoAP (LwM2M over UDP): coap://${coap.address}:${coap.port}`,
      `  REST API:              ${base}/api/v1/devices`,
      `  API docs:              ${base}/${DOCS_PATH}`,
      `  Redis:                 ${local ? `${redisUrl} (local, data in ${process.env.DATA_DIR || '.data/redis'})` : redisUrl.replace(/\/\/[^@]*@/, '//***@')}`,
    ].join('\n'),
  );

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: shutting down`);
    await api.close().catch(() => undefined);
    await gateway.close().catch(() => undefined);
    await stores.close().catch(() => undefined);
    await local?.stop().catch(() => undefined);
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
