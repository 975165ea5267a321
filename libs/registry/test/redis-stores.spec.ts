// The Redis implementations pass the shared contract suites, against a private redis-server.
import { randomBytes } from 'node:crypto';
import { createRedisStores } from '@lwm2m/registry';
import { afterAll, beforeAll } from 'vitest';
import {
  describeAllStoreContracts,
  describeAuditStoreContract,
  describeModelStoreContract,
} from '../../server/test/contracts';
import { type RedisHandle, startRedis } from '../../../test/support/redis';

let redis: RedisHandle;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

// Each test gets its own key prefix on the shared server, and a second client (another node) on it.
describeAllStoreContracts('redis', async () => {
  const keyPrefix = `t${randomBytes(4).toString('hex')}:`;
  const options = {
    keyPrefix,
    commands: { blockMs: 200 },
    events: { blockMs: 500 },
    credentials: { secretsKey: randomBytes(32) },
  };
  const node = createRedisStores(redis.url, options);
  const other = createRedisStores(redis.url, options);
  return {
    ...node,
    peer: other,
    async close() {
      await Promise.all([node.close(), other.close()]);
    },
  };
});

// The audit trail on a capped stream, with the bound each test asks for.
describeAuditStoreContract('redis', async ({ maxEntries }) => {
  const stores = createRedisStores(redis.url, {
    keyPrefix: `t${randomBytes(4).toString('hex')}:`,
    audit: { maxEntries },
  });
  return { audit: stores.audit, close: () => stores.close() };
});

// Uploaded object models: two clients of one Redis are two nodes.
describeModelStoreContract('redis', async () => {
  const keyPrefix = `t${randomBytes(4).toString('hex')}:`;
  const node = createRedisStores(redis.url, { keyPrefix });
  const other = createRedisStores(redis.url, { keyPrefix });
  return {
    store: node.models,
    peer: other.models,
    async close() {
      await Promise.all([node.close(), other.close()]);
    },
  };
});
