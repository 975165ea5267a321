// RequestStore contract: per-device order, the delivery fence, the gateway's record of an attempt, TTL,
// cancel, the queue bound, lost observations. RedisRequestStore and InMemoryRequestStore both run it.
import type { LostObservation } from '@lwm2m/server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RequestStore } from '../../src/request-store';

export interface RequestStoreFixture {
  store: RequestStore;
  close(): Promise<void>;
}

/** `maxQueueLength`: the bound the store under test keeps. */
export type RequestStoreFactory = (opts: { maxQueueLength: number }) => Promise<RequestStoreFixture>;

const MAX_QUEUE = 5;

const cmd = (id: string, ep: string) => ({
  id,
  endpoint: ep,
  op: 'read' as const,
  path: '/3/0/0',
  timeoutMs: 1000,
});

export function describeRequestStoreContract(name: string, factory: RequestStoreFactory): void {
  describe(`RequestStore contract: ${name}`, () => {
    let fx: RequestStoreFixture | undefined;
    let store: RequestStore;
    beforeEach(async () => {
      fx = await factory({ maxQueueLength: MAX_QUEUE });
      store = fx.store;
    });
    afterEach(async () => {
      await fx?.close();
      fx = undefined;
    });

    const add = (id: string, ep: string, now = 1000, ttl = 60_000) =>
      store.enqueue({
        id,
        endpoint: ep,
        command: cmd(id, ep),
        origin: 'operator',
        acceptedAt: now,
        expiresAt: now + ttl,
      });

    it('hands requests out one at a time, in accepted order', async () => {
      for (const id of ['a1', 'a2', 'a3']) expect(await add(id, 'ep-a')).toBe('added');
      expect(await add('a1', 'ep-a')).toBe('exists');
      expect(await store.endpointsWithPending()).toEqual(['ep-a']);
      const seen: string[] = [];
      for (let i = 0; i < 3; i++) {
        const c = await store.claim('ep-a', 2000, `t${i}`);
        expect(c.kind).toBe('deliver');
        if (c.kind !== 'deliver') return;
        expect(c.command).toEqual(cmd(c.id, 'ep-a'));
        expect(c.attempt).toBe(1);
        // while one is in flight, the next is not handed out
        expect(await store.claim('ep-a', 2000, 'other')).toMatchObject({
          kind: 'inflight',
          id: c.id,
          token: `t${i}`,
          begun: false,
          completed: false,
          startedAt: 2000,
        });
        seen.push(c.id);
        expect(await store.begin(c.id, `t${i}`)).toBe(true);
        await store.complete(c.id, `t${i}`, { id: c.id, ok: true, status: 200 });
        expect(await store.claim('ep-a', 2000, 'other')).toMatchObject({ begun: true, completed: true });
        expect(
          await store.settle({ id: c.id, endpoint: 'ep-a', token: `t${i}`, state: 'succeeded', now: 2000 }),
        ).toBe(1);
      }
      expect(seen).toEqual(['a1', 'a2', 'a3']);
      expect((await store.claim('ep-a', 2000, 'x')).kind).toBe('empty');
      expect(await store.endpointsWithPending()).not.toContain('ep-a');
      expect(await store.hasPending('ep-a')).toBe(false);
      expect(await store.get('a1')).toMatchObject({
        id: 'a1',
        endpoint: 'ep-a',
        state: 'succeeded',
        attempts: 1,
        acceptedAt: 1000,
        updatedAt: 2000,
        result: { id: 'a1', ok: true, status: 200 },
      });
    });

    it('lets exactly one of a gateway begin and a scheduler fence win', async () => {
      await add('b1', 'ep-b');
      const c = await store.claim('ep-b', 2000, 'tb');
      expect(c.kind).toBe('deliver');
      // fence first: the late begin is refused, the request is queued again and not counted as an attempt
      expect(
        await store.settle({
          id: 'b1',
          endpoint: 'ep-b',
          token: 'tb',
          state: 'queued',
          now: 2000,
          notBefore: 2000,
          countsAsAttempt: false,
          onlyIfNotBegun: true,
        }),
      ).toBe(1);
      expect(await store.begin('b1', 'tb')).toBe(false);
      expect((await store.get('b1'))?.attempts).toBe(0);
      // begin first: the fence loses
      const c2 = await store.claim('ep-b', 2000, 'tb2');
      expect(c2.kind).toBe('deliver');
      expect(await store.begin('b1', 'tb2')).toBe(true);
      expect(await store.begin('b1', 'tb2')).toBe(false);
      expect(
        await store.settle({
          id: 'b1',
          endpoint: 'ep-b',
          token: 'tb2',
          state: 'queued',
          now: 2000,
          onlyIfNotBegun: true,
        }),
      ).toBe(-1);
      // a stale token settles nothing
      expect(
        await store.settle({ id: 'b1', endpoint: 'ep-b', token: 'tb', state: 'failed', now: 2000 }),
      ).toBe(0);
    });

    it('records a begun attempt and its answer for that attempt only', async () => {
      await add('r1', 'ep-r');
      await store.claim('ep-r', 2000, 'tr');
      expect(await store.recorded('r1', 'tr')).toEqual({ begun: false });
      await store.complete('r1', 'tr', { id: 'r1', ok: true, status: 204 }); // not begun: ignored
      expect(await store.recorded('r1', 'tr')).toEqual({ begun: false });
      expect(await store.begin('r1', 'tr')).toBe(true);
      expect(await store.recorded('r1', 'tr')).toEqual({ begun: true });
      await store.complete('r1', 'other', { id: 'r1', ok: false, status: 500 });
      await store.complete('r1', 'tr', { id: 'r1', ok: true, status: 204, coapCode: '2.04' });
      expect(await store.recorded('r1', 'tr')).toEqual({
        begun: true,
        result: { id: 'r1', ok: true, status: 204, coapCode: '2.04' },
      });
      expect(await store.recorded('r1', 'other')).toEqual({ begun: false });
      expect(await store.recorded('unknown', 'tr')).toEqual({ begun: false });
    });

    it('backs off a retried request until its notBefore, counting the attempt', async () => {
      await add('w1', 'ep-w');
      await store.claim('ep-w', 2000, 'tw');
      await store.begin('w1', 'tw');
      expect(
        await store.settle({
          id: 'w1',
          endpoint: 'ep-w',
          token: 'tw',
          state: 'queued',
          now: 2100,
          error: 'no answer',
          notBefore: 5000,
          countsAsAttempt: true,
        }),
      ).toBe(1);
      expect(await store.get('w1')).toMatchObject({
        state: 'queued',
        attempts: 1,
        notBefore: 5000,
        error: 'no answer',
      });
      expect(await store.claim('ep-w', 4999, 'tw2')).toEqual({
        kind: 'wait',
        expired: [],
        id: 'w1',
        notBefore: 5000,
      });
      const c = await store.claim('ep-w', 5000, 'tw3');
      expect(c.kind === 'deliver' && c.attempt).toBe(2);
      expect(await store.recorded('w1', 'tw3')).toEqual({ begun: false });
    });

    it('expires queued requests past their TTL, and never hands out a cancelled one', async () => {
      await add('c1', 'ep-c', 1000, 500);
      await add('c2', 'ep-c', 1000, 60_000);
      await add('c3', 'ep-c', 1000, 60_000);
      expect(await store.cancel('c2', 1200, 'other-ep')).toBeUndefined();
      expect(await store.cancel('c2', 1200)).toEqual({ cancelled: true, state: 'cancelled' });
      expect(await store.get('c2')).toMatchObject({ state: 'cancelled', error: 'cancelled by an operator' });
      expect(await store.sweepExpired(1600)).toEqual([{ id: 'c1', endpoint: 'ep-c' }]);
      expect(await store.get('c1')).toMatchObject({ state: 'expired', updatedAt: 1600 });
      const c = await store.claim('ep-c', 1700, 'tc');
      expect(c.kind === 'deliver' && c.id).toBe('c3');
      expect(await store.cancel('c3', 1700)).toEqual({ cancelled: false, state: 'delivering' });
      expect((await store.listPending('ep-c')).map((r) => r.id)).toEqual(['c3']);
      expect(await store.cancel('nobody', 1700)).toBeUndefined();
    });

    it('expires a head past its TTL when claiming, and says which', async () => {
      await add('h1', 'ep-h', 1000, 100);
      await add('h2', 'ep-h', 1000, 100);
      await add('h3', 'ep-h', 1000, 60_000);
      const c = await store.claim('ep-h', 2000, 'th');
      expect(c).toMatchObject({ kind: 'deliver', id: 'h3', expired: ['h1', 'h2'] });
      expect((await store.get('h2'))?.state).toBe('expired');
    });

    it('refuses a request beyond the queue bound of its device, not of others', async () => {
      for (let i = 0; i < MAX_QUEUE; i++) expect(await add(`f${i}`, 'ep-f')).toBe('added');
      expect(await add('f-over', 'ep-f')).toBe('full');
      expect(await add('g0', 'ep-g')).toBe('added');
      expect(await store.get('f-over')).toBeUndefined();
      expect((await store.listPending('ep-f')).length).toBe(MAX_QUEUE);
    });

    it('keeps lost observations for the next registration, once', async () => {
      const lost: LostObservation[] = [
        { id: 'o1', paths: ['/3303/0/5700'], composite: false, contentFormat: 112 },
        { id: 'o2', paths: ['/3/0/9', '/3/0/10'], composite: true },
      ];
      await store.keepLostObservations('ep-l', lost, 60);
      expect(await store.takeLostObservations('ep-other')).toEqual([]);
      const taken = await store.takeLostObservations('ep-l');
      expect(taken.sort((a, b) => a.id.localeCompare(b.id))).toEqual(lost);
      expect(await store.takeLostObservations('ep-l')).toEqual([]);
    });

    it('takes lost observations and tells which endpoints have pending requests, for a batch of events', async () => {
      const lost: LostObservation[] = [{ id: 'o3', paths: ['/3/0/13'], composite: false }];
      await store.keepLostObservations('ep-r', lost, 60);
      await add('r1', 'ep-p');
      const state = await store.forEvents(['ep-r', 'ep-r', 'ep-n'], ['ep-r', 'ep-p', 'ep-n']);
      expect(state.lost).toEqual(
        new Map([
          ['ep-r', lost],
          ['ep-n', []],
        ]),
      );
      expect(state.pending).toEqual(new Set(['ep-p']));
      expect((await store.forEvents(['ep-r'], [])).lost.get('ep-r')).toEqual([]);
      expect(await store.forEvents([], [])).toEqual({ lost: new Map(), pending: new Set() });
    });
  });
}
