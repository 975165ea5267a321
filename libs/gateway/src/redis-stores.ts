// The standalone gateway's shared state on Redis, built the same way by the main thread and by each worker
// thread (GATEWAY_WORKERS > 1: every thread has its own connections), and its probe routes.
import { createRedisStores, type RedisStores } from '@lwm2m/registry';
import { RedisRequestStore } from '@lwm2m/scheduler';
import { EnvErrors } from '@lwm2m/config';
import { createFirmwareStores, parseFirmwareConfig } from '@lwm2m/firmware';
import type { MetricsRoute } from '@lwm2m/metrics';
import type { GatewayConfig } from './config';
import type { GatewayStores } from './ports';

export function createGatewayStores(
  config: GatewayConfig,
  warn: (line: string) => void,
): { stores: RedisStores; ports: GatewayStores } {
  if (!config.REDIS_URL)
    throw new Error('invalid configuration: REDIS_URL is required for a standalone gateway');
  const stores = createRedisStores(config.REDIS_URL, {
    credentials: {
      secretsKey: config.SECRETS_KEY,
      warn: (m, c) => warn(`${m} ${JSON.stringify(c ?? {})}`),
    },
  });
  // Firmware images (FIRMWARE_DIR or Redis), read by /fw and pushes: the same settings as the api's.
  const errors = new EnvErrors();
  const firmware = parseFirmwareConfig(process.env, errors);
  errors.done('firmware');
  return {
    stores,
    ports: {
      ...stores,
      firmware: createFirmwareStores(firmware, { client: stores.redis, keyPrefix: stores.keys.prefix }),
      // The ledger of queued requests (the scheduler's store): fences and records their delivery.
      deliveries: new RedisRequestStore(stores.redis, { keyPrefix: stores.keys.prefix }),
      cluster: { membership: stores.membership, sessions: stores.sessions, resumption: stores.resumption },
    },
  };
}

/**
 * The gateway's HTTP routes beside /metrics: the Kubernetes probes and the preStop drain. Ready means serving
 * (not draining), every worker thread up, and Redis answering within 2 s.
 */
export function gatewayProbeRoutes(opts: {
  serving: () => boolean;
  drain: () => Promise<void>;
  ping: () => Promise<unknown>;
  workersDown?: () => number;
}): Record<string, MetricsRoute> {
  return {
    'GET /healthz': () => ({ status: 200, body: 'ok' }),
    'GET /readyz': async () => {
      if (!opts.serving()) return { status: 503, body: 'draining' };
      if ((opts.workersDown?.() ?? 0) > 0) return { status: 503, body: 'worker restarting' };
      try {
        await Promise.race([
          opts.ping(),
          new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref()),
        ]);
        return { status: 200, body: 'ready' };
      } catch {
        return { status: 503, body: 'redis unreachable' };
      }
    },
    // preStop (k8s/base/gateway.yaml): hand the sessions over before SIGTERM.
    'POST /drain': async () => {
      await opts.drain();
      return { status: 200, body: 'drained' };
    },
  };
}
