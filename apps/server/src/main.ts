// Single-node mode: every app in one process against one Redis (DESIGN.md "Layout rules").
// `npm start` runs this. Without REDIS_URL it starts a local redis-server that keeps its data in
// DATA_DIR (default .data/redis), so registrations survive a restart of the server. Without either, it runs
// in memory mode (memory-node.ts): the same product, its state in this process only.
import 'reflect-metadata';
import { ConsoleLogger, Logger } from '@nestjs/common';
import { hasRedisServer, type LocalRedis, startLocalRedis } from '@lwm2m/registry';
import {
  EnvErrors,
  loadOrCreateSecretsKey,
  nestLogLevels,
  RateLimitedLog,
  redactRedisUrl,
} from '@lwm2m/config';
import { parseFirmwareConfig } from '@lwm2m/firmware';
import { soleNodeClusterSecret } from '@lwm2m/cluster';
import { validateApiConfig } from '../../api/src/config';
import { DOCS_PATH } from '../../api/src/create-api-app';
import { validateGatewayConfig } from '@lwm2m/gateway';
import { validateGroupObserverConfig } from '../../group-observer/src/config';
import { validateSchedulerConfig } from '@lwm2m/scheduler';
import { validateSingleNodeConfig } from './config';
import { startSingleNode } from './single-node';

/** SIGTERM to exit, at most (Kubernetes waits 30 s before its SIGKILL; an operator much less). */
const SHUTDOWN_DEADLINE_MS = 4500;

async function main(): Promise<void> {
  validateSingleNodeConfig(process.env);
  const gatewayConfig = validateGatewayConfig(process.env);
  const fwErrors = new EnvErrors();
  const firmwareConfig = parseFirmwareConfig(process.env, fwErrors);
  fwErrors.done('firmware');
  const logger = new Logger('server');
  // Every reconnect attempt fails while Redis is gone: one line per message per interval, with a count.
  const redisErrors = new RateLimitedLog((line) => logger.warn(line));
  const dataDir = process.env.DATA_DIR || '.data/redis';
  let local: LocalRedis | undefined;
  let redisUrl = gatewayConfig.REDIS_URL;
  // Memory mode: no REDIS_URL and no redis-server to start.
  const memory = !redisUrl && !hasRedisServer();
  // The worker threads run in the standalone gateway (npm run start:gateway); this process runs one stack.
  if (gatewayConfig.GATEWAY_WORKERS > 1)
    throw new Error(
      memory
        ? 'invalid configuration: GATEWAY_WORKERS > 1 needs Redis (the worker threads share sessions, registrations and commands there); set REDIS_URL, or GATEWAY_WORKERS=1'
        : 'invalid configuration: GATEWAY_WORKERS > 1 runs in the standalone gateway (npm run start:gateway); npm start runs one gateway thread, set GATEWAY_WORKERS=1',
    );
  if (!redisUrl && !memory) {
    local = await startLocalRedis({ dir: dataDir, appendonly: true });
    redisUrl = local.url;
  }
  const apiConfig = validateApiConfig(
    { ...process.env, ...(redisUrl ? { REDIS_URL: redisUrl } : {}) },
    { requireRedis: !memory },
  );
  const schedulerConfig = validateSchedulerConfig({
    ...process.env,
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
  });
  // Without SECRETS_KEY the PSKs are sealed with a key kept in DATA_DIR (made on the first start, mode 0600).
  // Memory mode keeps nothing at rest: no key to make.
  let secretsKey = gatewayConfig.SECRETS_KEY;
  if (secretsKey === undefined && !memory) {
    const kept = loadOrCreateSecretsKey(dataDir);
    secretsKey = kept.key;
    if (kept.created) logger.log(`SECRETS_KEY not set: generated one into ${kept.file}; keep this file`);
  }
  // DTLS sessions outlive the process: without CLUSTER_KEY this node runs the cluster's session keeping as a
  // one-node cluster without a link (its lease, sessions sealed in Redis with leased write sequence numbers),
  // under a cluster secret derived from the secrets key, so a restart resumes every CID session with no
  // handshake. With CLUSTER_KEY it is a full cluster node (link on CLUSTER_PORT).
  // Memory mode keeps sessions in memory only (and refuses CLUSTER_KEY: there is no shared state).
  const gateway =
    memory || gatewayConfig.CLUSTER_KEY !== undefined
      ? gatewayConfig
      : { ...gatewayConfig, CLUSTER_KEY: soleNodeClusterSecret(secretsKey!), CLUSTER_LINK: false };
  const node = await startSingleNode({
    ...(memory ? { memory: true } : { redisUrl }),
    gateway,
    http: { port: apiConfig.HTTP_PORT, host: apiConfig.HTTP_HOST },
    apiKeys: apiConfig.API_KEYS,
    auditMaxEntries: apiConfig.AUDIT_MAX_ENTRIES,
    groups: apiConfig.GROUPS,
    sse: {
      sseMaxStreams: apiConfig.SSE_MAX_STREAMS,
      sseMaxStreamsPerKey: apiConfig.SSE_MAX_STREAMS_PER_KEY,
      sseHeartbeatMs: apiConfig.SSE_HEARTBEAT_MS,
    },
    logger: new ConsoleLogger({
      logLevels: nestLogLevels(gatewayConfig.LOG_LEVEL),
      json: gatewayConfig.LOG_FORMAT === 'json',
    }),
    secretsKey,
    onRedisError: (err) => redisErrors.log(err.message, `redis: ${err.message}`),
    scheduler: schedulerConfig,
    groupObserver: validateGroupObserverConfig(process.env),
    firmware: firmwareConfig,
  });

  const host = ['0.0.0.0', '::'].includes(apiConfig.HTTP_HOST) ? 'localhost' : apiConfig.HTTP_HOST;
  const base = `http://${host}:${node.httpPort}`;
  const redisShown = memory
    ? 'none: MEMORY MODE, every state (devices, credentials, queued requests) is lost when this process stops'
    : local
      ? `${redisUrl} (local, data in ${dataDir})`
      : redactRedisUrl(redisUrl!);
  console.log(
    [
      'LwM2M server ready',
      ...(node.coap ? [`  CoAP (LwM2M over UDP): coap://${node.coap.address}:${node.coap.port}`] : []),
      `  CoAP over DTLS:        coaps://${node.coaps.address}:${node.coaps.port}`,
      `  Dashboard:             ${base}/`,
      `  REST API:              ${base}/api/v1/devices`,
      `  API docs:              ${base}/${DOCS_PATH}`,
      `  Redis:                 ${redisShown}`,
      ...(memory
        ? [
            '  For persistence:       install redis-server (Debian/Ubuntu: sudo apt-get install redis-server)',
            '                         or set REDIS_URL=redis://host:6379, then start again',
          ]
        : []),
    ].join('\n'),
  );

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: shutting down`);
    // Each step is bounded where it waits on Redis; this deadline is the last guard, so an orchestrator's
    // SIGTERM never has to be followed by a SIGKILL.
    const deadline = setTimeout(() => {
      logger.warn(`shutdown did not finish in ${SHUTDOWN_DEADLINE_MS} ms; exiting anyway`);
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    await node.close();
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
