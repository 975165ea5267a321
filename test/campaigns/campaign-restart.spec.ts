// A campaign survives its processes and its Redis: the compiled single node (gateway, api, BullMQ scheduler in
// one process, as `npm start` runs it) is SIGKILLed mid-campaign and started again, then Redis is restarted
// (append-only file) under it; no device's state is lost or moves backwards, and the campaign finishes with
// every device final and the counts matching the devices.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedisStores } from '@lwm2m/registry';
import { type DeviceRun, RedisCampaignStore } from '@lwm2m/campaigns';
import { afterAll, describe, expect, it } from 'vitest';
import { freeTcpPort, freeUdpPort } from '../support/ports';
import { type Running, startProduct, stopProduct } from '../support/product';
import { startRedis } from '../support/redis';
import {
  type CampaignBody,
  FINAL,
  TEST_PACKAGE_URI,
  uploadImage,
  type Fleet,
  startFleet,
  sumOf,
  until,
} from './support';

const COUNT = 150;
const failing = (i: number) => i % 20 === 7;
const ORDER = ['pending', 'starting', 'downloading', 'downloaded', 'updating'];

describe('a campaign across a SIGKILL of every app and a Redis restart', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'lwm2m-campaign-restart-'));
  let run: Running | undefined;
  let fleet: Fleet | undefined;
  afterAll(async () => {
    await fleet?.stop();
    if (run) await stopProduct(run, 'SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('loses no device state and finishes with every device final', async () => {
    const redis = await startRedis({ appendonly: true });
    const env = {
      REDIS_URL: redis.url,
      DATA_DIR: join(dataDir, 'data'),
      COAP_PORT: String(await freeUdpPort()),
      COAPS_PORT: String(await freeUdpPort()),
      HTTP_PORT: String(await freeTcpPort()),
      CAMPAIGN_TICK_MS: '300',
      CAMPAIGN_COMMAND_TIMEOUT_MS: '3000',
      CAMPAIGN_REDRIVE_MS: '2000',
    };
    const base = `http://127.0.0.1:${env.HTTP_PORT}`;
    const api = async <T>(method: string, path: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
    };
    // The test reads the campaign's records straight from Redis while the product is down.
    const stores = createRedisStores(redis.url);
    stores.redis.on('error', () => undefined);
    const store = new RedisCampaignStore(stores.redis, { keyPrefix: stores.keys.prefix });
    try {
      run = await startProduct(env);
      fleet = await startFleet({
        prefix: 'rs',
        count: COUNT,
        coapPort: Number(env.COAP_PORT),
        behaviour: (i) => ({ downloadMs: 1200, updateMs: 300, ...(failing(i) ? { failWith: 8 } : {}) }),
      });
      const created = await api<CampaignBody>('POST', '/api/v1/campaigns', {
        target: { endpoints: [...Array(COUNT).keys()].map((i) => `rs-${i + 1}`) },
        imageId: await uploadImage(base),
        mode: 'pull',
        packageUri: TEST_PACKAGE_URI,
        policy: { maxConcurrent: 20, deviceTimeoutS: 20, maxAttempts: 4, retryBackoffMs: 300 },
      });
      expect(created.status).toBe(201);
      const id = created.body.id;
      const progress = async () => (await api<CampaignBody>('GET', `/api/v1/campaigns/${id}`)).body;
      await until('a third of the devices to finish', async () => {
        const c = await progress();
        return sumOf(c.counts, FINAL) >= COUNT / 3 ? true : undefined;
      });

      // SIGKILL in the middle: devices are in flight.
      await stopProduct(run, 'SIGKILL');
      const before = await snapshot(store, id);
      expect([...before.values()].filter((r) => ORDER.slice(1).includes(r.state)).length).toBeGreaterThan(0);
      run = await startProduct(env);
      const after = await snapshot(store, id);
      expectNoLoss(before, after);

      await until('two thirds of the devices to finish', async () => {
        const c = await progress();
        return sumOf(c.counts, FINAL) >= (2 * COUNT) / 3 ? true : undefined;
      });
      const beforeRedis = await snapshot(store, id);
      await redis.restart();
      const afterRedis = await until('Redis back', () => snapshot(store, id).catch(() => undefined));
      expectNoLoss(beforeRedis, afterRedis);

      const done = await until(
        'the campaign to end',
        async () => {
          const c = await progress();
          return c.endedAt ? c : undefined;
        },
        90_000,
        500,
      );
      expect(done.state).toBe('completed');
      expect(sumOf(done.counts, FINAL)).toBe(COUNT);
      const failures = [...Array(COUNT).keys()].filter((i) => failing(i + 1)).length;
      expect(done.counts.failed).toBe(failures);
      expect(done.counts.succeeded).toBe(COUNT - failures);
      // The counts are the devices' states, one by one.
      const final = await snapshot(store, id);
      const byState: Record<string, number> = {};
      for (const r of final.values()) byState[r.state] = (byState[r.state] ?? 0) + 1;
      for (const s of FINAL) expect(done.counts[s] ?? 0, s).toBe(byState[s] ?? 0);
      expectNoLoss(afterRedis, final);
      expect(run.child.exitCode).toBeNull();
    } finally {
      stores.redis.disconnect();
      await redis.stop();
    }
  }, 240_000);
});

async function snapshot(store: RedisCampaignStore, id: string): Promise<Map<string, DeviceRun>> {
  const out = new Map<string, DeviceRun>();
  let cursor: string | undefined = '0';
  do {
    const page = await store.runs(id, 500, cursor);
    for (const r of page.items) out.set(r.endpoint, r);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

/** Every device is still there, a final state stays as it was, and an active one never went back before its attempt. */
function expectNoLoss(before: Map<string, DeviceRun>, after: Map<string, DeviceRun>): void {
  expect(after.size).toBe(before.size);
  for (const [ep, b] of before) {
    const a = after.get(ep)!;
    expect(a, ep).toBeDefined();
    expect(a.rev, ep).toBeGreaterThanOrEqual(b.rev);
    if (FINAL.includes(b.state)) {
      expect(a.state, ep).toBe(b.state);
      expect(a.resultCode, ep).toBe(b.resultCode);
    }
    expect(a.attempts, ep).toBeGreaterThanOrEqual(b.attempts);
  }
}
