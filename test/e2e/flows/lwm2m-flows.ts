// Issue 3 acceptance: a simulated device and an operator, through the whole product (gateway + api +
// a real redis-server), for every content format the simulator speaks and every LwM2M version. Run by
// lwm2m-flow.spec.ts on Redis and by memory-mode.spec.ts on the in-memory node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContentFormat } from '@lwm2m/lwm2m';
import { SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { openSse } from '../../support/sse';
import type { TestServer } from '../../support/single-node';

type Values = {
  path: string;
  values: Array<{ path: string; value: unknown; type: string }>;
  contentFormat: number;
};

const COMBOS = [
  { version: '1.0', format: ContentFormat.TLV, name: 'TLV' },
  { version: '1.1', format: ContentFormat.SENML_JSON, name: 'SenML JSON' },
  { version: '1.1', format: ContentFormat.SENML_CBOR, name: 'SenML CBOR' },
  { version: '1.2', format: ContentFormat.LWM2M_CBOR, name: 'LwM2M CBOR' },
  { version: '1.2', format: ContentFormat.TLV, name: 'TLV' },
] as const;

/** Registers every flow of this file on the server `start` gives (one for the whole file). */
export function describeLwm2mFlows(start: () => Promise<TestServer<unknown>>): void {
  let server: TestServer<unknown>;

  beforeAll(async () => {
    server = await start();
  });

  afterAll(async () => {
    await server?.stop();
  });

  async function device(
    endpoint: string,
    opts: Partial<ConstructorParameters<typeof SimulatedDevice>[0]> = {},
  ) {
    const transport = await UdpTransport.bind({ port: 0 });
    return new SimulatedDevice({
      endpoint,
      transport,
      server: { address: '127.0.0.1', port: server.coapPort },
      lifetime: 60,
      sensorIntervalMs: 100,
      observeTickMs: 50,
      updateAt: 0,
      ...opts,
    });
  }

  describe.each(COMBOS)('LwM2M $version device speaking $name', ({ version, format }) => {
    const ep = `sim-${version}-${format}`;
    let dev: SimulatedDevice;

    beforeAll(async () => {
      dev = await device(ep, { lwm2mVersion: version, contentFormat: format, declaredFormats: [format] });
      await dev.start(); // registers and starts the temperature's random walk
    });

    afterAll(async () => {
      await dev.close();
    });

    it('is listed by GET /api/v1/devices after it registers', async () => {
      const res = await server.api<{ items: Array<{ endpoint: string; lwm2mVersion: string }> }>(
        'GET',
        `/api/v1/devices?q=${encodeURIComponent(ep)}`,
      );
      expect(res.status).toBe(200);
      expect(res.body.items.map((i) => [i.endpoint, i.lwm2mVersion])).toEqual([[ep, version]]);
    });

    it('reads /3/0 with the manufacturer, in the format the device declared', async () => {
      const res = await server.api<Values>('GET', `/api/v1/devices/${ep}/data/3/0`);
      expect(res.status).toBe(200);
      expect(res.body.contentFormat).toBe(format);
      expect(res.body.values.find((v) => v.path === '/3/0/0')?.value).toBe('Open Mobile Alliance');
    });

    it('writes then reads back the same value', async () => {
      const put = await server.api('PUT', `/api/v1/devices/${ep}/data/3/0/15`, { value: 'Europe/Berlin' });
      expect(put.status).toBe(204);
      const res = await server.api<Values>('GET', `/api/v1/devices/${ep}/data/3/0/15`);
      // The name comes from the object model (Device, object 3).
      expect(res.body.values).toEqual([
        { path: '/3/0/15', value: 'Europe/Berlin', type: 'string', name: 'Timezone' },
      ]);
    });

    it('executes /3/0/4 (reboot) on the device', async () => {
      const before = dev.executions.length;
      const res = await server.api('POST', `/api/v1/devices/${ep}/data/3/0/4/execute`, {});
      expect(res.status).toBe(204);
      expect(dev.executions.slice(before).map((e) => e.path)).toEqual(['/3/0/4']);
    });

    it('streams at least 3 notifications of /3303/0/5700 on the SSE stream', async () => {
      const sse = await openSse(`${server.http}/api/v1/events?endpoint=${ep}`);
      try {
        const obs = await server.api<{ id: string }>('POST', `/api/v1/devices/${ep}/observations`, {
          paths: ['/3303/0/5700'],
        });
        expect(obs.status).toBe(201);
        const notes = await sse.waitFor((e) => e.event === 'notification', 3);
        for (const n of notes) {
          const data = JSON.parse(n.data) as {
            endpoint: string;
            values: Array<{ path: string; value: unknown }>;
          };
          expect(data.endpoint).toBe(ep);
          expect(data.values[0].path).toBe('/3303/0/5700');
          expect(typeof data.values[0].value).toBe('number');
        }
        const list = await server.api<{ items: Array<{ id: string }> }>(
          'GET',
          `/api/v1/devices/${ep}/observations`,
        );
        expect(list.body.items.map((o) => o.id)).toContain(obs.body.id);
        const values = await server.api<{ items: Array<{ path: string }> }>(
          'GET',
          `/api/v1/devices/${ep}/values`,
        );
        expect(values.body.items.map((v) => v.path)).toContain('/3303/0/5700');
        expect((await server.api('DELETE', `/api/v1/devices/${ep}/observations/${obs.body.id}`)).status).toBe(
          204,
        );
      } finally {
        sse.close();
      }
    });

    it('takes an Update with a new lifetime, then a De-register', async () => {
      await dev.update({ lifetime: 120 });
      const res = await server.api<{ lifetime: number }>('GET', `/api/v1/devices/${ep}`);
      expect(res.body.lifetime).toBe(120);
      await dev.deregister();
      expect((await server.api('GET', `/api/v1/devices/${ep}`)).status).toBe(404);
    });
  });

  describe('lifetime expiry', () => {
    it('removes a registration whose lifetime passed, and says so on the event stream', async () => {
      const ep = 'sim-expiring';
      const sse = await openSse(`${server.http}/api/v1/events?endpoint=${ep}`);
      const dev = await device(ep, { lifetime: 1 });
      try {
        await dev.register();
        expect((await server.api('GET', `/api/v1/devices/${ep}`)).status).toBe(200);
        const [expired] = await sse.waitFor((e) => e.event === 'expired', 1, 5000);
        expect(JSON.parse(expired.data)).toMatchObject({ type: 'expired', endpoint: ep });
        expect((await server.api('GET', `/api/v1/devices/${ep}`)).status).toBe(404);
      } finally {
        sse.close();
        await dev.close();
      }
    });
  });

  describe('errors an operator sees', () => {
    it('gives 404 problem+json for an unknown device and 400 for an invalid path', async () => {
      const unknown = await server.api<{ status: number; title: string }>(
        'GET',
        '/api/v1/devices/nobody/data/3/0',
      );
      expect(unknown.status).toBe(404);
      expect(unknown.headers.get('content-type')).toMatch(/application\/problem\+json/);
      const bad = await server.api('GET', '/api/v1/devices/nobody/data/3/x');
      expect(bad.status).toBe(400);
    });

    it('gives 404 when the device answers 4.04 and 504 when it does not answer', async () => {
      const ep = 'sim-silent';
      const dev = await device(ep);
      await dev.register();
      try {
        const missing = await server.api('GET', `/api/v1/devices/${ep}/data/3/0/999`);
        expect(missing.status).toBe(404);
        await dev.close(); // vanishes without de-registering
        const silent = await server.api('GET', `/api/v1/devices/${ep}/data/3/0/0?timeout=1500ms`);
        expect(silent.status).toBe(504);
      } finally {
        await dev.close();
      }
    });
  });
}
