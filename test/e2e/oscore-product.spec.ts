// LwM2M over OSCORE on the product as `npm start` wires it (api, gateway and scheduler in one process on a
// private redis-server): the operator provisions {oscore} through the REST api, the simulated device
// registers over OSCORE on 5683, and a REST read reaches it protected. The Master Secret never comes back
// and is not in Redis in any encoding.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { startTestServer, type TestServer } from '../support/single-node';

const SECRET = randomBytes(16);
let server: TestServer;
let device: SimulatedDevice | undefined;

beforeAll(async () => {
  server = await startTestServer();
}, 30_000);

afterAll(async () => {
  await device?.close();
  await server?.stop();
});

describe('OSCORE through the product', () => {
  it('provisions through the api, registers over OSCORE, and serves a REST read protected', async () => {
    const put = await server.api('PUT', '/api/v1/devices/osc-prod/credentials', {
      oscore: { masterSecret: SECRET.toString('hex'), senderId: '01', recipientId: '5a' },
    });
    expect(put.status).toBe(201);
    expect(JSON.stringify(put.body)).not.toContain(SECRET.toString('hex'));

    device = new SimulatedDevice({
      endpoint: 'osc-prod',
      transport: await UdpTransport.bind({ port: 0, address: '127.0.0.1' }),
      server: { address: '127.0.0.1', port: server.coapPort },
      lifetime: 60,
      updateAt: 0,
      requestTimeoutMs: 5000,
      oscore: {
        masterSecret: SECRET,
        senderId: Buffer.from('5a', 'hex'),
        recipientId: Buffer.from('01', 'hex'),
      },
    });
    await device.start();
    const reg = await server.api<{ security: string }>('GET', '/api/v1/devices/osc-prod');
    expect(reg.body).toMatchObject({ security: 'oscore' });

    const read = await server.api<{ values: Array<{ value: unknown }> }>(
      'GET',
      '/api/v1/devices/osc-prod/data/3/0/0',
    );
    expect(read.status).toBe(200);
    expect(JSON.stringify(read.body)).toContain('Open Mobile Alliance');
    expect(device.oscore!.seam.counters.requests.ok).toBeGreaterThanOrEqual(1);

    const got = await server.api('GET', '/api/v1/devices/osc-prod/credentials');
    expect(got.body).toEqual({ type: 'oscore', oscore: { senderId: '01', recipientId: '5a', keySet: true } });

    // Sealed at rest: no key of Redis holds the Master Secret in hex, base64 or raw bytes.
    const raw = new Redis(server.redis.url);
    try {
      const forms = [SECRET.toString('hex'), SECRET.toString('base64')].map((f) => Buffer.from(f));
      forms.push(SECRET);
      for (const key of await raw.keys('*')) {
        const dump = await raw.dumpBuffer(key);
        for (const f of forms) expect(dump?.includes(f) ?? false).toBe(false);
      }
    } finally {
      raw.disconnect();
    }
  }, 30_000);
});
