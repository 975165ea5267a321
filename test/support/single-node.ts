// The whole product in the test process: a private redis-server, the gateway on a free UDP port and the
// api on a free HTTP port, exactly as `npm start` wires them. `memory: true`: no Redis, memory mode.
import { EnvErrors } from '@lwm2m/config';
import { parseFirmwareConfig } from '@lwm2m/firmware';
import { randomBytes } from 'node:crypto';
import type { RedisStores } from '@lwm2m/registry';
import type { MemoryNodeStores } from '../../apps/server/src/memory-node';
import { type SingleNode, type SingleNodeOptions, startSingleNode } from '../../apps/server/src/single-node';
import { validateGatewayConfig } from '../../apps/gateway/src/config';
import { validateGroupObserverConfig } from '../../apps/group-observer/src/config';
import { type RedisHandle, startRedis } from './redis';

/** `S`: RedisStores, or MemoryNodeStores for a memory-mode server (which has no `redis`). */
export interface TestServer<S = RedisStores> {
  redis: S extends RedisStores ? RedisHandle : undefined;
  node: SingleNode<S>;
  http: string;
  coapPort: number;
  /** CoAP over DTLS (PSK from the credential store). */
  coapsPort: number;
  api<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T; headers: Headers }>;
  stop(): Promise<void>;
}

export interface TestServerOptions {
  gateway?: Record<string, string>;
  secretsKey?: Buffer;
  logger?: SingleNodeOptions['logger'];
  /** Environment of the mounted group-observer (MULTICAST_GROUP_ADDR, ...). */
  groupObserver?: Record<string, string>;
  apiKeys?: string;
  /** Memory mode (`npm start` without Redis): no redis-server, every store in memory. */
  memory?: boolean;
  /** Queue mode and scheduler settings (validateSchedulerConfig). */
  scheduler?: SingleNodeOptions['scheduler'];
  /** Fleet group operations (limits, defaults, the runner's lease). */
  groups?: SingleNodeOptions['groups'];
  /** FIRMWARE_* environment (parseFirmwareConfig): image store and limits. */
  firmware?: Record<string, string>;
}

/** `gateway` adds environment settings of the gateway (e.g. DTLS_KEY_FILE). */
export function startTestServer(
  opts: TestServerOptions & { memory: true },
): Promise<TestServer<MemoryNodeStores>>;
export function startTestServer(opts?: TestServerOptions & { memory?: false }): Promise<TestServer>;
export function startTestServer(
  opts: TestServerOptions,
): Promise<TestServer<RedisStores> | TestServer<MemoryNodeStores>>;
export async function startTestServer(
  opts: TestServerOptions = {},
): Promise<TestServer<RedisStores> | TestServer<MemoryNodeStores>> {
  const redis = opts.memory ? undefined : await startRedis();
  const node = await startSingleNode({
    ...(redis ? { redisUrl: redis.url } : { memory: true }),
    gateway: validateGatewayConfig({
      COAP_PORT: '0',
      COAPS_PORT: '0',
      COAP_HOST: '127.0.0.1',
      ...opts.gateway,
    }),
    http: { port: 0, host: '127.0.0.1' },
    logger: opts.logger ?? false,
    ...(opts.groupObserver ? { groupObserver: validateGroupObserverConfig(opts.groupObserver) } : {}),
    ...(opts.apiKeys ? { apiKeys: opts.apiKeys } : {}),
    ...(opts.scheduler ? { scheduler: opts.scheduler } : {}),
    ...(opts.groups ? { groups: opts.groups } : {}),
    ...(opts.firmware ? { firmware: parseFirmwareConfig(opts.firmware, new EnvErrors()) } : {}),
    // PSKs are sealed at rest (SECRETS_KEY); a fresh key per server.
    secretsKey: opts.secretsKey ?? randomBytes(32),
  });
  const http = `http://127.0.0.1:${node.httpPort}`;
  const server: TestServer<RedisStores | MemoryNodeStores> = {
    redis: redis as RedisHandle,
    node,
    http,
    coapPort: node.coap!.port,
    coapsPort: node.coaps.port,
    async api<T>(method: string, path: string, body?: unknown) {
      const res = await fetch(`${http}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, headers: res.headers };
    },
    async stop() {
      await node.close();
      await redis?.stop();
    },
  };
  // The overloads give each mode its own type: Redis stores and handle, or memory stores and no handle.
  return server as TestServer<RedisStores> | TestServer<MemoryNodeStores>;
}
