// Standalone api process (cluster mode): REST on HTTP_PORT against the Redis registry at REDIS_URL.
import { RedisCampaignStore } from '@lwm2m/campaigns';
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createRedisStores } from '@lwm2m/registry';
import { EnvErrors, nestLogLevels } from '@lwm2m/config';
import { parseQueueModeConfig, QueuedRequests, RedisRequestStore } from '@lwm2m/scheduler';
import { RedisGroupStore } from '@lwm2m/groups';
import { createFirmwareStores, parseFirmwareConfig } from '@lwm2m/firmware';
import { validateApiConfig } from './config';
import { createApiApp, DOCS_PATH } from './create-api-app';

async function bootstrap(): Promise<void> {
  const config = validateApiConfig(process.env);
  const errors = new EnvErrors();
  const queueMode = parseQueueModeConfig(process.env, errors);
  const firmwareConfig = parseFirmwareConfig(process.env, errors);
  errors.done('api');
  const logger = new Logger('api');
  const stores = createRedisStores(config.REDIS_URL, {
    audit: { maxEntries: config.AUDIT_MAX_ENTRIES },
    credentials: {
      secretsKey: config.SECRETS_KEY,
      warn: (m, c) => logger.warn(`${m} ${JSON.stringify(c ?? {})}`),
    },
  });
  // ioredis reconnects by itself; without a listener every failed attempt is an "Unhandled error event".
  stores.redis.on('error', (err: Error) => logger.warn(`redis: ${err.message}`));
  // A wrong SECRETS_KEY, or none while the PSKs in Redis are sealed, stops the api here with a clear message.
  await stores.credentials.verifySecretsKey();
  // PSKs an older version stored in plain hex are sealed now (the gateways read both meanwhile).
  const sealed = await stores.credentials.sealLegacy();
  if (sealed > 0) logger.log(`credentials: sealed ${sealed} plain PSKs of an older version`);
  // /readyz: one PING on the shared connection says whether Redis is reachable.
  // Queue mode: operations on sleeping queue-mode devices are queued (202) for the scheduler.
  const requests = new QueuedRequests({
    store: new RedisRequestStore(stores.redis, { keyPrefix: stores.keys.prefix }),
    events: stores.events,
    awakeWindowMs: queueMode.awakeWindowMs,
    defaultTtlMs: queueMode.requestTtlMs,
    maxTtlMs: queueMode.maxRequestTtlMs,
  });
  const campaigns = new RedisCampaignStore(stores.redis, { keyPrefix: stores.keys.prefix });
  const app = await createApiApp(
    {
      ...stores,
      requests,
      groups: new RedisGroupStore(stores.redis, { keyPrefix: stores.keys.prefix }),
      ping: () => stores.redis.ping(),
      campaigns,
      firmware: createFirmwareStores(firmwareConfig, { client: stores.redis, keyPrefix: stores.keys.prefix }),
    },
    {
      logger: nestLogLevels(config.LOG_LEVEL),
      ...(config.API_KEYS ? { apiKeys: config.API_KEYS } : {}),
      sseMaxStreams: config.SSE_MAX_STREAMS,
      sseMaxStreamsPerKey: config.SSE_MAX_STREAMS_PER_KEY,
      sseHeartbeatMs: config.SSE_HEARTBEAT_MS,
      ...(config.MODELS_DIR ? { modelsDirs: config.MODELS_DIR } : {}),
      groups: config.GROUPS,
    },
  );
  // The Redis connections close after Nest's own shutdown (SIGTERM via enableShutdownHooks).
  const close = app.close.bind(app);
  app.close = async () => {
    await close();
    await stores.close();
  };
  await app.listen(config.HTTP_PORT, config.HTTP_HOST);
  const url = `http://${config.HTTP_HOST === '0.0.0.0' ? 'localhost' : config.HTTP_HOST}:${config.HTTP_PORT}`;
  logger.log(`REST api on ${url}/api/v1, docs on ${url}/${DOCS_PATH}`);
}

bootstrap().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
