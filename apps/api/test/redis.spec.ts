// The api over the Redis ports (libs/registry) and a real redis-server: the wiring main.ts uses.
import { createRedisStores, type RedisStores } from '@lwm2m/registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisHandle, startRedis } from '../../../test/support/redis';
import { registration } from './fakes';
import { readSse, startApi, type TestApi } from './harness';

let redis: RedisHandle;
let stores: RedisStores;
let api: TestApi;
let stopServing: () => Promise<void>;

beforeAll(async () => {
  redis = await startRedis();
  stores = createRedisStores(redis.url);
  stores.redis.on('error', () => undefined); // the last test stops Redis on purpose
  api = await startApi({ ...stores, ping: () => stores.redis.ping() });
  // The gateway side of the command bus, as a device that knows its manufacturer.
  stopServing = await stores.commands.serve(async (cmd) =>
    cmd.op === 'read' && cmd.path === '/3/0/0'
      ? {
          id: cmd.id,
          ok: true,
          status: 200,
          contentFormat: 110,
          values: [{ path: '/3/0/0', type: 'string', value: 'ACME' }],
        }
      : { id: cmd.id, ok: false, status: 404, coapCode: '4.04' },
  );
});

afterAll(async () => {
  // Redis is already gone (last test): drop the connection first so nothing waits on it.
  stores?.redis.disconnect();
  await Promise.race([stopServing?.(), new Promise((r) => setTimeout(r, 1000))]);
  await api?.close();
  await redis?.stop();
});

describe('api over Redis', () => {
  it('lists a registration stored in Redis', async () => {
    await stores.registrations.register(registration('redis-dev', { expiresAt: Date.now() + 300_000 }));
    const r = await api.call('GET', '/api/v1/devices?q=redis');
    expect(r.status).toBe(200);
    expect(r.body.items.map((d: { endpoint: string }) => d.endpoint)).toEqual(['redis-dev']);
  });

  it('reads through the Redis command bus and maps a 4.04 from the device', async () => {
    const ok = await api.call('GET', '/api/v1/devices/redis-dev/data/3/0/0');
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({
      path: '/3/0/0',
      values: [{ path: '/3/0/0', type: 'string', value: 'ACME', name: 'Manufacturer' }],
      contentFormat: 110,
    });
    const missing = await api.call('GET', '/api/v1/devices/redis-dev/data/3/0/99');
    expect(missing.status).toBe(404);
    expect(missing.body.coapCode).toBe('4.04');
  });

  it('streams events from the Redis stream over SSE and resumes after an id', async () => {
    const first = await stores.events.publish({
      type: 'send',
      endpoint: 'redis-dev',
      values: [{ path: '/3303/0/5700', type: 'float', value: 1 }],
    });
    await stores.events.publish({
      type: 'send',
      endpoint: 'redis-dev',
      values: [{ path: '/3303/0/5700', type: 'float', value: 2 }],
    });
    const controller = new AbortController();
    const res = await fetch(`${api.base}/api/v1/events?endpoint=redis-dev`, {
      headers: { 'Last-Event-ID': first },
      signal: controller.signal,
    });
    const { messages } = await readSse(res, (m) => m.length >= 1);
    controller.abort();
    expect(messages[0].event).toBe('send');
    expect(JSON.parse(messages[0].data).values[0].value).toBe(2);
  });

  it('is ready while Redis answers and not ready once it is gone', async () => {
    expect((await api.call('GET', '/readyz')).status).toBe(200);
    await redis.stop();
    const r = await api.call('GET', '/readyz');
    expect(r.status).toBe(503);
    expect(r.body.checks.backend.status).toBe('down');
    expect((await api.call('GET', '/healthz')).status).toBe(200);
  });
});
