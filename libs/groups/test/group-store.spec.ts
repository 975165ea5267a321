// The group store contract on a real redis-server (each test under its own key prefix) and in memory.
import Redis from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { type RedisHandle, startRedis } from '../../../test/support/redis';
import { InMemoryGroupStore, RedisGroupStore } from '../src';
import { describeGroupStoreContract } from './contracts/group-store.contract';

let redis: RedisHandle;
let conn: Redis;
let n = 0;

beforeAll(async () => {
  redis = await startRedis();
  conn = new Redis(redis.url);
});

afterAll(async () => {
  conn?.disconnect();
  await redis?.stop();
});

describeGroupStoreContract('redis', async () => new RedisGroupStore(conn, { keyPrefix: `t${n++}:` }));
describeGroupStoreContract('memory', async () => new InMemoryGroupStore());
