// The gateway's shared state on Redis, built the same way by the main thread and by each worker thread
// (GATEWAY_WORKERS > 1): every thread has its own connections.
import { Logger } from '@nestjs/common';
import { createRedisStores, type RedisStores } from '@lwm2m/registry';
import { RedisRequestStore } from '@lwm2m/scheduler';
import type { GatewayConfig } from './config';
import type { GatewayPorts } from './tokens';

export function createGatewayStores(config: GatewayConfig): { stores: RedisStores; ports: GatewayPorts } {
  if (!config.REDIS_URL)
    throw new Error('invalid configuration: REDIS_URL is required for a standalone gateway');
  const stores = createRedisStores(config.REDIS_URL, {
    credentials: {
      secretsKey: config.SECRETS_KEY,
      warn: (m, c) => new Logger('gateway').warn(`${m} ${JSON.stringify(c ?? {})}`),
    },
  });
  return {
    stores,
    ports: {
      ...stores,
      // The ledger of queued requests (the scheduler's store): fences and records their delivery.
      deliveries: new RedisRequestStore(stores.redis, { keyPrefix: stores.keys.prefix }),
      cluster: { membership: stores.membership, sessions: stores.sessions, resumption: stores.resumption },
    },
  };
}
