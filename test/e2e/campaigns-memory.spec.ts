// Firmware campaigns in memory mode (npm start without Redis): the same routes, the campaign and its devices'
// runs in InMemoryCampaignStore, the engine driven in process (a timer at CAMPAIGN_TICK_MS and the event
// bus). Simulated devices with object 5 fetch the image from the gateway's /fw/<id> (Block2, pull) and
// install it; a campaign is paused, resumed and cancelled; a read-only key may watch but not act. And the
// acceptance run of the Redis product (canary first, sleepers when they wake, the concurrency cap in the
// campaign's own log) on 200 devices.
import { randomBytes } from 'node:crypto';
import type { FirmwareImage } from '@lwm2m/firmware';
import { validateSchedulerConfig } from '@lwm2m/scheduler';
import { SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MemoryNodeStores } from '../../apps/server/src/memory-node';
import { describeRolloutAcceptance } from '../campaigns/rollout-acceptance';
import { allRuns, type CampaignBody, FINAL, fullLog, peaks, sumOf, until } from '../campaigns/support';
import { startTestServer, type TestServer } from '../support/single-node';

const ADMIN = 'a-key-camp-0123456789';
const WRITE = 'w-key-camp-0123456789';
const READ = 'r-key-camp-0123456789';

describe('memory mode: firmware campaigns', () => {
  let server: TestServer<MemoryNodeStores>;
  let image: FirmwareImage;
  const devices = new Map<string, SimulatedDevice>();

  const call = async <T>(key: string | undefined, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.http}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(key ? { authorization: `Bearer ${key}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? '',
      body: (text ? JSON.parse(text) : undefined) as T,
    };
  };
  const api = <T>(method: string, path: string, body?: unknown) => call<T>(WRITE, method, path, body);
  const campaign = async (id: string) => (await api<CampaignBody>('GET', `/api/v1/campaigns/${id}`)).body;
  const pull = (prefix: string, policy: Record<string, unknown>) =>
    api<CampaignBody>('POST', '/api/v1/campaigns', {
      target: { filter: { q: `${prefix}-` } },
      imageId: image.id,
      mode: 'pull',
      packageUri: `coap://127.0.0.1:${server.coapPort}/fw/${image.id}`,
      policy,
    });

  beforeAll(async () => {
    server = await startTestServer({
      memory: true,
      apiKeys: `boss=${ADMIN}:admin,ops=${WRITE}:write,viewer=${READ}:read`,
      scheduler: validateSchedulerConfig({ CAMPAIGN_TICK_MS: '300', CAMPAIGN_COMMAND_TIMEOUT_MS: '5000' }),
    });
    const res = await fetch(`${server.http}/api/v1/firmware?name=mem&version=2.1.0`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${ADMIN}` },
      body: randomBytes(6 * 1024 + 33),
    });
    expect(res.status).toBe(201);
    image = (await res.json()) as FirmwareImage;
    // "fast" devices install in 100 ms; "slow" ones take 2 s, so a paused or cancelled campaign has devices
    // that have not started yet.
    for (const [prefix, updateMs] of [
      ['fast', 100],
      ['slow', 2000],
    ] as const) {
      for (let i = 1; i <= 4; i++) {
        const d = new SimulatedDevice({
          endpoint: `${prefix}-${i}`,
          transport: await UdpTransport.bind({ address: '127.0.0.1', port: 0 }),
          server: { address: '127.0.0.1', port: server.coapPort },
          sensorIntervalMs: 0,
          updateAt: 0,
          observeTickMs: 100,
          requestTimeoutMs: 5000,
          firmware: { updateMs },
        });
        await d.start();
        devices.set(`${prefix}-${i}`, d);
      }
    }
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled([...devices.values()].map((d) => d.close()));
    await server?.stop();
  });

  it('updates every device of a pull campaign: each fetched the image (hash checked) and installed it', async () => {
    expect(server.redis).toBeUndefined();
    const created = await pull('fast', { maxConcurrent: 2, deviceTimeoutS: 30, maxAttempts: 2 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ state: 'running', phase: 'rollout', total: 4 });
    const id = created.body.id;
    const done = await until('the campaign to end', async () => {
      const c = await campaign(id);
      return c.endedAt ? c : undefined;
    });
    expect(done.state).toBe('completed');
    expect(done.counts.succeeded).toBe(4);
    expect(sumOf(done.counts, FINAL)).toBe(4);
    const runs = await allRuns(api, id);
    expect(runs.map((r) => r.endpoint).sort()).toEqual(['fast-1', 'fast-2', 'fast-3', 'fast-4']);
    expect(runs.every((r) => r.state === 'succeeded')).toBe(true);
    for (let i = 1; i <= 4; i++) {
      expect(devices.get(`fast-${i}`)!.firmware!.lastPackage?.sha256, `fast-${i}`).toBe(image.sha256);
    }
    // The campaign's own record: every device through every state, never more than 2 in flight.
    const log = await fullLog(api, id);
    const p = peaks(log); // throws if a record does not follow the one before
    expect(p.active).toBeLessThanOrEqual(2);
    expect(p.storedActive).toBeLessThanOrEqual(2);
    expect(log.filter((r) => r.to === 'succeeded').length).toBe(4);
    // Over: its devices were released, so a new campaign may take them (else 409 busy).
    const again = await pull('fast', { maxConcurrent: 4 });
    expect(again.status).toBe(201);
    expect((await api('POST', `/api/v1/campaigns/${again.body.id}/cancel`)).status).toBe(200);
    await until('the second campaign to end', async () =>
      (await campaign(again.body.id)).endedAt ? true : undefined,
    );
    const listed = await api<{ items: CampaignBody[] }>('GET', '/api/v1/campaigns');
    expect(listed.body.items.map((c) => c.id).slice(0, 2)).toEqual([again.body.id, id]);
  }, 90_000);

  it('pauses (nothing starts), resumes, and cancels (pending devices cancelled, a download in flight reset)', async () => {
    const created = await pull('slow', { maxConcurrent: 1, deviceTimeoutS: 60, maxAttempts: 1 });
    expect(created.status).toBe(201);
    const id = created.body.id;
    // A second campaign on the same devices is refused while this one runs.
    const busy = await pull('slow', { maxConcurrent: 1 });
    expect(busy.status).toBe(409);
    expect(busy.type).toContain('application/problem+json');

    const paused = await api<CampaignBody>('POST', `/api/v1/campaigns/${id}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.body.state).toBe('paused');
    expect((await api('POST', `/api/v1/campaigns/${id}/pause`)).status).toBe(409);
    // A device started before the pause finishes its attempt; then nothing moves.
    const settled = await until('nothing in flight while paused', async () => {
      const c = await campaign(id);
      return sumOf(c.counts, ['starting', 'downloading', 'downloaded', 'updating']) === 0 ? c : undefined;
    });
    const finishedWhilePaused = sumOf(settled.counts, FINAL);
    expect(finishedWhilePaused).toBeLessThanOrEqual(1);
    const logPaused = (await fullLog(api, id)).length;
    await new Promise((r) => setTimeout(r, 1500)); // five ticks
    expect((await campaign(id)).counts).toEqual(settled.counts);
    expect((await fullLog(api, id)).length).toBe(logPaused);

    expect((await api<CampaignBody>('POST', `/api/v1/campaigns/${id}/resume`)).body.state).toBe('running');
    await until('one more device to succeed after the resume', async () => {
      const c = await campaign(id);
      return c.counts.succeeded > finishedWhilePaused ? c : undefined;
    });
    const cancelled = await api<CampaignBody>('POST', `/api/v1/campaigns/${id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ state: 'cancelled', reason: 'cancelled by an operator' });
    const done = await until('the cancelled campaign to end', async () => {
      const c = await campaign(id);
      return c.endedAt ? c : undefined;
    });
    expect(done.state).toBe('cancelled');
    expect(sumOf(done.counts, FINAL)).toBe(4);
    expect(done.counts.cancelled).toBeGreaterThanOrEqual(1);
    expect(done.counts.failed + done.counts['timed-out']).toBe(0);
    // Cancelled: never started, or interrupted before its Execute and reset to Idle (TS 1.2 Core E.6: an
    // empty Package URI); any other device finished its update.
    for (const r of await allRuns(api, id)) {
      if (r.state === 'cancelled' && r.attempts === 0) {
        expect(r.interrupted, r.endpoint).toBeUndefined();
      } else if (r.state === 'cancelled') {
        expect(['starting', 'downloading', 'downloaded'], r.endpoint).toContain(r.interrupted);
        const fw = devices.get(r.endpoint)!.firmware!;
        await until(`${r.endpoint} Idle`, async () => (fw.state === 0 ? true : undefined));
        expect(fw.lastPackage, r.endpoint).toBeUndefined();
      } else {
        expect(r, r.endpoint).toMatchObject({ state: 'succeeded', attempts: 1 });
        expect(devices.get(r.endpoint)!.firmware!.lastPackage?.sha256).toBe(image.sha256);
      }
    }
    expect((await api('POST', `/api/v1/campaigns/${id}/resume`)).status).toBe(409);
    expect((await api('POST', `/api/v1/campaigns/${id}/cancel`)).status).toBe(409);
  }, 90_000);

  it('lets a read-only key watch a campaign but not create, pause, resume or cancel one', async () => {
    const body = {
      target: { endpoints: ['fast-1'] },
      imageId: image.id,
      mode: 'pull',
      packageUri: `coap://127.0.0.1:${server.coapPort}/fw/${image.id}`,
    };
    const refused = await call(READ, 'POST', '/api/v1/campaigns', body);
    expect(refused.status).toBe(403);
    expect(refused.type).toContain('application/problem+json');
    expect((await call(undefined, 'POST', '/api/v1/campaigns', body)).status).toBe(401);
    // Bad input is a 400 problem, as with Redis.
    const bad = await api<{ status: number }>('POST', '/api/v1/campaigns', { ...body, mode: 'sideways' });
    expect(bad.status).toBe(400);
    expect(bad.type).toContain('application/problem+json');

    const created = await api<CampaignBody>('POST', '/api/v1/campaigns', {
      ...body,
      window: { start: new Date(Date.now() + 3_600_000).toISOString() },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect((await call<CampaignBody>(READ, 'GET', `/api/v1/campaigns/${id}`)).body.state).toBe('running');
    expect((await call(READ, 'GET', `/api/v1/campaigns/${id}/devices`)).status).toBe(200);
    expect((await call(READ, 'GET', `/api/v1/campaigns/${id}/log`)).status).toBe(200);
    for (const action of ['pause', 'resume', 'cancel']) {
      expect((await call(READ, 'POST', `/api/v1/campaigns/${id}/${action}`)).status, action).toBe(403);
    }
    expect((await campaign(id)).state).toBe('running');
    expect((await api('POST', `/api/v1/campaigns/${id}/cancel`)).status).toBe(200);
    const c = await until('the cancelled campaign to end', async () => {
      const x = await campaign(id);
      return x.endedAt ? x : undefined;
    });
    expect(c.counts.cancelled).toBe(1);
  }, 60_000);
});

describeRolloutAcceptance('memory mode', {
  start: (scheduler) => startTestServer({ memory: true, ...(scheduler ? { scheduler } : {}) }),
  count: 200,
  maxConcurrent: 20,
});
