// The rollout's brakes, each on a small fleet of its own: a failing canary stops the rest, the abort threshold
// stops the rollout, pause holds starts and cancel ends it; and the REST api's guard rails (roles, bad input as
// RFC 9457 problem+json).
import { execFile } from 'node:child_process';
import { validateSchedulerConfig } from '@lwm2m/scheduler';
import { ROOT } from '../support/product';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/single-node';
import {
  allRuns,
  type CampaignBody,
  TEST_PACKAGE_URI,
  uploadImage,
  FINAL,
  type Fleet,
  fullLog,
  startFleet,
  sumOf,
  until,
} from './support';

const READ_KEY = 'reader-key-0123456789';
const WRITE_KEY = 'writer-key-0123456789';
const ADMIN_KEY = 'admin-key-0123456789';

describe('campaign gates', () => {
  let server: TestServer;
  const fleets: Fleet[] = [];
  let image = '';

  async function call<T>(key: string, method: string, path: string, body?: unknown) {
    const res = await fetch(`${server.http}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? '',
      body: (text ? JSON.parse(text) : undefined) as T,
    };
  }
  const api = <T>(method: string, path: string, body?: unknown) => call<T>(WRITE_KEY, method, path, body);

  const ended = (id: string) =>
    until(
      `campaign ${id} to end`,
      async () => {
        const r = await api<CampaignBody>('GET', `/api/v1/campaigns/${id}`);
        return r.body.endedAt ? r.body : undefined;
      },
      60_000,
      300,
    );

  beforeAll(async () => {
    server = await startTestServer({
      apiKeys: `reader=${READ_KEY}:read,writer=${WRITE_KEY}:write,admin=${ADMIN_KEY}:admin`,
      scheduler: validateSchedulerConfig({ CAMPAIGN_TICK_MS: '300', CAMPAIGN_COMMAND_TIMEOUT_MS: '3000' }),
    });
    image = await uploadImage(server.http, 1024, ADMIN_KEY);
  });

  afterAll(async () => {
    for (const f of fleets) await f.stop();
    await server?.stop();
  });

  it('a failing canary aborts the campaign: no other device starts, all end cancelled', async () => {
    const f = await startFleet({
      prefix: 'canary',
      count: 30,
      coapPort: server.coapPort,
      behaviour: (i) => ({ downloadMs: 200, updateMs: 100, ...(i === 2 ? { failWith: 8 } : {}) }),
    });
    fleets.push(f);
    const c = await api<CampaignBody>('POST', '/api/v1/campaigns', {
      target: { endpoints: [...Array(30).keys()].map((i) => `canary-${i + 1}`) },
      imageId: image,
      mode: 'pull',
      packageUri: TEST_PACKAGE_URI,
      policy: { maxConcurrent: 10, canarySize: 5, maxAttempts: 1 },
    });
    expect(c.status).toBe(201);
    expect(c.body.total).toBe(30);
    const done = await ended(c.body.id);
    expect(done.state).toBe('aborted');
    expect(done.reason).toMatch(/canary/);
    expect(sumOf(done.counts, FINAL)).toBe(30);
    expect(done.canaryCounts.failed).toBe(1);
    const runs = await allRuns(api, c.body.id);
    const canary = new Set(runs.filter((r) => r.state !== 'cancelled').map((r) => r.endpoint));
    // Only canary devices ran: the first five of the list.
    for (const ep of canary) expect(Number(ep.slice('canary-'.length))).toBeLessThanOrEqual(5);
    expect(runs.filter((r) => r.state === 'cancelled').length).toBeGreaterThanOrEqual(25);
    const log = await fullLog(api, c.body.id);
    const started = new Set(log.filter((r) => r.to === 'starting').map((r) => r.endpoint));
    expect(started.size).toBeLessThanOrEqual(5);
    for (const [, d] of f.devices)
      if (!started.has([...f.devices.entries()].find(([, x]) => x === d)![0])) expect(d.state.writes).toBe(0);
  }, 90_000);

  it("a group target: the campaign lists the group's devices; a multicast group or an unknown one is 422", async () => {
    const f = await startFleet({
      prefix: 'grpfw',
      count: 4,
      coapPort: server.coapPort,
      behaviour: () => ({ downloadMs: 100, updateMs: 50 }),
    });
    fleets.push(f);
    // A filter group matching grpfw-1..4, and a list group naming two of them (and one never registered).
    expect((await api('POST', '/api/v1/groups', { name: 'fw-floor', filter: { q: 'grpfw-' } })).status).toBe(
      201,
    );
    expect(
      (await api('POST', '/api/v1/groups', { name: 'fw-pair', endpoints: ['grpfw-2', 'grpfw-4'] })).status,
    ).toBe(201);
    expect(
      (await api('POST', '/api/v1/groups', { name: 'fw-mc', multicast: { address: '239.255.9.9' } })).status,
    ).toBe(201);
    const body = (group: string) => ({
      target: { group },
      imageId: image,
      mode: 'pull',
      packageUri: TEST_PACKAGE_URI,
      policy: { maxAttempts: 1 },
    });
    const pair = await api<CampaignBody>('POST', '/api/v1/campaigns', body('fw-pair'));
    expect(pair.status).toBe(201);
    expect(pair.body.total).toBe(2);
    expect((await allRuns(api, pair.body.id)).map((r) => r.endpoint).sort()).toEqual(['grpfw-2', 'grpfw-4']);
    await ended(pair.body.id);
    const floor = await api<CampaignBody>('POST', '/api/v1/campaigns', body('fw-floor'));
    expect(floor.status).toBe(201);
    expect((await allRuns(api, floor.body.id)).map((r) => r.endpoint).sort()).toEqual(
      [...f.devices.keys()].sort(),
    );
    await ended(floor.body.id);
    for (const [group, why] of [
      ['fw-mc', /multicast.*object 5/],
      ['fw-none', /no group named "fw-none"/],
    ] as const) {
      const r = await api<{ status: number; detail: string; type: string }>(
        'POST',
        '/api/v1/campaigns',
        body(group),
      );
      expect(r.status, group).toBe(422);
      expect(r.type).toContain('application/problem+json');
      expect(r.body.type).toBe('urn:lwm2m-cluster:problem:campaign-target');
      expect(r.body.detail).toMatch(why);
    }
  }, 60_000);

  it('the abort threshold stops the rollout once the failure ratio passes it', async () => {
    const f = await startFleet({
      prefix: 'abort',
      count: 60,
      coapPort: server.coapPort,
      // Every third device fails: about 33 %.
      behaviour: (i) => ({ downloadMs: 150, updateMs: 50, ...(i % 3 === 0 ? { failWith: 5 } : {}) }),
    });
    fleets.push(f);
    const c = await api<CampaignBody>('POST', '/api/v1/campaigns', {
      // The filter resolves to the registered devices whose endpoint contains the text.
      target: { filter: { q: 'abort-' } },
      imageId: image,
      mode: 'pull',
      packageUri: TEST_PACKAGE_URI,
      policy: { maxConcurrent: 4, abortFailureRatio: 0.1, abortMinFinished: 9, maxAttempts: 1 },
    });
    expect(c.status).toBe(201);
    expect(c.body.total).toBe(60);
    const done = await ended(c.body.id);
    expect(done.state).toBe('aborted');
    expect(done.reason).toMatch(/failure ratio/);
    expect(sumOf(done.counts, FINAL)).toBe(60);
    // Stopped early: most devices never started.
    expect(done.counts.cancelled).toBeGreaterThan(30);
    expect(done.counts.failed + done.counts.succeeded + done.counts['timed-out']).toBeLessThan(30);
    // Result 5 (integrity check failure) is retryable by default; with maxAttempts 1 it is final, code kept.
    const failed = (await allRuns(api, c.body.id)).filter((r) => r.state === 'failed');
    for (const r of failed) expect(r.resultCode).toBe(5);
  }, 90_000);

  it('pause holds new starts, resume continues, cancel ends it with the rest cancelled', async () => {
    const f = await startFleet({
      prefix: 'pause',
      count: 20,
      coapPort: server.coapPort,
      behaviour: () => ({ downloadMs: 300, updateMs: 100 }),
    });
    fleets.push(f);
    const c = await api<CampaignBody>('POST', '/api/v1/campaigns', {
      target: { endpoints: [...Array(20).keys()].map((i) => `pause-${i + 1}`) },
      imageId: image,
      mode: 'pull',
      packageUri: TEST_PACKAGE_URI,
      policy: { maxConcurrent: 2 },
    });
    const id = c.body.id;
    await until('two devices to succeed', async () => {
      const r = await api<CampaignBody>('GET', `/api/v1/campaigns/${id}`);
      return r.body.counts.succeeded >= 2 ? true : undefined;
    });
    expect((await api<CampaignBody>('POST', `/api/v1/campaigns/${id}/pause`)).body.state).toBe('paused');
    // In flight ones finish; then nothing moves.
    await new Promise((r) => setTimeout(r, 1500));
    const held = await api<CampaignBody>('GET', `/api/v1/campaigns/${id}`);
    await new Promise((r) => setTimeout(r, 1500));
    const still = await api<CampaignBody>('GET', `/api/v1/campaigns/${id}`);
    expect(still.body.counts.pending).toBe(held.body.counts.pending);
    expect(still.body.counts.starting + still.body.counts.downloading).toBe(0);
    expect((await api('POST', `/api/v1/campaigns/${id}/pause`)).status).toBe(409);
    expect((await api<CampaignBody>('POST', `/api/v1/campaigns/${id}/resume`)).body.state).toBe('running');
    await until('another device to succeed', async () => {
      const r = await api<CampaignBody>('GET', `/api/v1/campaigns/${id}`);
      return r.body.counts.succeeded > still.body.counts.succeeded ? true : undefined;
    });
    const cancelled = await api<CampaignBody>('POST', `/api/v1/campaigns/${id}/cancel`);
    expect(cancelled.body.state).toBe('cancelled');
    const done = await ended(id);
    expect(done.state).toBe('cancelled');
    expect(sumOf(done.counts, FINAL)).toBe(20);
    expect(done.counts.cancelled).toBeGreaterThan(0);
    expect(done.counts.succeeded).toBeGreaterThan(2);
    expect((await api('POST', `/api/v1/campaigns/${id}/resume`)).status).toBe(409);
  }, 90_000);

  it('the CLI prints a campaign as a progress bar, and a read-only key cannot cancel through it', async () => {
    const id = (await call<{ items: Array<{ id: string }> }>(READ_KEY, 'GET', '/api/v1/campaigns')).body
      .items[0].id;
    const cli = (args: string[]) =>
      new Promise<{ code: number; out: string; err: string }>((resolve) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', 'apps/cli/src/campaign.ts', ...args],
          { cwd: ROOT, env: { ...process.env, LWM2M_API_URL: server.http, LWM2M_API_KEY: READ_KEY } },
          (err, out, errOut) => resolve({ code: err ? Number(err.code ?? 1) : 0, out, err: errOut }),
        );
      });
    const status = await cli(['status', id]);
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/\[[#x\->.]+\]\s+\d+% \d+\/\d+/);
    expect(status.out).toContain(id);
    const list = await cli(['list']);
    expect(list.out).toContain(id);
    const refused = await cli(['cancel', id]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('403');
    expect(`${status.out}${refused.err}`).not.toContain(READ_KEY);
  }, 60_000);

  describe('the api refuses', () => {
    const good = () => ({
      target: { endpoints: ['x-1'] },
      imageId: image,
      mode: 'pull',
      packageUri: TEST_PACKAGE_URI,
    });

    it('a read-only key: it may look but not create, pause or cancel', async () => {
      const list = await call(READ_KEY, 'GET', '/api/v1/campaigns');
      expect(list.status).toBe(200);
      const create = await call<{ status: number }>(READ_KEY, 'POST', '/api/v1/campaigns', good());
      expect(create.status).toBe(403);
      expect(create.type).toContain('application/problem+json');
      const some = (await call<{ items: Array<{ id: string }> }>(READ_KEY, 'GET', '/api/v1/campaigns')).body
        .items[0];
      expect(some).toBeDefined();
      for (const action of ['pause', 'resume', 'cancel']) {
        const r = await call(READ_KEY, 'POST', `/api/v1/campaigns/${some.id}/${action}`);
        expect(r.status, action).toBe(403);
      }
      expect((await call('nobody-key-0123456789', 'POST', '/api/v1/campaigns', good())).status).toBe(401);
      expect((await fetch(`${server.http}/api/v1/campaigns`)).status).toBe(401);
    });

    it('bad input, each with a problem+json saying why', async () => {
      const cases: Array<[unknown, number, RegExp]> = [
        [{ ...good(), mode: 'teleport' }, 400, /mode/],
        [{ ...good(), imageId: '../../etc/passwd' }, 400, /imageId/],
        [{ ...good(), target: {} }, 400, /exactly one/],
        [{ ...good(), target: { endpoints: ['a'], filter: { q: 'a' } } }, 400, /exactly one/],
        [{ ...good(), target: { endpoints: [] } }, 400, /endpoints/],
        [{ ...good(), target: { group: 'floor-3' } }, 422, /no group named/],
        [{ ...good(), target: { filter: { q: 'no-such-device-anywhere' } } }, 422, /no device/],
        [{ ...good(), policy: { maxConcurrent: 0 } }, 400, /maxConcurrent/],
        [{ ...good(), policy: { abortFailureRatio: 2 } }, 400, /abortFailureRatio/],
        [{ ...good(), policy: { canarySize: 5 } }, 400, /canarySize/],
        [{ ...good(), policy: { maxConcurrent: 5, evil: true } }, 400, /evil/],
        [{ ...good(), packageUri: 'file:///etc/shadow' }, 400, /packageUri/],
        [{ ...good(), imageId: 'no-such-image' }, 404, /no firmware image/],
        [{ ...good(), packageUri: undefined }, 400, /FIRMWARE_COAP_BASE/],
        [{ ...good(), window: { end: '2001-01-01T00:00:00Z' } }, 400, /past/],
        [{ ...good(), window: { start: 'tomorrow' } }, 400, /ISO/],
        ['{"target": ', 400, /./],
      ];
      for (const [body, status, why] of cases) {
        const r = await api<{ status: number; detail: string; title: string }>(
          'POST',
          '/api/v1/campaigns',
          body,
        );
        expect(r.status, JSON.stringify(body)).toBe(status);
        expect(r.type).toContain('application/problem+json');
        expect(r.body.status).toBe(status);
        expect(`${r.body.detail}`, JSON.stringify(body)).toMatch(why);
      }
      const unknown = await api<{ type: string }>('GET', '/api/v1/campaigns/cmp-nosuchcampaign');
      expect(unknown.status).toBe(404);
      expect(unknown.body.type).toBe('urn:lwm2m-cluster:problem:unknown-campaign');
      expect((await api('GET', '/api/v1/campaigns/..%2F..%2Fx')).status).toBe(404);
      expect((await api('GET', '/api/v1/campaigns?limit=0')).status).toBe(400);
      expect((await api('GET', '/api/v1/events?campaign=not-a-campaign')).status).toBe(400);
      // A device already in an unfinished campaign cannot join another (409).
      await startFleet({
        prefix: 'busy',
        count: 1,
        coapPort: server.coapPort,
        behaviour: () => ({ downloadMs: 60_000, updateMs: 10 }),
      }).then((f) => fleets.push(f));
      const first = await api<CampaignBody>('POST', '/api/v1/campaigns', {
        ...good(),
        target: { endpoints: ['busy-1'] },
      });
      expect(first.status).toBe(201);
      const second = await api<{ busy: string[] }>('POST', '/api/v1/campaigns', {
        ...good(),
        target: { endpoints: ['busy-1'] },
      });
      expect(second.status).toBe(409);
      expect(second.body.busy).toEqual(['busy-1']);
      await api('POST', `/api/v1/campaigns/${first.body.id}/cancel`);
    });
  });
});
