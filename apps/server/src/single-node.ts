// Every app of the cluster in one process against one Redis: what `npm start` runs and what the
// end-to-end tests start. With `memory: true`, against no Redis at all (memory-node.ts).
import {
  type INestApplication,
  type INestApplicationContext,
  type LoggerService,
  type LogLevel,
  Logger,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createRedisStores, type RedisClient, type RedisStores } from '@lwm2m/registry';
import type { Registry } from 'prom-client';
import { createApiApp } from '../../api/src/create-api-app';
import { RedisGroupStore } from '@lwm2m/groups';
import type { ApiOptions, ApiPorts } from '../../api/src/tokens';
import { CoapServerService } from '../../gateway/src/coap-server.service';
import { BootstrapServerService } from '../../gateway/src/bootstrap-server.service';
import type { GatewayConfig } from '@lwm2m/gateway';
import { GatewayModule } from '../../gateway/src/gateway.module';
import type { GatewayPorts } from '../../gateway/src/tokens';
import {
  type InProcessScheduler,
  QueuedRequests,
  RedisRequestStore,
  type RequestStore,
  type SchedulerConfig,
  validateSchedulerConfig,
} from '@lwm2m/scheduler';
import { createScheduler, type Scheduler } from '../../scheduler/src/create-scheduler';
import { registerSchedulerMetrics } from '../../scheduler/src/metrics';
import { createMetricsRegistry, registerGatewayMetrics, registerGroupObserverMetrics } from '@lwm2m/metrics';
import { type GroupObserverConfig, validateGroupObserverConfig } from '../../group-observer/src/config';
import { groupObserverMetricSources, mountGroupObserver } from '../../group-observer/src/group-observer';
import { GroupObserverHttpModule } from '../../group-observer/src/group-observer.module';
import { createMemoryState, type MemoryNodeStores } from './memory-node';
import {
  createFirmwareStores,
  DEFAULT_FIRMWARE_MAX_BYTES,
  DEFAULT_FIRMWARE_REDIS_MAX_BYTES,
  type FirmwareConfig,
} from '@lwm2m/firmware';
import { type CampaignStore, RedisCampaignStore } from '@lwm2m/campaigns';

export interface SingleNodeOptions {
  /** The Redis every store lives in; unset in memory mode. */
  redisUrl?: string;
  /** Memory mode (memory-node.ts): no Redis; every store and the request queues in this process only. */
  memory?: boolean;
  gateway: GatewayConfig;
  http: { port: number; host: string };
  apiKeys?: string;
  /** Audit trail entries kept (AUDIT_MAX_ENTRIES; default 100 000). */
  auditMaxEntries?: number;
  /** Event stream (SSE) caps and heartbeat (SSE_MAX_STREAMS, SSE_MAX_STREAMS_PER_KEY, SSE_HEARTBEAT_MS). */
  sse?: Pick<ApiOptions, 'sseMaxStreams' | 'sseMaxStreamsPerKey' | 'sseHeartbeatMs'>;
  /** Fleet group operations: limits, defaults, the runner's lease. */
  groups?: ApiOptions['groups'];
  /** Nest's log levels, false for none, or a logger of its own (the tests capture lines with one). */
  logger: LogLevel[] | false | LoggerService;
  /** The 32-byte key PSKs are sealed with in Redis (SECRETS_KEY, or the one `npm start` keeps in DATA_DIR). */
  secretsKey?: Buffer;
  onRedisError?: (err: Error) => void;
  /** The group-observer's settings (validateGroupObserverConfig; its ports and Redis are the node's). */
  groupObserver?: GroupObserverConfig;
  /** Queue mode and the scheduler's settings (validateSchedulerConfig); `run: false` leaves the scheduler to
   * its own process (tests that kill it). Default: validateSchedulerConfig of the defaults. */
  scheduler?: SchedulerConfig & { run?: boolean };
  /** Firmware images (FIRMWARE_*, libs/firmware parseFirmwareConfig); default: in Redis, 256 MiB uploads. */
  firmware?: FirmwareConfig;
}

/** `S`: RedisStores, or MemoryNodeStores in memory mode. */
export interface SingleNode<S = RedisStores> {
  stores: S;
  gateway: INestApplicationContext;
  api: INestApplication;
  /** CoAP NoSec (absent with COAP_NOSEC=false). */
  coap?: { address: string; port: number };
  /** CoAP over DTLS. */
  coaps: { address: string; port: number };
  httpPort: number;
  /** The in-process scheduler (undefined with scheduler.run false): BullMQ's, or timers in memory mode. */
  scheduler?: Scheduler | InProcessScheduler;
  requests: RequestStore;
  /** True in memory mode. */
  memory: boolean;
  close(): Promise<void>;
}

