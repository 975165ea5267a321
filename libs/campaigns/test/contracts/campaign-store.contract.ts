// CampaignStore contract: campaigns (create, one unfinished campaign per device, get, list newest first,
// update from allowed states, running, retire), a device's transition (compare-and-set on its revision, the
// concurrency and rate claims, counts, due queues, the active set by deadline, the log) and the devices pages.
// RedisCampaignStore and InMemoryCampaignStore both run it.
import { beforeEach, describe, expect, it } from 'vitest';
import { type CampaignDefinition, DEFAULT_POLICY, type RolloutPolicy } from '../../src/campaign';
import type { CampaignStore } from '../../src/campaign-store';
import { type DeviceRun, type DeviceRunState, newRun } from '../../src/device-run';

export type CampaignStoreFactory = () => Promise<CampaignStore>;

const T0 = 1_700_000_000_000;

function definition(
  id: string,
  endpoints: string[],
  policy: Partial<RolloutPolicy> = {},
  createdAt = T0,
): CampaignDefinition {
  return {
    id,
    imageId: 'img-1',
    mode: 'pull',
    packageUri: 'coap://gw/fw/img-1',
    policy: { ...DEFAULT_POLICY, ...policy },
    window: {},
    endpoints,
    createdAt,
    createdBy: 'test',
  };
}

/** Creates a campaign whose first `canary` endpoints are the canary batch; its runs are returned. */
async function create(
  store: CampaignStore,
  id: string,
  endpoints: string[],
  canary = 0,
  createdAt = T0,
): Promise<DeviceRun[]> {
  const runs = endpoints.map((ep, i) => newRun(ep, i < canary, createdAt));
  const r = await store.create(definition(id, endpoints, { canarySize: canary }, createdAt), runs);
  expect(r).toEqual({ ok: true });
  return runs;
}

/** The stored run moved to `state` (one revision on), with the given fields. */
async function move(
  store: CampaignStore,
  id: string,
  ep: string,
  state: DeviceRunState,
  at: number,
  fields: Partial<DeviceRun> = {},
  claim?: { maxActive: number; perMinute: number },
) {
  const run = (await store.getRun(id, ep))!;
  return store.casRun(id, { ...run, ...fields, state, rev: run.rev + 1, updatedAt: at }, claim);
}

