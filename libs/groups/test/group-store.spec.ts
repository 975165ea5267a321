// The group store contract on a real redis-server (each test under its own key prefix) and in memory.
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
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

describe('RedisGroupStore list of requests', () => {
  it('trims the list index when a finished request expires, without waiting for a list', async () => {
    const prefix = 'trim:';
    const store = new RedisGroupStore(conn, { keyPrefix: prefix });
    const base = { spec: { op: 'read' as const, path: '/3/0/0' }, createdBy: 't', timeoutMs: 1000 };
    const rate = { perSecond: 1, maxInFlight: 1 };
    const now = Date.now();
    await store.createRequest(
      { ...base, id: 'old', group: 'g', createdAt: now, deadline: now + 1, rate },
      [],
    );
    expect(await store.finishIfDone('old', now, 30)).toBe('completed');
    expect(await conn.zcard(`${prefix}{grp}:requests`)).toBe(1);
    expect(await conn.zcard(`${prefix}{grp}:requests:g:g`)).toBe(1);
    // A later create trims what expired: the indexes follow the retention (no key is scanned).
    await vi.waitFor(async () => expect(await conn.exists(`${prefix}{greq:old}:meta`)).toBe(0), {
      timeout: 10_000,
      interval: 20,
    });
    await vi.waitFor(
      async () => {
        await store.createRequest(
          {
            ...base,
            id: `new-${Date.now()}`,
            group: 'h',
            createdAt: Date.now(),
            deadline: Date.now() + 1,
            rate,
          },
          [],
        );
        expect(await conn.zcard(`${prefix}{grp}:requests:g:g`)).toBe(0);
        expect(await conn.zcard(`${prefix}{grp}:expiring`)).toBe(0);
      },
      { timeout: 10_000, interval: 50 },
    );
    const ids = (await store.listRequests({ limit: 100 })).items.map((r) => r.id);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids).not.toContain('old');
    expect(await conn.zcard(`${prefix}{grp}:requests`)).toBe(ids.length);
  });
});
