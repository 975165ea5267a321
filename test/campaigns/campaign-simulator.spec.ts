// Campaigns with the simulator's own object 5 (libs/simulator firmware-object): the devices really fetch the
// image from the gateway's /fw/<id> over CoAP Block2 (pull), or receive it block-wise on /5/0/0 (push, the
// firmware-push command), hash it, and report State and Update Result; the campaign follows them to the end.
import { randomBytes } from 'node:crypto';
import type { FirmwareImage } from '@lwm2m/firmware';
import { SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateSchedulerConfig } from '@lwm2m/scheduler';
import { startTestServer, type TestServer } from '../support/single-node';
import { openSse } from '../support/sse';
import { allRuns, type CampaignBody, FINAL, sumOf, until } from './support';

describe('campaigns updating simulated devices end to end', () => {
  let server: TestServer;
  let image: FirmwareImage;
  const devices = new Map<string, SimulatedDevice>();

  beforeAll(async () => {
    server = await startTestServer({
      scheduler: validateSchedulerConfig({ CAMPAIGN_TICK_MS: '300', CAMPAIGN_COMMAND_TIMEOUT_MS: '5000' }),
    });
    const res = await fetch(`${server.http}/api/v1/firmware?name=sim&version=3.0.0`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: randomBytes(8 * 1024 + 77),
    });
    expect(res.status).toBe(201);
    image = (await res.json()) as FirmwareImage;
    for (const prefix of ['pull', 'push']) {
      for (let i = 1; i <= 6; i++) {
        const d = new SimulatedDevice({
          endpoint: `sim-${prefix}-${i}`,
          transport: await UdpTransport.bind({ address: '127.0.0.1', port: 0 }),
          server: { address: '127.0.0.1', port: server.coapPort },
          sensorIntervalMs: 0,
          updateAt: 0,
          observeTickMs: 100,
          requestTimeoutMs: 5000,
          // Device 6 of each mode fails its update (Update Result 8).
          firmware: { updateMs: 100, ...(i === 6 ? { failureRate: 1, failureResult: 8 } : {}) },
        });
        await d.start();
        devices.set(`sim-${prefix}-${i}`, d);
      }
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled([...devices.values()].map((d) => d.close()));
    await server?.stop();
  });

  for (const mode of ['pull', 'push'] as const) {
    it(`${mode}: every device gets the image (its hash checked) and installs it, the failing one ends failed`, async () => {
      const created = await server.api<CampaignBody>('POST', '/api/v1/campaigns', {
        target: { filter: { q: `sim-${mode}-` } },
        imageId: image.id,
        mode,
        ...(mode === 'pull' ? { packageUri: `coap://127.0.0.1:${server.coapPort}/fw/${image.id}` } : {}),
        policy: { maxConcurrent: 3, deviceTimeoutS: 30, maxAttempts: 1 },
      });
      expect(created.status).toBe(201);
      const done = await until(
        'the campaign to end',
        async () => {
          const r = await server.api<CampaignBody>('GET', `/api/v1/campaigns/${created.body.id}`);
          return r.body.endedAt ? r.body : undefined;
        },
        60_000,
        300,
      );
      expect(done.state).toBe('completed');
      expect(sumOf(done.counts, FINAL)).toBe(6);
      expect(done.counts.succeeded).toBe(5);
      expect(done.counts.failed).toBe(1);
      const runs = await allRuns(server.api.bind(server), created.body.id);
      expect(runs.find((r) => r.state === 'failed')).toMatchObject({
        endpoint: `sim-${mode}-6`,
        resultCode: 8,
      });
      for (let i = 1; i <= 6; i++) {
        const ep = `sim-${mode}-${i}`;
        expect(devices.get(ep)!.firmware!.lastPackage?.sha256, ep).toBe(image.sha256);
      }
    }, 90_000);
  }

  it('streams its progress on SSE (?campaign=) and starts nothing before its window opens', async () => {
    const opensAt = Date.now() + 1500;
    const created = await server.api<CampaignBody>('POST', '/api/v1/campaigns', {
      target: { filter: { q: 'sim-pull-' } },
      imageId: image.id,
      mode: 'pull',
      packageUri: `coap://127.0.0.1:${server.coapPort}/fw/${image.id}`,
      policy: { maxConcurrent: 6, maxAttempts: 1 },
      window: { start: new Date(opensAt).toISOString() },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const sse = await openSse(`${server.http}/api/v1/events?campaign=${id}`);
    try {
      const ended = await sse.waitFor(
        (e) => e.event === 'campaign' && JSON.parse(e.data).ended === true,
        1,
        30_000,
      );
      expect(JSON.parse(ended[0].data)).toMatchObject({ campaignId: id, campaignState: 'completed' });
      const events = sse.events.filter((e) => e.event === 'campaign').map((e) => JSON.parse(e.data));
      expect(events.every((e) => e.campaignId === id)).toBe(true);
      const finals = events.filter((e) => e.endpoint !== '' && FINAL.includes(e.state));
      expect(finals.map((e) => e.state).sort()).toEqual([
        'failed',
        'succeeded',
        'succeeded',
        'succeeded',
        'succeeded',
        'succeeded',
      ]);
      expect(finals.find((e) => e.state === 'failed')).toMatchObject({
        endpoint: 'sim-pull-6',
        resultCode: 8,
      });
      // Nothing started before the window opened.
      const starts = events.filter((e) => e.state === 'starting');
      expect(starts.length).toBe(6);
      for (const e of starts) expect(e.at).toBeGreaterThanOrEqual(opensAt);
    } finally {
      sse.close();
    }
  }, 60_000);
});
