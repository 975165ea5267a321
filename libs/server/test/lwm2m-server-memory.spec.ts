// The server over the real in-memory stores (src/memory): the same ports the Redis registry implements.
import { CoapCode, formatCode } from '@lwm2m/coap';
import { afterEach, describe, expect, it } from 'vitest';
import { createInMemoryStores } from '../src/memory';
import { answerRead } from './device';
import { createHarness, type Harness, locationOf } from './harness';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
});

describe('Lwm2mServer over the in-memory stores', () => {
  it('registers, reads, observes, de-registers and expires a device', async () => {
    const stores = createInMemoryStores();
    h = createHarness({ ...stores, expiryPollMs: 100 });
    h.server.start();
    h.on((req) => answerRead(req));
    const res = await h.register(['ep=mem', 'lwm2m=1.0', 'lt=60']);
    expect(formatCode(res.code)).toBe('2.01');
    const id = locationOf(res)[1];
    expect((await stores.registrations.getById(id))?.endpoint).toBe('mem');

    const read = await h.server.runCommand({
      id: 'r',
      endpoint: 'mem',
      op: 'read',
      path: '/3/0',
      timeoutMs: 1000,
      createdAt: 0,
    });
    expect(read).toMatchObject({ ok: true, status: 200 });
    expect((await stores.values.get('mem')).length).toBeGreaterThan(0);

    const obs = await h.server.runCommand({
      id: 'o',
      endpoint: 'mem',
      op: 'observe',
      path: '/3/0/9',
      timeoutMs: 1000,
      createdAt: 0,
    });
    expect(await stores.observations.listByEndpoint('mem')).toHaveLength(1);
    expect(obs.observationId).toBeDefined();

    expect(formatCode((await h.request(CoapCode.DELETE, `/rd/${id}`)).code)).toBe('2.02');
    expect(await stores.observations.listByEndpoint('mem')).toHaveLength(0);

    const short = await h.register(['ep=mem2', 'lt=1']);
    expect(formatCode(short.code)).toBe('2.01');
    const deadline = Date.now() + 2500;
    while (Date.now() < deadline && (await stores.registrations.getByEndpoint('mem2')) !== undefined) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await stores.registrations.getByEndpoint('mem2')).toBeUndefined();
    const types = (await stores.events.recent(20)).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['registered', 'response', 'deregistered', 'expired']));
  });
});