export function startSingleNode(
  options: SingleNodeOptions & { memory: true },
): Promise<SingleNode<MemoryNodeStores>>;
export function startSingleNode(options: SingleNodeOptions & { redisUrl: string }): Promise<SingleNode>;
export function startSingleNode(
  options: SingleNodeOptions,
): Promise<SingleNode<RedisStores | MemoryNodeStores>>;
export async function startSingleNode(
  options: SingleNodeOptions,
): Promise<SingleNode<RedisStores | MemoryNodeStores>> {
  const scheduling: SchedulerConfig & { run?: boolean } = options.scheduler ?? validateSchedulerConfig({});
  const opts = { ...options, scheduler: scheduling };
  if (opts.memory) return startOn(createMemoryState(opts), opts);
  if (opts.redisUrl === undefined) throw new Error('startSingleNode: redisUrl or memory: true');
  const redisUrl = opts.redisUrl;
  const stores = createRedisStores(redisUrl, {
    ...(opts.auditMaxEntries !== undefined ? { audit: { maxEntries: opts.auditMaxEntries } } : {}),
    credentials: {
      secretsKey: opts.secretsKey,
      warn: (m, c) => new Logger('credentials').warn(`${m} ${JSON.stringify(c ?? {})}`),
    },
  });
  // ioredis reconnects by itself; without a listener every failed attempt is an "Unhandled error event".
  stores.redis.on('error', (err: Error) => opts.onRedisError?.(err));
  try {
    // A wrong SECRETS_KEY stops the start here, clearly; plain PSKs of an older version are sealed now.
    await stores.credentials.verifySecretsKey();
    await stores.credentials.sealLegacy();
  } catch (err) {
    await stores.close();
    throw err;
  }
  const requests = new RedisRequestStore(stores.redis, {
    keyPrefix: stores.keys.prefix,
    retentionSeconds: opts.scheduler.retentionSeconds,
  });
  return startOn(
    {
      stores,
      requests,
      cluster: { membership: stores.membership, sessions: stores.sessions, resumption: stores.resumption },
      ping: () => stores.redis.ping(),
      redis: { client: stores.redis, keyPrefix: stores.keys.prefix },
      campaigns: new RedisCampaignStore(stores.redis, { keyPrefix: stores.keys.prefix }),
      startScheduler: async () => {
        const scheduler = await createScheduler({
          redisUrl,
          config: opts.scheduler,
          logger: opts.logger,
          stores,
        });
        return { scheduler, registerMetrics: (registry) => registerSchedulerMetrics(registry, scheduler) };
      },
      close: () => stores.close(),
    },
    opts,
  );
}

/**
 * Where a node keeps its state: Redis (above) or this process's memory (memory-node.ts). Everything else
 * is wired the same way by startOn.
 */
export interface NodeState<S> {
  stores: S & GatewayPorts & Required<Pick<ApiPorts, 'audit'>>;
  requests: RequestStore;
  /** Gateway cluster stores (CLUSTER_KEY); Redis only. */
  cluster?: GatewayPorts['cluster'];
  /** /readyz: the backend answers. */
  ping?: () => Promise<unknown>;
  /** Redis: the group-observer keeps its topics and group observations there (else in memory). */
  redis?: { client: RedisClient; keyPrefix: string };
  /** Firmware campaigns: in Redis, or in memory. */
  campaigns: CampaignStore;
  /** `queue`: the process's one queue of requests for sleeping devices (memory mode's campaigns use it). */
  startScheduler(queue: QueuedRequests): Promise<{
    scheduler: Scheduler | InProcessScheduler;
    registerMetrics?: (registry: Registry) => void;
    /** Memory mode's campaign driver (with Redis the scheduler drives them): closed before the scheduler. */
    campaigns?: { close(): Promise<void> };
  }>;
  close(): Promise<void>;
}

