// Campaigns on object 9 (Software Management, 9.xml) with the simulator's own object 9: pull writes /9/0/3
// and the devices fetch the image from the gateway (Block2), push writes /9/0/2 block-wise; the campaign
// follows /9/0/7 Update State and /9/0/9 Update Result, executes Install /9/0/4 on DELIVERED, counts
// INSTALLED as succeeded and, with `activate`, executes Activate /9/0/10. A cancel resets the downloads.
import { randomBytes } from 'node:crypto';
import type { FirmwareImage } from '@lwm2m/firmware';
import { SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateSchedulerConfig } from '@lwm2m/scheduler';
import { startTestServer, type TestServer } from '../support/single-node';
import { allRuns, type CampaignBody, until } from './support';

describe('campaigns on object 9 (Software Management) end to end', () => {
  let server: TestServer;
  let image: FirmwareImage;
  const devices = new Map<string, SimulatedDevice>();

  const addDevice = async (
    endpoint: string,
    software: { bytesPerSecond?: number; failureRate?: number; updateMs?: number },
  ) => {
    const d = new SimulatedDevice({
      endpoint,
      transport: await UdpTransport.bind({ address: '127.0.0.1', port: 0 }),
      server: { address: '127.0.0.1', port: server.coapPort },
      sensorIntervalMs: 0,
      updateAt: 0,
      observeTickMs: 100,
      requestTimeoutMs: 5000,
      software: { updateMs: 100, ...software },
    });
    await d.start();
    devices.set(endpoint, d);
  };
  const executed = (ep: string) => devices.get(ep)!.executions.map((e) => e.path);
  const ended = (id: string) =>
    until(
      'the campaign to end',
      async () => {
        const r = await server.api<CampaignBody>('GET', `/api/v1/campaigns/${id}`);
        return r.body.endedAt ? r.body : undefined;
      },
      60_000,
      300,
    );

  beforeAll(async () => {
    server = await startTestServer({
      scheduler: validateSchedulerConfig({ CAMPAIGN_TICK_MS: '300', CAMPAIGN_COMMAND_TIMEOUT_MS: '5000' }),
    });
    const res = await fetch(`${server.http}/api/v1/firmware?name=app&version=1.2.0`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: randomBytes(24 * 1024 + 5),
    });
    expect(res.status).toBe(201);
    image = (await res.json()) as FirmwareImage;
    for (let i = 1; i <= 3; i++) await addDevice(`sw-pull-${i}`, i === 3 ? { failureRate: 1 } : {});
    for (let i = 1; i <= 2; i++) await addDevice(`sw-push-${i}`, {});
    for (let i = 1; i <= 2; i++) await addDevice(`sw-cancel-${i}`, { bytesPerSecond: 2048 });
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled([...devices.values()].map((d) => d.close()));
    await server?.stop();
  });

  it('pull with activate: installed and activated; an Install failure (58) ends failed', async () => {
    const created = await server.api<CampaignBody & { object: number; activate: boolean }>(
      'POST',
      '/api/v1/campaigns',
      {
        target: { filter: { q: 'sw-pull-' } },
        imageId: image.id,
        mode: 'pull',
        packageUri: `coap://127.0.0.1:${server.coapPort}/fw/${image.id}`,
        object: 9,
        activate: true,
        policy: { maxConcurrent: 3, maxAttempts: 1, deviceTimeoutS: 60 },
      },
    );
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ object: 9, softwareInstance: 0, activate: true });
    const done = await ended(created.body.id);
    expect(done.state).toBe('completed');
    expect(done.counts).toMatchObject({ succeeded: 2, failed: 1 });
    const runs = await allRuns(server.api.bind(server), created.body.id);
    expect(runs.find((r) => r.endpoint === 'sw-pull-3')).toMatchObject({ state: 'failed', resultCode: 58 });
    for (const ep of ['sw-pull-1', 'sw-pull-2']) {
      const sw = devices.get(ep)!.software!;
      expect(sw.state, ep).toBe(4);
      expect(sw.result, ep).toBe(2);
      expect(sw.lastPackage?.sha256, ep).toBe(image.sha256);
      await until(`${ep} active`, async () => (sw.active ? true : undefined), 10_000, 100);
      expect(executed(ep), ep).toEqual(['/9/0/4', '/9/0/10']);
    }
    // The failed one was never activated.
    expect(executed('sw-pull-3')).toEqual(['/9/0/4']);
    expect(devices.get('sw-pull-3')!.software!.active).toBe(false);
  }, 90_000);

  it('push: the image written to /9/0/2 block-wise, installed, not activated', async () => {
    const created = await server.api<CampaignBody>('POST', '/api/v1/campaigns', {
      target: { endpoints: ['sw-push-1', 'sw-push-2'] },
      imageId: image.id,
      mode: 'push',
      object: 9,
      policy: { maxConcurrent: 2, maxAttempts: 1, deviceTimeoutS: 60 },
    });
    expect(created.status).toBe(201);
    const done = await ended(created.body.id);
    expect(done.state).toBe('completed');
    expect(done.counts.succeeded).toBe(2);
    for (const ep of ['sw-push-1', 'sw-push-2']) {
      const sw = devices.get(ep)!.software!;
      expect(sw.state, ep).toBe(4);
      expect(sw.lastPackage, ep).toMatchObject({ sha256: image.sha256, mode: 'push' });
      expect(sw.active, ep).toBe(false);
      expect(executed(ep), ep).toEqual(['/9/0/4']);
    }
  }, 90_000);

  it('a cancel mid-download resets object 9 (INITIAL, result 0), nothing installed', async () => {
    const eps = ['sw-cancel-1', 'sw-cancel-2'];
    const created = await server.api<CampaignBody>('POST', '/api/v1/campaigns', {
      target: { endpoints: eps },
      imageId: image.id,
      mode: 'pull',
      packageUri: `coap://127.0.0.1:${server.coapPort}/fw/${image.id}`,
      object: 9,
      policy: { maxConcurrent: 2, maxAttempts: 1, deviceTimeoutS: 60 },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    await until('both downloading', async () => {
      const runs = await allRuns(server.api.bind(server), id);
      return runs.filter((r) => r.state === 'downloading').length === 2 ? true : undefined;
    });
    expect((await server.api('POST', `/api/v1/campaigns/${id}/cancel`)).status).toBe(200);
    const done = await ended(id);
    expect(done.state).toBe('cancelled');
    expect(done.counts.cancelled).toBe(2);
    for (const ep of eps) {
      const sw = devices.get(ep)!.software!;
      await until(`${ep} INITIAL`, async () => (sw.state === 0 ? true : undefined), 10_000, 100);
      expect(sw.result, ep).toBe(0);
      expect(sw.lastPackage, ep).toBeUndefined();
      expect(executed(ep), ep).toEqual([]);
    }
  }, 90_000);

  it('a device whose instance is INSTALLED already ends failed, nothing written (Uninstall first)', async () => {
    // sw-push-2 installed the image in the push test.
    const before = devices.get('sw-push-2')!.writes.length;
    const created = await server.api<CampaignBody>('POST', '/api/v1/campaigns', {
      target: { endpoints: ['sw-push-2'] },
      imageId: image.id,
      mode: 'pull',
      packageUri: `coap://127.0.0.1:${server.coapPort}/fw/${image.id}`,
      object: 9,
      policy: { maxAttempts: 3 },
    });
    expect(created.status).toBe(201);
    const done = await ended(created.body.id);
    expect(done.counts.failed).toBe(1);
    const [run] = await allRuns(server.api.bind(server), created.body.id);
    expect(run).toMatchObject({ state: 'failed', attempts: 1 });
    expect((run as { error?: string }).error).toMatch(/INSTALLED: Uninstall/);
    expect(devices.get('sw-push-2')!.writes.length).toBe(before);
  }, 60_000);

  it('refuses object 9 options on object 5, and an object that is neither', async () => {
    const base = { target: { endpoints: ['sw-push-1'] }, imageId: image.id, mode: 'push' };
    for (const [body, field] of [
      [{ ...base, softwareInstance: 1 }, /object 9/],
      [{ ...base, object: 5, activate: true }, /object 9/],
      [{ ...base, object: 7 }, /object/],
      [{ ...base, object: 9, softwareInstance: -1 }, /softwareInstance/],
      [{ ...base, object: 9, activate: 'yes' }, /activate/],
    ] as const) {
      const r = await server.api<{ detail?: string; errors?: unknown }>('POST', '/api/v1/campaigns', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(JSON.stringify(r.body)).toMatch(field);
    }
  });
});
