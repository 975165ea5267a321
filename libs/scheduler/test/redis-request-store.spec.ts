// The request store's transitions on a real redis-server: order, the delivery fence, TTL, cancel.
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisHandle, startRedis } from '../../../test/support/redis';
import { RedisRequestStore } from '../src/redis-request-store';

let redis: RedisHandle;
let conn: Redis;
let store: RedisRequestStore;

beforeAll(async () => {
  redis = await startRedis();
  conn = new Redis(redis.url);
  store = new RedisRequestStore(conn, { keyPrefix: 't:' });
});

afterAll(async () => {
  conn?.disconnect();
  await redis?.stop();
});

const cmd = (id: string, ep: string) => ({
  id,
  endpoint: ep,
  op: 'read' as const,
  path: '/3/0/0',
  timeoutMs: 1000,
});

async function add(id: string, ep: string, now = 1000, ttl = 60_000) {
  return store.enqueue({
    id,
    endpoint: ep,
    command: cmd(id, ep),
    origin: 'operator',
    acceptedAt: now,
    expiresAt: now + ttl,
  });
}

describe('RedisRequestStore', () => {
  it('hands requests out one at a time, in accepted order', async () => {
    for (const id of ['a1', 'a2', 'a3']) expect(await add(id, 'ep-a')).toBe('added');
    expect(await add('a1', 'ep-a')).toBe('exists');
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await store.claim('ep-a', 2000, `t${i}`);
      expect(c.kind).toBe('deliver');
      if (c.kind !== 'deliver') return;
      // while one is in flight, the next is not handed out
      expect((await store.claim('ep-a', 2000, 'other')).kind).toBe('inflight');
      seen.push(c.id);
      expect(await store.begin(c.id, `t${i}`)).toBe(true);
      await store.complete(c.id, `t${i}`, { id: c.id, ok: true, status: 200 });
      expect(
        await store.settle({ id: c.id, endpoint: 'ep-a', token: `t${i}`, state: 'succeeded', now: 2000 }),
      ).toBe(1);
    }
    expect(seen).toEqual(['a1', 'a2', 'a3']);
    expect((await store.claim('ep-a', 2000, 'x')).kind).toBe('empty');
    expect(await store.endpointsWithPending()).not.toContain('ep-a');
  });

  it('lets exactly one of a gateway begin and a scheduler fence win', async () => {
    await add('b1', 'ep-b');
    const c = await store.claim('ep-b', 2000, 'tb');
    expect(c.kind).toBe('deliver');
    // fence first: the late begin is refused, the request is queued again and not counted as an attempt
    expect(
      await store.settle({
        id: 'b1',
        endpoint: 'ep-b',
        token: 'tb',
        state: 'queued',
        now: 2000,
        notBefore: 2000,
        countsAsAttempt: false,
        onlyIfNotBegun: true,
      }),
    ).toBe(1);
    expect(await store.begin('b1', 'tb')).toBe(false);
    expect((await store.get('b1'))?.attempts).toBe(0);
    // begin first: the fence loses
    const c2 = await store.claim('ep-b', 2000, 'tb2');
    expect(c2.kind).toBe('deliver');
    expect(await store.begin('b1', 'tb2')).toBe(true);
    expect(await store.begin('b1', 'tb2')).toBe(false);
    expect(
      await store.settle({
        id: 'b1',
        endpoint: 'ep-b',
        token: 'tb2',
        state: 'queued',
        now: 2000,
        onlyIfNotBegun: true,
      }),
    ).toBe(-1);
  });

  it('expires queued requests past their TTL, and never hands out a cancelled one', async () => {
    await add('c1', 'ep-c', 1000, 500);
    await add('c2', 'ep-c', 1000, 60_000);
    await add('c3', 'ep-c', 1000, 60_000);
    expect(await store.cancel('c2', 1200)).toEqual({ cancelled: true, state: 'cancelled' });
    expect(await store.sweepExpired(1600)).toEqual([{ id: 'c1', endpoint: 'ep-c' }]);
    expect((await store.get('c1'))?.state).toBe('expired');
    const c = await store.claim('ep-c', 1700, 'tc');
    expect(c.kind === 'deliver' && c.id).toBe('c3');
    expect(await store.cancel('c3', 1700)).toEqual({ cancelled: false, state: 'delivering' });
    expect((await store.listPending('ep-c')).map((r) => r.id)).toEqual(['c3']);
  });
});