async function startOn<S>(
  state: NodeState<S>,
  opts: SingleNodeOptions & { scheduler: SchedulerConfig & { run?: boolean } },
): Promise<SingleNode<S>> {
  const { stores, requests } = state;
  // One image store for the gateway (/fw, pushes) and the api (uploads, HTTP pull).
  const firmware = createFirmwareStores(
    opts.firmware ?? {
      FIRMWARE_MAX_BYTES: DEFAULT_FIRMWARE_MAX_BYTES,
      FIRMWARE_REDIS_MAX_BYTES: DEFAULT_FIRMWARE_REDIS_MAX_BYTES,
    },
    state.redis ? { client: state.redis.client, keyPrefix: state.redis.keyPrefix } : undefined,
  );
  const gateway = await NestFactory.createApplicationContext(
    GatewayModule.forRoot({
      ports: {
        ...stores,
        firmware,
        deliveries: requests,
        ...(state.cluster ? { cluster: state.cluster } : {}),
      },
      config: { ...opts.gateway, AWAKE_WINDOW_MS: opts.scheduler.awakeWindowMs },
    }),
    { logger: opts.logger },
  );
  const queue = new QueuedRequests({
    store: requests,
    events: stores.events,
    awakeWindowMs: opts.scheduler.awakeWindowMs,
    defaultTtlMs: opts.scheduler.requestTtlMs,
    maxTtlMs: opts.scheduler.maxRequestTtlMs,
  });
  const started = opts.scheduler.run === false ? undefined : await state.startScheduler(queue);
  const scheduler = started?.scheduler;
  // One /metrics for the whole process (on the api's port): process and HTTP metrics, and the gateway's and
  // the scheduler's counters, each read at scrape time.
  const metricsRegistry = createMetricsRegistry();
  registerGatewayMetrics(metricsRegistry, {
    ...gateway.get(CoapServerService).metricSources(),
    bootstrap: () => gateway.get(BootstrapServerService).counters(),
  });
  started?.registerMetrics?.(metricsRegistry);
  // The group-observer on the same CoAP endpoint (/ps/{name} beside /rd, multicast from the NoSec socket:
  // SRV_ADDR:SRV_PORT of the draft) and its topics on the api's port and OpenAPI document. Group observation
  // is plain CoAP (protection is Group OSCORE's, not DTLS'), so it needs COAP_NOSEC.
  const svc = gateway.get(CoapServerService);
  const groupObserver =
    svc.nosecTransport && svc.endpoint
      ? await mountGroupObserver({
          endpoint: svc.endpoint,
          udp: svc.nosecTransport,
          ...(state.redis ? { redis: state.redis.client, keyPrefix: state.redis.keyPrefix } : {}),
          config: opts.groupObserver ?? validateGroupObserverConfig({}),
        })
      : undefined;
  if (groupObserver) {
    svc.mount((req) => groupObserver.handle(req));
    registerGroupObserverMetrics(metricsRegistry, groupObserverMetricSources(groupObserver));
  }
  const api = await createApiApp(
    {
      ...stores,
      firmware,
      requests: queue,
      ...(state.ping ? { ping: state.ping } : {}),
      // Group requests in Redis survive a restart; memory mode keeps them in the api's memory.
      ...(state.redis
        ? { groups: new RedisGroupStore(state.redis.client, { keyPrefix: state.redis.keyPrefix }) }
        : {}),
      campaigns: state.campaigns,
    },
    {
      logger: opts.logger,
      shutdownHooks: false,
      ...opts.sse,
      ...(opts.groups ? { groups: opts.groups } : {}),
      metricsRegistry,
      ...(opts.apiKeys ? { apiKeys: opts.apiKeys } : {}),
      ...(opts.gateway.MODELS_DIR ? { modelsDirs: opts.gateway.MODELS_DIR } : {}),
      ...(groupObserver ? { imports: [GroupObserverHttpModule.forRoot(groupObserver)] } : {}),
    },
  );
  await api.listen(opts.http.port, opts.http.host);
  return {
    stores,
    gateway,
    api,
    ...(opts.gateway.COAP_NOSEC ? { coap: gateway.get(CoapServerService).address() } : {}),
    coaps: gateway.get(CoapServerService).secureAddress(),
    httpPort: (api.getHttpServer().address() as { port: number }).port,
    ...(scheduler ? { scheduler } : {}),
    requests,
    memory: opts.memory === true,
    async close() {
      await api.close().catch(() => undefined);
      await groupObserver?.close().catch(() => undefined);
      await started?.campaigns?.close();
      await scheduler?.close();
      await gateway.close().catch(() => undefined);
      await state.close().catch(() => undefined);
    },
  };
}
