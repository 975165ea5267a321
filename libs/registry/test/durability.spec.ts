// With a persisting Redis (appendonly yes), registrations and observations survive a Redis restart, and
// the stores carry on over the same client once ioredis has reconnected.
import { createRedisStores, type RedisStores } from '@lwm2m/registry';
import type { StoredEvent } from '@lwm2m/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeObservation, makeRegistration } from '../../server/test/contracts';
import { type RedisHandle, startRedis } from '../../../test/support/redis';

let server: RedisHandle;
let stores: RedisStores;
beforeAll(async () => {
  server = await startRedis({ appendonly: true });
  stores = createRedisStores(server.url, { keyPrefix: 'dur:', events: { blockMs: 500 } });
});
afterAll(async () => {
  await stores?.close();
  await server?.stop();
});

describe('Redis restart with persistence', () => {
  it('keeps registrations, observations, values and events, and the same clients keep working', async () => {
    const reg = makeRegistration('urn:durable:1');
    await stores.registrations.register(reg);
    const obs = makeObservation(reg);
    await stores.observations.add(obs);
    await stores.values.put(reg.endpoint, [{ path: '/3/0/0', type: 'string', value: 'ACME' }], 1);
    const before = await stores.events.publish({
      type: 'registered',
      endpoint: reg.endpoint,
      registration: reg,
    });

    const ac = new AbortController();
    const seen: StoredEvent[] = [];
    const reading = (async () => {
      for await (const e of stores.events.subscribe({ afterId: before, signal: ac.signal })) {
        seen.push(e);
        break;
      }
    })();

    await server.restart();

    expect(await stores.registrations.getByEndpoint(reg.endpoint)).toEqual(reg);
    expect(await stores.registrations.getById(reg.registrationId)).toEqual(reg);
    expect(await stores.observations.getByToken(obs.token)).toEqual(obs);
    expect(await stores.values.get(reg.endpoint)).toEqual([
      { path: '/3/0/0', type: 'string', value: 'ACME', receivedAt: 1, changedAt: 1 },
    ]);
    expect((await stores.registrations.list({ limit: 10 })).items).toEqual([reg]);
    expect(await stores.registrations.update(reg.registrationId, { lifetime: 60 })).toMatchObject({
      lifetime: 60,
    });

    await stores.events.publish({ type: 'deregistered', endpoint: reg.endpoint, registrationId: 'x' });
    const timer = setTimeout(() => ac.abort(), 5000);
    await reading;
    clearTimeout(timer);
    expect(seen.map((e) => e.type)).toEqual(['deregistered']);
    expect((await stores.events.recent(2)).map((e) => e.id)[0]).toBe(before);
  });
});
