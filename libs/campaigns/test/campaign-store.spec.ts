// The campaign store contract on a real redis-server (each test under its own key prefix) and in memory.
import Redis from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { type RedisHandle, startRedis } from '../../../test/support/redis';
import { InMemoryCampaignStore, RedisCampaignStore } from '../src';
import { describeCampaignStoreContract } from './contracts/campaign-store.contract';

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

describeCampaignStoreContract('redis', async () => new RedisCampaignStore(conn, { keyPrefix: `t${n++}:` }));
describeCampaignStoreContract('memory', async () => new InMemoryCampaignStore());
