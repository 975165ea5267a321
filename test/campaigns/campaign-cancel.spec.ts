// A cancel or an abort interrupts the devices in flight that were not told to install (TS 1.2 Core E.6: an
// empty Package URI or Package resets object 5 to Idle and cancels the download), with the simulator's own
// object 5 downloading slowly: the devices end Idle with Update Result 0 and nothing installed, their runs
// `cancelled` with the state they were interrupted in, no Execute reaches them, a push stops sending blocks,
// and a device already updating when the cancel comes ends as it reports.
import { randomBytes } from 'node:crypto';
import type { FirmwareImage } from '@lwm2m/firmware';
import { SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateSchedulerConfig } from '@lwm2m/scheduler';
import { startTestServer, type TestServer } from '../support/single-node';
import { type CampaignBody, until } from './support';

interface Run {
  endpoint: string;
  state: string;
  resultCode?: number;
  error?: string;
  interrupted?: string;
}

/** 80 KiB at 4 KiB/s: a download of about 20 s, long enough to be cancelled in its middle. */
const IMAGE_BYTES = 80 * 1024 + 13;
const SLOW = 4096;

describe('campaigns: cancel and abort interrupt the devices in flight', () => {
  let server: TestServer;
  let image: FirmwareImage;
  const devices = new Map<string, SimulatedDevice>();
  /** Blocks (pieces) of the package each device received, counted as they arrive. */
  const pieces = new Map<string, number>();

  const addDevice = async (
    endpoint: string,
    firmware: { bytesPerSecond?: number; updateMs?: number; failureRate?: number; failureResult?: number },
  ) => {
    const d = new SimulatedDevice({
      endpoint,
      transport: await UdpTransport.bind({ address: '127.0.0.1', port: 0 }),
      server: { address: '127.0.0.1', port: server.coapPort },
      sensorIntervalMs: 0,
      updateAt: 0,
      observeTickMs: 100,
      requestTimeoutMs: 5000,
      firmware,
    });
    await d.start();
    pieces.set(endpoint, 0);
    d.firmware!.on('progress', (p) => {
      if (p.received > 0) pieces.set(endpoint, (pieces.get(endpoint) ?? 0) + 1);
    });
    devices.set(endpoint, d);
  };
  const executes = (ep: string) => devices.get(ep)!.executions.filter((e) => e.path === '/5/0/2').length;

  const runsOf = async (id: string): Promise<Map<string, Run>> => {
    const r = await server.api<{ items: Run[] }>('GET', `/api/v1/campaigns/${id}/devices?limit=100`);
    expect(r.status).toBe(200);
    return new Map(r.body.items.map((x) => [x.endpoint, x]));
  };
  const create = async (body: Record<string, unknown>, mode: 'pull' | 'push') => {
    const r = await server.api<CampaignBody>('POST', '/api/v1/campaigns', {
      imageId: image.id,
      mode,
      ...(mode === 'pull' ? { packageUri: `coap://127.0.0.1:${server.coapPort}/fw/${image.id}` } : {}),
      ...body,
    });
    expect(r.status).toBe(201);
    return r.body.id;
  };
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
  /** The devices of `eps` in these run states, all of them. */
  const inStates = (id: string, want: Record<string, string>) =>
    until(
      `runs ${JSON.stringify(want)}`,
      async () => {
        const runs = await runsOf(id);
        return Object.entries(want).every(([ep, s]) => runs.get(ep)?.state === s) ? runs : undefined;
      },
      30_000,
      200,
    );
  /** Nothing more arrives at these devices for `ms` (a download restarted, or blocks still pushed). */
  const quiet = async (eps: string[], ms: number) => {
    const before = eps.map((ep) => pieces.get(ep));
    await new Promise((r) => setTimeout(r, ms));
    expect(eps.map((ep) => pieces.get(ep))).toEqual(before);
  };

  beforeAll(async () => {
    server = await startTestServer({
      scheduler: validateSchedulerConfig({ CAMPAIGN_TICK_MS: '300', CAMPAIGN_COMMAND_TIMEOUT_MS: '5000' }),
    });
    const res = await fetch(`${server.http}/api/v1/firmware?name=cancel&version=4.0.0`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: randomBytes(IMAGE_BYTES),
    });
    expect(res.status).toBe(201);
    image = (await res.json()) as FirmwareImage;
    for (let i = 1; i <= 3; i++) await addDevice(`cx-pull-${i}`, { bytesPerSecond: SLOW, updateMs: 100 });
    // Downloads at once, then spends 8 s updating: it is `updating` when the cancel comes.
    await addDevice('cx-pull-4', { updateMs: 8000 });
    for (let i = 1; i <= 3; i++) await addDevice(`cx-push-${i}`, { bytesPerSecond: SLOW, updateMs: 100 });
    // Abort by the failure ratio: device 1 downloads at once and fails its update (Update Result 8).
    await addDevice('cx-abort-1', { updateMs: 100, failureRate: 1, failureResult: 8 });
    for (let i = 2; i <= 3; i++) await addDevice(`cx-abort-${i}`, { bytesPerSecond: SLOW, updateMs: 100 });
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled([...devices.values()].map((d) => d.close()));
    await server?.stop();
  });

  it('pull: a cancel resets the downloading devices (State 0, no Execute); the updating one succeeds', async () => {
    const id = await create(
      {
        target: { endpoints: ['cx-pull-1', 'cx-pull-2', 'cx-pull-3', 'cx-pull-4'] },
        policy: { maxConcurrent: 4, maxAttempts: 1, deviceTimeoutS: 120 },
      },
      'pull',
    );
    await inStates(id, {
      'cx-pull-1': 'downloading',
      'cx-pull-2': 'downloading',
      'cx-pull-3': 'downloading',
      'cx-pull-4': 'updating',
    });
    const cancelled = await server.api<CampaignBody>('POST', `/api/v1/campaigns/${id}/cancel`);
    expect(cancelled.status).toBe(200);
    const done = await ended(id);
    expect(done.state).toBe('cancelled');
    expect(done.counts).toMatchObject({ cancelled: 3, succeeded: 1, failed: 0, downloading: 0, updating: 0 });
    // Ended once every reset was acknowledged: none owed, none given up.
    expect(done.resets).toEqual({ owed: 0, failed: 0 });
    const runs = await runsOf(id);
    expect(runs.get('cx-pull-4')).toMatchObject({ state: 'succeeded', resultCode: 1 });
    expect(executes('cx-pull-4')).toBe(1);
    expect(devices.get('cx-pull-4')!.firmware!.lastPackage?.sha256).toBe(image.sha256);
    for (let i = 1; i <= 3; i++) {
      const ep = `cx-pull-${i}`;
      const run = runs.get(ep)!;
      expect(run.state, ep).toBe('cancelled');
      expect(run.interrupted, ep).toBe('downloading');
      expect(run.error, ep).toMatch(/interrupted while downloading .*cancelled/);
      const fw = devices.get(ep)!.firmware!;
      await until(`${ep} Idle`, async () => (fw.state === 0 ? true : undefined), 10_000, 100);
      expect(fw.result, ep).toBe(0);
      expect(fw.lastPackage, ep).toBeUndefined();
      expect(executes(ep), ep).toBe(0);
    }
    // The pulls stopped: no block is fetched any more.
    await quiet(['cx-pull-1', 'cx-pull-2', 'cx-pull-3'], 2500);
    for (let i = 1; i <= 3; i++) expect(devices.get(`cx-pull-${i}`)!.firmware!.state).toBe(0);
  }, 90_000);

  it('push: a cancel stops the pushes (no block after it) and resets the devices with an empty Package', async () => {
    const eps = ['cx-push-1', 'cx-push-2', 'cx-push-3'];
    const id = await create(
      { target: { endpoints: eps }, policy: { maxConcurrent: 3, maxAttempts: 1, deviceTimeoutS: 120 } },
      'push',
    );
    await inStates(id, Object.fromEntries(eps.map((ep) => [ep, 'downloading'])));
    // Some blocks arrived, far from all of them.
    await until('blocks pushed', async () => (eps.every((ep) => pieces.get(ep)! >= 2) ? true : undefined));
    expect(await server.api('POST', `/api/v1/campaigns/${id}/cancel`)).toMatchObject({ status: 200 });
    const done = await ended(id);
    expect(done.state).toBe('cancelled');
    expect(done.counts).toMatchObject({ cancelled: 3, succeeded: 0 });
    expect(done.resets).toEqual({ owed: 0, failed: 0 });
    const runs = await runsOf(id);
    for (const ep of eps) {
      expect(runs.get(ep), ep).toMatchObject({ state: 'cancelled', interrupted: 'downloading' });
      const fw = devices.get(ep)!.firmware!;
      await until(`${ep} Idle`, async () => (fw.state === 0 ? true : undefined), 10_000, 100);
      expect(fw.result, ep).toBe(0);
      expect(fw.lastPackage, ep).toBeUndefined();
      expect(executes(ep), ep).toBe(0);
      expect(pieces.get(ep)!, ep).toBeLessThan(IMAGE_BYTES / 1024);
      // The push's progress is forgotten: no later push resumes into the reset device.
      const p = await server.api('GET', `/api/v1/devices/${ep}/firmware`);
      expect(p.status, ep).toBe(404);
    }
    // The gateway sends no more blocks: nothing reaches the devices any more.
    await quiet(eps, 3000);
    for (const ep of eps) expect(devices.get(ep)!.firmware!.state, ep).toBe(0);
  }, 90_000);

  it('an abort by the failure ratio interrupts the devices still downloading', async () => {
    const eps = ['cx-abort-1', 'cx-abort-2', 'cx-abort-3'];
    const id = await create(
      {
        target: { endpoints: eps },
        policy: {
          maxConcurrent: 3,
          maxAttempts: 1,
          deviceTimeoutS: 120,
          abortFailureRatio: 0,
          abortMinFinished: 1,
        },
      },
      'pull',
    );
    const done = await ended(id);
    expect(done.state).toBe('aborted');
    expect(done.reason).toMatch(/failure ratio/);
    expect(done.counts).toMatchObject({ failed: 1, cancelled: 2, succeeded: 0 });
    const runs = await runsOf(id);
    expect(runs.get('cx-abort-1')).toMatchObject({ state: 'failed', resultCode: 8 });
    for (const ep of ['cx-abort-2', 'cx-abort-3']) {
      const run = runs.get(ep)!;
      expect(run.state, ep).toBe('cancelled');
      // Interrupted where it was: downloading (or, had the abort come first, before its write).
      expect(['starting', 'downloading'], ep).toContain(run.interrupted);
      expect(run.error, ep).toMatch(/campaign aborted: failure ratio/);
      const fw = devices.get(ep)!.firmware!;
      await until(`${ep} Idle`, async () => (fw.state === 0 ? true : undefined), 10_000, 100);
      expect(fw.lastPackage, ep).toBeUndefined();
      expect(executes(ep), ep).toBe(0);
    }
  }, 90_000);
});
