import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { createRedisStores } from '@lwm2m/registry';
import { nestLogLevels } from '@lwm2m/config';
import { RedisRequestStore } from '@lwm2m/scheduler';
import { validateGatewayConfig } from './config';
import { GatewayModule } from './gateway.module';

/** The gateway as its own process (cluster mode): REDIS_URL is required. */
async function bootstrap(): Promise<void> {
  const config = validateGatewayConfig(process.env);
  if (!config.REDIS_URL)
    throw new Error('invalid configuration: REDIS_URL is required for a standalone gateway');
  const stores = createRedisStores(config.REDIS_URL);
  // No HTTP server in the gateway: it is a UDP front end. Shutdown hooks close the sockets on SIGTERM.
  const app = await NestFactory.createApplicationContext(
    GatewayModule.forRoot({
      // The ledger of queued requests (the scheduler's store): fences and records their delivery.
      ports: {
        ...stores,
        deliveries: new RedisRequestStore(stores.redis, { keyPrefix: stores.keys.prefix }),
      },
      config,
    }),
    {
      logger: nestLogLevels(config.LOG_LEVEL),
    },
  );
  app.enableShutdownHooks();
  process.once('beforeExit', () => void stores.close());
}

bootstrap().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
