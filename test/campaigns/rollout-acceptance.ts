// Issue 17 acceptance, shared by the Redis product (campaign-rollout.spec.ts, 1,000 devices) and memory mode
// (test/e2e/campaigns-memory.spec.ts): a campaign of simulated devices (5 % fail, 10 % asleep in queue mode)
// with at most `maxConcurrent` in flight: never more downloading at once (from the campaign's own records),
// the canary batch goes first, the sleepers start only after they woke, every device ends in a final state
// and the counts add up. Devices are real UDP clients.
import { validateSchedulerConfig } from '@lwm2m/scheduler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../support/single-node';
import type { SingleNodeOptions } from '../../apps/server/src/single-node';
import {
  allRuns,
  TEST_PACKAGE_URI,
  uploadImage,
  type CampaignBody,
  FINAL,
  type Fleet,
  fullLog,
  peaks,
  startFleet,
  sumOf,
  until,
} from './support';

export interface RolloutAcceptance {
  /** Starts the product with these scheduler settings. */
  start(scheduler: SingleNodeOptions['scheduler']): Promise<TestServer<unknown>>;
  count: number;
  maxConcurrent: number;
}

const failing = (i: number) => i % 20 === 7; // 5 %
const sleeping = (i: number) => i % 10 === 3; // 10 %
const CANARY = 10;

export function describeRolloutAcceptance(name: string, opts: RolloutAcceptance): void {
  const { count: COUNT, maxConcurrent: MAX } = opts;
  describe(`${name}: a campaign of ${COUNT} devices, at most ${MAX} in flight`, () => {
    let server: TestServer<unknown>;
    let fleet: Fleet;

    beforeAll(async () => {
      server = await opts.start(
        validateSchedulerConfig({
          AWAKE_WINDOW_MS: '3000',
          CAMPAIGN_TICK_MS: '300',
          CAMPAIGN_COMMAND_TIMEOUT_MS: '4000',
          CAMPAIGN_ASLEEP_RECHECK_MS: '30000',
        }),
      );
      fleet = await startFleet({
        prefix: 'fw',
        count: COUNT,
        coapPort: server.coapPort,
        behaviour: (i) => ({
          downloadMs: 400,
          updateMs: 150,
          ...(failing(i) && i > CANARY ? { failWith: 8 } : {}),
          sleeper: sleeping(i) && i > CANARY,
        }),
        sleeperAwakeMs: 3000,
        sleeperSleepMs: 8000,
      });
      // The sleepers' awake window after their Register has passed: they are asleep now.
      await new Promise((r) => setTimeout(r, 3500));
    }, 120_000);

    afterAll(async () => {
      await fleet?.stop();
      await server?.stop();
    });

    it(`updates every device it can, one final state each, the counts adding up, never more than ${MAX} at once`, async () => {
      const endpoints = [...Array(COUNT).keys()].map((i) => `fw-${i + 1}`);
      const created = await server.api<CampaignBody>('POST', '/api/v1/campaigns', {
        name: 'acceptance',
        target: { endpoints },
        imageId: await uploadImage(server.http),
        mode: 'pull',
        packageUri: TEST_PACKAGE_URI,
        policy: {
          maxConcurrent: MAX,
          canarySize: CANARY,
          abortFailureRatio: 0.25,
          abortMinFinished: 20,
          deviceTimeoutS: 60,
          maxAttempts: 3,
          retryBackoffMs: 500,
        },
      });
      expect(created.status).toBe(201);
      expect(created.body.phase).toBe('canary');
      const id = created.body.id;

      const done = await until(
        'the campaign to end',
        async () => {
          const r = await server.api<CampaignBody>('GET', `/api/v1/campaigns/${id}`);
          return r.body.endedAt ? r.body : undefined;
        },
        150_000,
        500,
      );
      expect(done.state).toBe('completed');
      expect(done.phase).toBe('rollout');
      expect(sumOf(done.counts, FINAL)).toBe(COUNT);
      expect(sumOf(done.counts, ['pending', 'starting', 'downloading', 'downloaded', 'updating'])).toBe(0);
      const expectedFailures = endpoints.filter((_, n) => failing(n + 1) && n + 1 > CANARY).length;
      expect(done.counts.failed).toBe(expectedFailures);
      expect(done.counts.succeeded).toBe(COUNT - expectedFailures);

      // The failures carry the device's Update Result (8: firmware update failed) and are the ones set to fail.
      const failed = (await allRuns(server.api.bind(server), id)).filter((d) => d.state === 'failed');
      expect(failed.length).toBe(expectedFailures);
      for (const d of failed) {
        expect(d.resultCode).toBe(8);
        expect(failing(Number(d.endpoint.slice(3)))).toBe(true);
      }
      // Every device that succeeded did install: the devices agree with the campaign.
      for (const [ep, d] of fleet.devices) {
        const n = Number(ep.slice(3));
        expect(d.state.updated, ep).toBe(!(failing(n) && n > CANARY));
      }

      // The campaign's own records: at most MAX in flight and downloading at any moment (replayed and as stored).
      const log = await fullLog(server.api.bind(server), id);
      const p = peaks(log);
      expect(p.active).toBeLessThanOrEqual(MAX);
      expect(p.storedActive).toBeLessThanOrEqual(MAX);
      expect(p.downloading).toBeLessThanOrEqual(MAX);
      expect(p.storedDown).toBeLessThanOrEqual(MAX);
      expect(p.active).toBeGreaterThan(Math.min(10, MAX - 1)); // it did run devices side by side
      // Canary gating: no device outside the canary batch started before the whole batch succeeded.
      const canary = new Set(endpoints.slice(0, CANARY));
      const firstOther = log.findIndex((r) => r.to === 'starting' && !canary.has(r.endpoint));
      const canaryDone = log.filter(
        (r, n) => n < firstOther && canary.has(r.endpoint) && r.to === 'succeeded',
      );
      expect(canaryDone.length).toBe(CANARY);
      // Sleepers were served when they woke: each was found asleep first, then updated.
      const sleepers = endpoints.filter((_, n) => sleeping(n + 1) && n + 1 > CANARY);
      const runs = await allRuns(server.api.bind(server), id);
      expect(runs.length).toBe(COUNT);
      const states = new Map(runs.map((d) => [d.endpoint, d.state]));
      for (const ep of sleepers) expect(['succeeded', 'failed']).toContain(states.get(ep));
      // ...asleep when the campaign began, each was started only after it woke up (TS 1.2 Core 6.5).
      for (const ep of sleepers) {
        const started = log.find((r) => r.endpoint === ep && r.to === 'starting')!;
        const woke = fleet.devices.get(ep)!.state.wokeAt;
        expect(woke.length, ep).toBeGreaterThan(0);
        expect(started.at, ep).toBeGreaterThanOrEqual(woke[0]);
      }
    }, 180_000);
  });
}