export function describeCampaignStoreContract(name: string, factory: CampaignStoreFactory): void {
  describe(`CampaignStore contract: ${name}`, () => {
    let store: CampaignStore;
    beforeEach(async () => {
      store = await factory();
    });

    it('stores a campaign with its runs, and a device belongs to one unfinished campaign at a time', async () => {
      await create(store, 'cmp-aaaaaa', ['a', 'b', 'c'], 1);
      expect(await store.get('cmp-aaaaaa')).toEqual({
        ...definition('cmp-aaaaaa', ['a', 'b', 'c'], { canarySize: 1 }),
        state: 'running',
        phase: 'canary',
        updatedAt: T0,
      });
      expect(await store.get('cmp-nothere')).toBeUndefined();
      expect(await store.running()).toEqual(['cmp-aaaaaa']);
      expect(await store.campaignOf('b')).toBe('cmp-aaaaaa');
      expect(await store.campaignOf('z')).toBeUndefined();

      // b and c are taken: nothing of the second campaign is stored, not even its free device.
      const r = await store.create(
        definition('cmp-bbbbbb', ['d', 'b', 'c']),
        ['d', 'b', 'c'].map((ep) => newRun(ep, false, T0)),
      );
      expect(r).toEqual({ ok: false, busy: ['b', 'c'] });
      expect(await store.get('cmp-bbbbbb')).toBeUndefined();
      expect(await store.campaignOf('d')).toBeUndefined();
      expect(await store.running()).toEqual(['cmp-aaaaaa']);

      // Released by another campaign: nothing happens; by its own: free to join another.
      await store.release('cmp-bbbbbb', ['b']);
      expect(await store.campaignOf('b')).toBe('cmp-aaaaaa');
      await store.release('cmp-aaaaaa', ['b', 'c']);
      await store.release('cmp-aaaaaa', []);
      expect(await store.campaignOf('b')).toBeUndefined();
      await create(store, 'cmp-bbbbbb', ['d', 'b', 'c'], 0, T0 + 1);
      expect((await store.get('cmp-bbbbbb'))!.phase).toBe('rollout');
      expect(await store.campaignOf('b')).toBe('cmp-bbbbbb');
      expect(await store.campaignOf('a')).toBe('cmp-aaaaaa');
      expect((await store.running()).sort()).toEqual(['cmp-aaaaaa', 'cmp-bbbbbb']);

      await store.retire('cmp-aaaaaa');
      expect(await store.running()).toEqual(['cmp-bbbbbb']);
      // Reopened (a reset owed after its end): ticked again until retired once more.
      await store.reopen('cmp-aaaaaa');
      expect((await store.running()).sort()).toEqual(['cmp-aaaaaa', 'cmp-bbbbbb']);
      await store.retire('cmp-aaaaaa');
      expect(await store.running()).toEqual(['cmp-bbbbbb']);
      // Retired is not forgotten: the campaign and its runs stay readable.
      expect((await store.get('cmp-aaaaaa'))!.id).toBe('cmp-aaaaaa');
      expect((await store.getRun('cmp-aaaaaa', 'a'))!.state).toBe('pending');
    });

    it('lists campaigns newest first, a page at a time', async () => {
      await create(store, 'cmp-first1', ['a'], 0, T0);
      await create(store, 'cmp-third3', ['c'], 0, T0 + 2);
      await create(store, 'cmp-second', ['b'], 0, T0 + 1);
      const all = await store.list(10);
      expect(all.items.map((c) => c.id)).toEqual(['cmp-third3', 'cmp-second', 'cmp-first1']);
      expect(all.nextCursor).toBeUndefined();
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.list(2, cursor);
        seen.push(...page.items.map((c) => c.id));
        cursor = page.nextCursor;
        pages++;
      } while (cursor && pages < 10);
      expect(seen).toEqual(['cmp-third3', 'cmp-second', 'cmp-first1']);
      expect(pages).toBe(2);
      expect((await store.list(5)).items[0]).toMatchObject({ id: 'cmp-third3', state: 'running' });
    });

    it('changes state and phase only from the allowed states', async () => {
      await create(store, 'cmp-update', ['a'], 1);
      expect(await store.update('cmp-update', ['paused'], { state: 'running' }, T0 + 5)).toBe(false);
      expect((await store.get('cmp-update'))!.updatedAt).toBe(T0);
      expect(await store.update('cmp-update', ['running'], { state: 'paused' }, T0 + 10)).toBe(true);
      expect(await store.get('cmp-update')).toMatchObject({
        state: 'paused',
        phase: 'canary',
        updatedAt: T0 + 10,
      });
      expect(await store.update('cmp-update', ['running', 'paused'], { phase: 'rollout' }, T0 + 11)).toBe(
        true,
      );
      expect(
        await store.update('cmp-update', ['paused'], { state: 'cancelled', reason: 'by test' }, T0 + 12),
      ).toBe(true);
      const c = (await store.get('cmp-update'))!;
      expect(c).toMatchObject({
        state: 'cancelled',
        phase: 'rollout',
        reason: 'by test',
        updatedAt: T0 + 12,
      });
      expect(c.endedAt).toBeUndefined();
      expect(await store.update('cmp-update', ['running', 'paused'], { state: 'running' }, T0 + 13)).toBe(
        false,
      );
      // An empty patch touches updatedAt only; a reason is kept when none is given.
      expect(await store.update('cmp-update', ['cancelled'], { endedAt: T0 + 14 }, T0 + 14)).toBe(true);
      expect(await store.get('cmp-update')).toMatchObject({
        state: 'cancelled',
        reason: 'by test',
        endedAt: T0 + 14,
        updatedAt: T0 + 14,
      });
      expect(await store.update('cmp-nothere', ['running'], { state: 'paused' }, T0)).toBe(false);
    });

    it('stores a transition only on the revision it was made from, and keeps the counts', async () => {
      const runs = await create(store, 'cmp-casrun', ['a', 'b', 'c', 'd'], 2);
      expect(await store.counts('cmp-casrun')).toEqual({
        all: expect.objectContaining({ pending: 4, starting: 0, succeeded: 0 }),
        canary: expect.objectContaining({ pending: 2, starting: 0 }),
      });
      expect(await store.getRun('cmp-casrun', 'a')).toEqual(runs[0]);
      expect(await store.getRun('cmp-casrun', 'zz')).toBeUndefined();

      const next: DeviceRun = {
        ...runs[0],
        state: 'starting',
        rev: 1,
        attempts: 1,
        startedAt: T0 + 1,
        deadline: T0 + 1001,
        updatedAt: T0 + 1,
        // Not kept: a store holds what JSON holds.
        error: undefined,
      };
      expect(await store.casRun('cmp-casrun', next)).toBe('ok');
      const stored = (await store.getRun('cmp-casrun', 'a'))!;
      expect(stored).toEqual({ ...next, error: undefined });
      expect('error' in stored).toBe(false);
      // The same revision again, one too far, an unknown device or campaign.
      expect(await store.casRun('cmp-casrun', { ...next, state: 'downloading' })).toBe('conflict');
      expect(await store.casRun('cmp-casrun', { ...next, rev: 3, state: 'downloading' })).toBe('conflict');
      expect((await store.getRun('cmp-casrun', 'a'))!.state).toBe('starting');
      expect(await store.casRun('cmp-casrun', { ...next, endpoint: 'zz' })).toBe('missing');
      expect(await store.casRun('cmp-nothere', next)).toBe('missing');

      expect(await move(store, 'cmp-casrun', 'a', 'downloading', T0 + 2)).toBe('ok');
      expect(await move(store, 'cmp-casrun', 'c', 'starting', T0 + 3)).toBe('ok');
      const counts = await store.counts('cmp-casrun');
      expect(counts.all).toMatchObject({ pending: 2, starting: 1, downloading: 1 });
      expect(counts.canary).toMatchObject({ pending: 1, starting: 0, downloading: 1 });
      for (const c of [counts.all, counts.canary]) {
        expect(Object.values(c).reduce((n, v) => n + v, 0)).toBe(c === counts.all ? 4 : 2);
      }
      expect(await store.counts('cmp-nothere')).toEqual({
        all: expect.objectContaining({ pending: 0 }),
        canary: expect.objectContaining({ pending: 0 }),
      });
    });

    it('refuses a step guarded by the campaign state once the campaign left it (a cancel wins)', async () => {
      await create(store, 'cmp-livestate', ['a']);
      const run = (await store.getRun('cmp-livestate', 'a'))!;
      const next: DeviceRun = { ...run, state: 'starting', rev: run.rev + 1, attempts: 1, updatedAt: T0 + 1 };
      expect(await store.update('cmp-livestate', ['running'], { state: 'paused' }, T0 + 1)).toBe(true);
      expect(await store.casRun('cmp-livestate', next, undefined, ['running'])).toBe('stopped');
      expect((await store.getRun('cmp-livestate', 'a'))!.state).toBe('pending');
      expect((await store.counts('cmp-livestate')).all.starting).toBe(0);
      // The same step is taken where the campaign's state is allowed, and unguarded.
      expect(await store.casRun('cmp-livestate', next, undefined, ['running', 'paused'])).toBe('ok');
      expect(await store.casRun('cmp-livestate', { ...next, state: 'downloading', rev: next.rev + 1 })).toBe(
        'ok',
      );
    });

    it('indexes the runs owing a reset by when it is due, and counts the resets given up once', async () => {
      await create(store, 'cmp-resets', ['a', 'b', 'c']);
      expect(await store.resets('cmp-resets')).toEqual({ owed: 0, failed: 0 });
      const owe = { resetPending: true, resetAttempts: 1 };
      expect(
        await move(store, 'cmp-resets', 'a', 'cancelled', T0 + 1, { ...owe, resetNextAt: T0 + 50 }),
      ).toBe('ok');
      expect(
        await move(store, 'cmp-resets', 'b', 'cancelled', T0 + 1, { ...owe, resetNextAt: T0 + 10 }),
      ).toBe('ok');
      expect(await move(store, 'cmp-resets', 'c', 'cancelled', T0 + 1)).toBe('ok');
      expect(await store.resets('cmp-resets')).toEqual({ owed: 2, failed: 0 });
      expect(await store.resetsDue('cmp-resets', T0 + 9, 10)).toEqual([]);
      expect(await store.resetsDue('cmp-resets', T0 + 50, 10)).toEqual(['b', 'a']);
      expect(await store.resetsDue('cmp-resets', T0 + 50, 1)).toEqual(['b']);
      // Claimed again: due later (same state, re-indexed by the new time).
      expect(
        await move(store, 'cmp-resets', 'b', 'cancelled', T0 + 2, { resetAttempts: 2, resetNextAt: T0 + 90 }),
      ).toBe('ok');
      expect(await store.resetsDue('cmp-resets', T0 + 50, 10)).toEqual(['a']);
      // Acknowledged: out of the index. Given up: out of it, counted once (a later write keeps the count).
      const { resetPending: _p, ...acked } = (await store.getRun('cmp-resets', 'a'))!;
      expect(await store.casRun('cmp-resets', { ...acked, rev: acked.rev + 1 })).toBe('ok');
      const { resetPending: _q, ...gaveUp } = (await store.getRun('cmp-resets', 'b'))!;
      expect(await store.casRun('cmp-resets', { ...gaveUp, resetFailed: true, rev: gaveUp.rev + 1 })).toBe(
        'ok',
      );
      const later = (await store.getRun('cmp-resets', 'b'))!;
      expect(await store.casRun('cmp-resets', { ...later, error: 'x', rev: later.rev + 1 })).toBe('ok');
      expect(await store.resetsDue('cmp-resets', Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
      expect(await store.resets('cmp-resets')).toEqual({ owed: 0, failed: 1 });
      // A conflicting write changes nothing.
      expect(await store.casRun('cmp-resets', { ...later, resetPending: true, resetNextAt: 0 })).toBe(
        'conflict',
      );
      expect(await store.resets('cmp-resets')).toEqual({ owed: 0, failed: 1 });
      expect(await store.resets('cmp-nothere')).toEqual({ owed: 0, failed: 0 });
    });

    it('claims a start only while fewer than maxActive are in flight', async () => {
      await create(store, 'cmp-claims', ['a', 'b', 'c']);
      const claim = { maxActive: 2, perMinute: 0 };
      expect(await move(store, 'cmp-claims', 'a', 'starting', T0 + 1, { deadline: T0 + 100 }, claim)).toBe(
        'ok',
      );
      expect(await move(store, 'cmp-claims', 'b', 'starting', T0 + 2, { deadline: T0 + 100 }, claim)).toBe(
        'ok',
      );
      expect(await move(store, 'cmp-claims', 'c', 'starting', T0 + 3, { deadline: T0 + 100 }, claim)).toBe(
        'full',
      );
      // Refused: nothing changed.
      expect(await store.getRun('cmp-claims', 'c')).toMatchObject({ state: 'pending', rev: 0 });
      expect((await store.counts('cmp-claims')).all).toMatchObject({ pending: 1, starting: 2 });
      expect(await store.due('cmp-claims', false, T0 + 3, 10)).toEqual(['c']);
      expect((await store.log('cmp-claims', '0', 10)).map((r) => r.endpoint)).toEqual(['a', 'b']);
      // A device leaving flight makes room; a transition without a claim is never refused.
      expect(await move(store, 'cmp-claims', 'a', 'succeeded', T0 + 4)).toBe('ok');
      expect(await move(store, 'cmp-claims', 'c', 'starting', T0 + 5, { deadline: T0 + 100 }, claim)).toBe(
        'ok',
      );
      expect(await move(store, 'cmp-claims', 'b', 'downloading', T0 + 6)).toBe('ok');
    });

    it('claims a start only while fewer than perMinute started in the last minute', async () => {
      await create(store, 'cmp-ratecl', ['a', 'b', 'c', 'd']);
      const claim = { maxActive: 0, perMinute: 2 };
      expect(await move(store, 'cmp-ratecl', 'a', 'starting', T0 + 1_000, {}, claim)).toBe('ok');
      expect(await move(store, 'cmp-ratecl', 'b', 'starting', T0 + 2_000, {}, claim)).toBe('ok');
      // Finished devices still count: the limit is on starts, not on devices in flight.
      expect(await move(store, 'cmp-ratecl', 'a', 'failed', T0 + 3_000)).toBe('ok');
      expect(await move(store, 'cmp-ratecl', 'c', 'starting', T0 + 30_000, {}, claim)).toBe('rate');
      expect(await store.getRun('cmp-ratecl', 'c')).toMatchObject({ state: 'pending', rev: 0 });
      expect(await move(store, 'cmp-ratecl', 'c', 'starting', T0 + 61_000, {}, claim)).toBe('ok');
      expect(await move(store, 'cmp-ratecl', 'd', 'starting', T0 + 61_500, {}, claim)).toBe('rate');
      expect(await move(store, 'cmp-ratecl', 'd', 'starting', T0 + 62_001, {}, claim)).toBe('ok');
      expect((await store.counts('cmp-ratecl')).all).toMatchObject({ starting: 3, failed: 1, pending: 0 });
    });

    it('queues pending devices by earliest start, canary batch apart, and sets in-flight ones by deadline', async () => {
      await create(store, 'cmp-queues', ['c1', 'c2', 'e', 'd', 'b', 'a'], 2);
      // Start order is the target's order.
      expect(await store.due('cmp-queues', true, T0, 10)).toEqual(['c1', 'c2']);
      expect(await store.due('cmp-queues', false, T0, 10)).toEqual(['e', 'd', 'b', 'a']);
      expect(await store.due('cmp-queues', false, T0, 2)).toEqual(['e', 'd']);
      expect(await store.due('cmp-nothere', false, T0, 2)).toEqual([]);

      // e started, then back to pending with a backoff; d asleep until later; b started.
      await move(store, 'cmp-queues', 'e', 'starting', T0 + 1, { deadline: T0 + 500 });
      await move(store, 'cmp-queues', 'b', 'starting', T0 + 1, { deadline: T0 + 300 });
      await move(store, 'cmp-queues', 'c1', 'starting', T0 + 1, { deadline: T0 + 400 });
      expect(await store.due('cmp-queues', false, T0 + 1, 10)).toEqual(['d', 'a']);
      expect(await store.due('cmp-queues', true, T0 + 1, 10)).toEqual(['c2']);
      expect(await store.activeEndpoints('cmp-queues', 10)).toEqual(['b', 'c1', 'e']);
      expect(await store.activeEndpoints('cmp-queues', 2)).toEqual(['b', 'c1']);
      expect(await store.overdue('cmp-queues', T0 + 399, 10)).toEqual(['b']);
      expect(await store.overdue('cmp-queues', T0 + 400, 10)).toEqual(['b', 'c1']);
      expect(await store.overdue('cmp-queues', T0 + 10_000, 1)).toEqual(['b']);

      await move(store, 'cmp-queues', 'e', 'pending', T0 + 2, { notBefore: T0 + 5_000 });
      await move(store, 'cmp-queues', 'd', 'pending', T0 + 2, { asleep: true, notBefore: T0 + 3_000 });
      expect(await store.due('cmp-queues', false, T0 + 2, 10)).toEqual(['a']);
      expect(await store.due('cmp-queues', false, T0 + 3_000, 10)).toEqual(['a', 'd']);
      expect(await store.due('cmp-queues', false, T0 + 9_000, 10)).toEqual(['a', 'd', 'e']);
      expect(await store.activeEndpoints('cmp-queues', 10)).toEqual(['b', 'c1']);
      // An extended deadline moves a device in flight; a final state leaves the set and the queues.
      await move(store, 'cmp-queues', 'b', 'downloading', T0 + 3, { deadline: T0 + 450 });
      expect(await store.activeEndpoints('cmp-queues', 10)).toEqual(['c1', 'b']);
      await move(store, 'cmp-queues', 'b', 'timed-out', T0 + 4);
      await move(store, 'cmp-queues', 'a', 'cancelled', T0 + 4);
      expect(await store.activeEndpoints('cmp-queues', 10)).toEqual(['c1']);
      expect(await store.due('cmp-queues', false, Number.MAX_SAFE_INTEGER, 10)).toEqual(['d', 'e']);
      expect(await store.overdue('cmp-nothere', T0, 10)).toEqual([]);
      expect(await store.activeEndpoints('cmp-nothere', 10)).toEqual([]);
    });

    it('records every change of state in the log, with the devices in flight and downloading after it', async () => {
      await create(store, 'cmp-logged', ['a', 'b']);
      expect(await store.log('cmp-logged', '0', 10)).toEqual([]);
      await move(store, 'cmp-logged', 'a', 'starting', T0 + 1);
      await move(store, 'cmp-logged', 'a', 'starting', T0 + 2, { writtenAt: T0 + 2 }); // no change of state
      await move(store, 'cmp-logged', 'b', 'starting', T0 + 3);
      await move(store, 'cmp-logged', 'a', 'downloading', T0 + 4);
      await move(store, 'cmp-logged', 'b', 'downloading', T0 + 5);
      await move(store, 'cmp-logged', 'a', 'downloaded', T0 + 6);
      await move(store, 'cmp-logged', 'a', 'updating', T0 + 7);
      await move(store, 'cmp-logged', 'a', 'succeeded', T0 + 8);
      const log = await store.log('cmp-logged', '0', 100);
      expect(log.map(({ id: _id, ...r }) => r)).toEqual([
        { endpoint: 'a', from: 'pending', to: 'starting', at: T0 + 1, active: 1, downloading: 0 },
        { endpoint: 'b', from: 'pending', to: 'starting', at: T0 + 3, active: 2, downloading: 0 },
        { endpoint: 'a', from: 'starting', to: 'downloading', at: T0 + 4, active: 2, downloading: 1 },
        { endpoint: 'b', from: 'starting', to: 'downloading', at: T0 + 5, active: 2, downloading: 2 },
        { endpoint: 'a', from: 'downloading', to: 'downloaded', at: T0 + 6, active: 2, downloading: 1 },
        { endpoint: 'a', from: 'downloaded', to: 'updating', at: T0 + 7, active: 2, downloading: 1 },
        { endpoint: 'a', from: 'updating', to: 'succeeded', at: T0 + 8, active: 1, downloading: 1 },
      ]);
      // Record ids are stream ids, increasing; `after` is exclusive and pages follow it.
      for (const r of log) expect(r.id).toMatch(/^\d+-\d+$/);
      expect(new Set(log.map((r) => r.id)).size).toBe(log.length);
      const pages: string[] = [];
      let after = '0';
      for (;;) {
        const page = await store.log('cmp-logged', after, 3);
        if (page.length === 0) break;
        pages.push(...page.map((r) => r.id));
        after = page[page.length - 1].id;
      }
      expect(pages).toEqual(log.map((r) => r.id));
      expect((await store.log('cmp-logged', log[4].id, 100)).map((r) => r.id)).toEqual(
        log.slice(5).map((r) => r.id),
      );
      expect(await store.log('cmp-logged', log[6].id, 100)).toEqual([]);
      // A bare millisecond time: the records after <ms>-0.
      const ms = log[0].id.split('-')[0];
      expect((await store.log('cmp-logged', String(Number(ms) - 1), 1))[0].id).toBe(log[0].id);
      expect(await store.log('cmp-nothere', '0', 10)).toEqual([]);
    });

    it('pages through the devices, every one exactly once, optionally of one state', async () => {
      const eps = [...Array(300).keys()].map((i) => `dev-${i}`);
      await create(store, 'cmp-paging', eps);
      for (const ep of eps.slice(0, 40)) await move(store, 'cmp-paging', ep, 'starting', T0 + 1);
      const follow = async (state?: DeviceRunState) => {
        const seen: DeviceRun[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.runs('cmp-paging', 50, cursor, state);
          seen.push(...page.items);
          cursor = page.nextCursor;
          pages++;
        } while (cursor !== undefined && pages < 1000);
        return seen;
      };
      const all = await follow();
      expect(all.map((r) => r.endpoint).sort()).toEqual([...eps].sort());
      const starting = await follow('starting');
      expect(starting.map((r) => r.endpoint).sort()).toEqual(eps.slice(0, 40).sort());
      expect(starting.every((r) => r.state === 'starting' && r.rev === 1)).toBe(true);
      expect((await follow('pending')).length).toBe(260);
      expect(await follow('succeeded')).toEqual([]);
      expect((await store.runs('cmp-nothere', 10)).items).toEqual([]);
    });
  });
}
