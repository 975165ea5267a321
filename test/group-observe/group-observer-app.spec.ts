// apps/group-observer end to end with a real redis-server: topics published over REST, observed at
// /ps/{name} over CoAP, and a restart of the service that keeps the group observation and its T; then
// the Redis pub/sub leg in place of IP multicast.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoapEndpoint } from '@lwm2m/coap';
import { GroupObserveClient, type GroupNotification } from '@lwm2m/group-observe';
import { RedisMulticastLeg } from '@lwm2m/registry';
import { UdpTransport } from '@lwm2m/udp';
import Redis from 'ioredis';
import { validateGroupObserverConfig } from '../../apps/group-observer/src/config';
import {
  createGroupObserverApp,
  type GroupObserverApp,
} from '../../apps/group-observer/src/create-group-observer-app';
import { startRedis, type RedisHandle } from '../support/redis';
import { groupSniffer, LOOPBACK, startClient, testGroup, until, type TestClient } from './support';

const GROUP = testGroup(8);

async function http(app: GroupObserverApp, method: string, path: string, body?: unknown) {
  const { port } = app.app.getHttpServer().address() as { port: number };
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown> & Record<string, unknown>[],
  };
}

describe('apps/group-observer', () => {
  let redis: RedisHandle;
  let app: GroupObserverApp | undefined;
  let client: TestClient;
  const seen: GroupNotification[] = [];
  let token = '';

  const env = (extra: Record<string, string> = {}) =>
    validateGroupObserverConfig({
      REDIS_URL: redis.url,
      COAP_HOST: LOOPBACK,
      COAP_PORT: '0',
      MULTICAST_GROUP_ADDR: GROUP.address,
      MULTICAST_GROUP_PORT: String(GROUP.port),
      MULTICAST_INTERFACE: LOOPBACK,
      MULTICAST_MIN_INTERVAL_MS: '0',
      ...extra,
    });

  beforeAll(async () => {
    redis = await startRedis();
    client = await startClient();
  });
  afterAll(async () => {
    await client.close();
    await app?.close();
    await redis.stop();
  });

  it('validates its configuration, with the defaults of the issue', () => {
    const d = validateGroupObserverConfig({});
    expect(d).toMatchObject({
      MULTICAST_GROUP_PORT: 5683,
      GROUP_OBSERVE_THRESHOLD: 1,
      MULTICAST_MIN_INTERVAL_MS: 3000,
      GROUP_OBSERVE_LEG: 'ip',
    });
    expect(d.MULTICAST_GROUP_ADDR).toMatch(/^239\.255\.\d+\.\d+$/);
    expect(() => validateGroupObserverConfig({ MULTICAST_GROUP_ADDR: '10.0.0.1' })).toThrow(/multicast/);
    expect(() => validateGroupObserverConfig({ GROUP_OBSERVE_THRESHOLD: '0' })).toThrow(/THRESHOLD/);
  });

  it('publishes over REST and serves /ps/{name} as a group observation', async () => {
    app = await createGroupObserverApp(env(), { logger: false });
    await app.app.listen(0, LOOPBACK);
    const put = await http(app, 'PUT', '/api/v1/topics/temp', { value: '20.5', contentFormat: 0 });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ name: 'temp', uri: '/ps/temp', groupObservation: null });
    expect((await http(app, 'PUT', '/api/v1/topics/temp', { value: {}, contentFormat: 0 })).status).toBe(400);
    expect((await http(app, 'PUT', '/api/v1/topics/bad name', { value: 1 })).status).toBe(400);
    expect((await http(app, 'GET', '/api/v1/topics/nope')).status).toBe(404);

    const h = await client.client.observe(app.coap, '/ps/temp', { onNotification: (n) => seen.push(n) });
    expect(h.mode).toBe('group');
    token = h.token!.toString('hex');
    const list = await http(app, 'GET', '/api/v1/topics');
    expect(list.body).toHaveLength(1);
    expect(list.body[0]).toMatchObject({
      name: 'temp',
      groupObservation: {
        token,
        group: GROUP,
        observers: 1,
        lastNotification: {
          sent: false,
          code: '2.05',
          contentFormat: 0,
          payload: Buffer.from('20.5').toString('base64'),
        },
      },
    });
  });

  it('serves /metrics on its HTTP port with the group observations and the CoAP counters', async () => {
    const { port } = app!.app.getHttpServer().address() as { port: number };
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('group_observations')).toBe(1);
    expect(value('group_observe_observers')).toBe(1);
    expect(value('group_observer_topics')).toBe(1);
    expect(value('group_observations_started_total')).toBe(1);
    expect(value('group_observe_registrations_total')).toBeGreaterThanOrEqual(1);
    expect(value('coap_datagrams_received_total')).toBeGreaterThanOrEqual(1);
    expect(value('process_cpu_user_seconds_total')).toBeGreaterThan(0);
  });

  it('keeps the group observation and T across a restart; the listening client gets the next change', async () => {
    const port = app!.coap.port;
    await app!.close();
    app = await createGroupObserverApp(env({ COAP_PORT: String(port) }), { logger: false });
    await app.app.listen(0, LOOPBACK);
    const got = await http(app, 'GET', '/api/v1/topics/temp');
    expect(got.body).toMatchObject({ value: '20.5', groupObservation: { token, observers: 1 } });
    await http(app, 'PUT', '/api/v1/topics/temp', { value: '21.0', contentFormat: 0 });
    await until(() => seen.length === 2, 'the notification after the restart');
    expect(seen[1]).toMatchObject({ source: 'multicast' });
    expect(seen[1].token.toString('hex')).toBe(token);
    expect(seen[1].payload.toString()).toBe('21.0');
    expect(seen[1].observe).toBeGreaterThan(seen[0].observe!);
    const after = await http(app, 'GET', '/api/v1/topics/temp');
    expect(after.body).toMatchObject({ groupObservation: { lastNotification: { sent: true } } });
  });

  it('carries notifications over the Redis pub/sub leg when GROUP_OBSERVE_LEG=redis', async () => {
    await app!.close();
    app = await createGroupObserverApp(env({ GROUP_OBSERVE_LEG: 'redis' }), { logger: false });
    await app.app.listen(0, LOOPBACK);
    await http(app, 'PUT', '/api/v1/topics/door', { value: { open: false }, contentFormat: 50 });
    const conn = new Redis(redis.url);
    const leg = new RedisMulticastLeg(conn);
    const endpoint = new CoapEndpoint({ transport: await UdpTransport.bind({ address: LOOPBACK }) });
    const viaRedis = new GroupObserveClient({ endpoint, receiver: leg });
    const sniffer = await groupSniffer(GROUP);
    const got: GroupNotification[] = [];
    try {
      const h = await viaRedis.observe(app.coap, '/ps/door', { onNotification: (n) => got.push(n) });
      expect(h.mode).toBe('group');
      await http(app, 'PUT', '/api/v1/topics/door', { value: { open: true }, contentFormat: 50 });
      await until(() => got.length === 2, 'the notification through Redis');
      expect(JSON.parse(got[1].payload.toString())).toEqual({ open: true });
      expect(got[1].source).toBe('multicast');
      expect(sniffer.messages).toHaveLength(0);
      expect(app.observer.server.stats.multicastDatagrams).toBe(1);
    } finally {
      await sniffer.close();
      await viaRedis.close();
      await endpoint.close();
      await leg.close();
      await conn.quit();
    }
  });
});
