// GroupStore contract: groups (unique names, the bound), a request's member transitions (final is final,
// counts always add up to the total), cancel, finish, and the lease. RedisGroupStore and InMemoryGroupStore
// both run it.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { Group } from '../../src/group';
import { MEMBER_STATES } from '../../src/group-request';
import {
  GROUP_REQUEST_CURSOR,
  type GroupRequestQuery,
  type GroupStore,
  type NewGroupRequest,
} from '../../src/group-store';

export type GroupStoreFactory = () => Promise<GroupStore>;

const group = (name: string): Group => ({
  name,
  kind: 'endpoints',
  endpoints: ['a', 'b'],
  createdAt: 1,
  createdBy: 'test',
});

const request = (id: string, now = 1000): NewGroupRequest => ({
  id,
  group: 'g',
  spec: { op: 'read', path: '/3/0/0' },
  createdAt: now,
  createdBy: 'test',
  deadline: now + 60_000,
  timeoutMs: 1000,
  rate: { perSecond: 10, maxInFlight: 5 },
});

export function describeGroupStoreContract(name: string, factory: GroupStoreFactory): void {
  describe(`GroupStore contract: ${name}`, () => {
    let store: GroupStore;
    beforeEach(async () => {
      store = await factory();
    });

    async function sumsUp(id: string): Promise<void> {
      const r = (await store.getRequest(id))!;
      expect(MEMBER_STATES.reduce((n, s) => n + r.counts[s], 0)).toBe(r.total);
    }

    it('keeps group names unique and the number of groups bounded', async () => {
      expect(await store.createGroup(group('g1'), 2)).toBe('created');
      expect(await store.createGroup(group('g1'), 2)).toBe('exists');
      expect(await store.createGroup(group('g2'), 2)).toBe('created');
      expect(await store.createGroup(group('g3'), 2)).toBe('full');
      expect((await store.listGroups()).map((g) => g.name)).toEqual(['g1', 'g2']);
      expect(await store.getGroup('g1')).toEqual(group('g1'));
      expect(await store.deleteGroup('g1')).toBe(true);
      expect(await store.deleteGroup('g1')).toBe(false);
      expect(await store.getGroup('g1')).toBeUndefined();
    });

    it('dispatches members in order, at most n at a time, and a final state is final', async () => {
      await store.createRequest(request('r1'), ['e1', 'e2', 'e3']);
      expect(await store.activeRequests()).toEqual(['r1']);
      expect(await store.takePending('r1', 2, 1001)).toEqual(['e1', 'e2']);
      expect((await store.getRequest('r1'))!.counts).toMatchObject({ pending: 1, dispatching: 2 });
      expect((await store.membersIn('r1', 'dispatching')).map((m) => m.endpoint).sort()).toEqual([
        'e1',
        'e2',
      ]);
      expect(await store.settle('r1', { endpoint: 'e1', state: 'succeeded', status: 200, at: 1002 })).toBe(
        true,
      );
      expect(await store.settle('r1', { endpoint: 'e1', state: 'failed', at: 1003 })).toBe(false);
      expect(await store.settle('r1', { endpoint: 'nobody', state: 'failed', at: 1003 })).toBe(false);
      expect(await store.settle('r1', { endpoint: 'e2', state: 'queued', requestId: 'q2', at: 1004 })).toBe(
        true,
      );
      expect(await store.membersIn('r1', 'queued')).toEqual([
        { endpoint: 'e2', state: 'queued', requestId: 'q2', at: 1004 },
      ]);
      expect(await store.getMember('r1', 'e2')).toMatchObject({ state: 'queued', requestId: 'q2' });
      expect(await store.settle('r1', { endpoint: 'e2', state: 'succeeded', at: 1005 })).toBe(true);
      expect(await store.membersIn('r1', 'queued')).toEqual([]);
      await sumsUp('r1');
      expect((await store.results('r1', 0, 10)).map((m) => m.endpoint)).toEqual(['e1', 'e2']);
      expect((await store.results('r1', 1, 10)).map((m) => m.endpoint)).toEqual(['e2']);
      expect(await store.finishIfDone('r1', 1006, 60_000)).toBe('running'); // e3 is pending
      expect(await store.takePending('r1', 5, 1007)).toEqual(['e3']);
      await store.settle('r1', { endpoint: 'e3', state: 'timed-out', at: 1008 });
      expect(await store.finishIfDone('r1', 1009, 60_000)).toBe('completed');
      expect((await store.getRequest('r1'))!.finishedAt).toBe(1009);
      expect(await store.activeRequests()).toEqual([]);
    });

    it('cancel stops taking members, ends the pending ones, and finishes as cancelled', async () => {
      await store.createRequest(request('r2'), ['a', 'b', 'c', 'd']);
      await store.takePending('r2', 1, 1001);
      expect(await store.requestCancel('r2')).toBe(true);
      expect(await store.requestCancel('r2')).toBe(false);
      expect(await store.takePending('r2', 5, 1002)).toEqual([]);
      expect(await store.endPending('r2', 'cancelled', 'by test', 2, 1003)).toBe(2);
      expect(await store.endPending('r2', 'cancelled', 'by test', 2, 1003)).toBe(1);
      expect(await store.endPending('r2', 'cancelled', 'by test', 2, 1003)).toBe(0);
      expect(await store.getMember('r2', 'b')).toMatchObject({ state: 'cancelled', error: 'by test' });
      expect(await store.finishIfDone('r2', 1004, 60_000)).toBe('cancelling'); // a is in flight
      await store.settle('r2', { endpoint: 'a', state: 'succeeded', at: 1005 });
      expect(await store.finishIfDone('r2', 1006, 60_000)).toBe('cancelled');
      await sumsUp('r2');
    });

    it('a multicast request: sent once, each new server adds one final result, a second answer nothing', async () => {
      const id = 'mc-1';
      await store.createRequest({ ...request(id), multicast: { address: '239.1.2.3', port: 5683 } }, []);
      expect((await store.getRequest(id))!.multicast).toEqual({ address: '239.1.2.3', port: 5683 });
      expect(await store.claimSend(id)).toBe(true);
      expect(await store.claimSend(id)).toBe(false);
      const ok = { endpoint: 'coap://10.0.0.1:5683', state: 'succeeded' as const, payload: 's0', at: 5 };
      expect(await store.addResult(id, ok)).toBe(true);
      expect(await store.addResult(id, { ...ok, payload: 'again' })).toBe(false);
      expect(
        await store.addResult(id, {
          endpoint: 'coap://10.0.0.2:5683',
          state: 'failed',
          coapCode: '4.04',
          at: 6,
        }),
      ).toBe(true);
      const r = (await store.getRequest(id))!;
      expect(r.total).toBe(2);
      expect(r.counts.succeeded).toBe(1);
      expect(r.counts.failed).toBe(1);
      await sumsUp(id);
      expect((await store.results(id, 0, 10)).map((m) => m.payload ?? m.coapCode)).toEqual(['s0', '4.04']);
      expect((await store.getMember(id, ok.endpoint))!.payload).toBe('s0');
      expect(await store.finishIfDone(id, 10, 60_000)).toBe('completed');
      // Nothing is added once the request finished.
      expect(await store.addResult(id, { ...ok, endpoint: 'coap://10.0.0.3:5683' })).toBe(false);
    });

    it("a multicast observation's notification replaces its server's result in place and is logged, bounded", async () => {
      const id = 'mc-2';
      await store.createRequest({ ...request(id), multicast: { address: '239.1.2.3', port: 5683 } }, []);
      const a = 'coap://10.0.0.1:5683';
      const b = 'coap://10.0.0.2:5683';
      const v = (value: string) => [{ path: '/3/0/0', type: 'string', value }];
      await store.addResult(id, { endpoint: a, state: 'succeeded', values: v('a0'), observe: 1, at: 5 });
      await store.addResult(id, { endpoint: b, state: 'succeeded', values: v('b0'), observe: 1, at: 6 });
      const note = (endpoint: string, value: string, n: number) => ({
        endpoint,
        state: 'succeeded' as const,
        values: v(value),
        observe: 1 + n,
        notifications: n,
        at: 10 + n,
      });
      expect(await store.notify(id, note(a, 'a1', 1), 2)).toBe(true);
      expect(await store.notify(id, note(a, 'a2', 2), 2)).toBe(true);
      // Past maxLogged: the result still changes, the log does not grow.
      expect(await store.notify(id, note(b, 'b1', 1), 2)).toBe(true);
      // Only a server with a result in that state, only while running.
      expect(await store.notify(id, note('coap://10.0.0.9:5683', 'x', 1), 10)).toBe(false);
      expect(await store.notify(id, { ...note(a, 'a3', 3), state: 'failed' }, 10)).toBe(false);
      const r = (await store.getRequest(id))!;
      expect(r.total).toBe(2);
      expect(r.counts.succeeded).toBe(2);
      await sumsUp(id);
      const results = await store.results(id, 0, 10);
      expect(results.map((m) => [m.endpoint, m.values?.[0]?.value, m.notifications])).toEqual([
        [a, 'a2', 2],
        [b, 'b1', 1],
      ]);
      expect(await store.getMember(id, a)).toMatchObject({ values: v('a2'), notifications: 2, at: 12 });
      expect((await store.notifications(id, 0, 10)).map((m) => m.values?.[0]?.value)).toEqual(['a1', 'a2']);
      expect((await store.notifications(id, 1, 10)).map((m) => m.values?.[0]?.value)).toEqual(['a2']);
      expect(await store.finishIfDone(id, 20, 60_000)).toBe('completed');
      expect(await store.notify(id, note(a, 'a4', 4), 10)).toBe(false);
      expect((await store.getMember(id, a))!.values).toEqual(v('a2'));
      // A device group's members are never notified (they have no result index).
      await store.createRequest(request('r-dev'), ['e1']);
      await store.takePending('r-dev', 1, 1001);
      await store.settle('r-dev', { endpoint: 'e1', state: 'succeeded', at: 1002 });
      expect(await store.notify('r-dev', { endpoint: 'e1', state: 'succeeded', at: 1003 }, 10)).toBe(false);
    });

    it('leases a request to one owner at a time', async () => {
      await store.createRequest(request('r3'), ['x']);
      expect(await store.lease('r3', 'A', 10_000)).toBe(true);
      expect(await store.lease('r3', 'B', 10_000)).toBe(false);
      expect(await store.lease('r3', 'A', 10_000)).toBe(true);
      await store.releaseLease('r3', 'B'); // not B's: nothing happens
      expect(await store.lease('r3', 'B', 10_000)).toBe(false);
      await store.releaseLease('r3', 'A');
      expect(await store.lease('r3', 'B', 10_000)).toBe(true);
      expect(await store.lease('unknown', 'A', 10_000)).toBe(false);
    });

    it('lists requests newest first, paged by cursor, by group and by state', async () => {
      // Created at 1000..1005; r-b and r-c in the same ms (the id orders them).
      const made: Array<[string, string, number]> = [
        ['r-a', 'g', 1000],
        ['r-b', 'h', 1001],
        ['r-c', 'g', 1001],
        ['r-d', 'h', 1003],
        ['r-e', 'g', 1004],
        ['r-f', 'g', 1005],
      ];
      for (const [id, grp, at] of made) await store.createRequest({ ...request(id, at), group: grp }, ['x']);
      await store.takePending('r-b', 1, 2000);
      await store.settle('r-b', { endpoint: 'x', state: 'succeeded', at: 2001 });
      expect(await store.finishIfDone('r-b', 2002, 60_000)).toBe('completed');
      expect(await store.requestCancel('r-e')).toBe(true);

      async function all(q: Omit<GroupRequestQuery, 'limit' | 'cursor'>, limit: number): Promise<string[]> {
        const ids: string[] = [];
        let cursor: string | undefined;
        for (let pages = 0; pages < 20; pages++) {
          const page = await store.listRequests({ ...q, limit, ...(cursor ? { cursor } : {}) });
          expect(page.items.length).toBeLessThanOrEqual(limit);
          ids.push(...page.items.map((r) => r.id));
          if (!page.nextCursor) return ids;
          expect(page.nextCursor).toMatch(GROUP_REQUEST_CURSOR);
          cursor = page.nextCursor;
        }
        throw new Error('the pages never end');
      }
      const newestFirst = ['r-f', 'r-e', 'r-d', 'r-c', 'r-b', 'r-a'];
      const first = await store.listRequests({ limit: 2 });
      expect(first.items.map((r) => r.id)).toEqual(['r-f', 'r-e']);
      expect(first.nextCursor).toBeDefined();
      expect(first.items[1]).toMatchObject({ state: 'cancelling', total: 1, counts: { pending: 1 } });
      expect(await all({}, 2)).toEqual(newestFirst);
      expect(await all({}, 100)).toEqual(newestFirst);
      expect(await all({}, 1)).toEqual(newestFirst);
      expect(await all({ group: 'g' }, 2)).toEqual(['r-f', 'r-e', 'r-c', 'r-a']);
      expect(await all({ group: 'h' }, 1)).toEqual(['r-d', 'r-b']);
      expect(await all({ group: 'nobody' }, 5)).toEqual([]);
      expect(await all({ state: 'running' }, 2)).toEqual(['r-f', 'r-d', 'r-c', 'r-a']);
      expect(await all({ state: 'completed' }, 2)).toEqual(['r-b']);
      expect(await all({ group: 'g', state: 'cancelling' }, 1)).toEqual(['r-e']);
      expect(await all({ group: 'h', state: 'cancelling' }, 1)).toEqual([]);
      // The list's own counts are the request's.
      const b = (await store.listRequests({ limit: 10, state: 'completed' })).items[0]!;
      expect(b).toEqual(await store.getRequest('r-b'));
      expect(b.counts.succeeded).toBe(1);
    });

    it('a finished request leaves the list when its retention ends', async () => {
      await store.createRequest(request('keep', 1000), ['x']);
      await store.createRequest(request('gone', 1001), ['y']);
      await store.takePending('gone', 1, Date.now());
      await store.settle('gone', { endpoint: 'y', state: 'failed', at: Date.now() });
      expect(await store.finishIfDone('gone', Date.now(), 50)).toBe('completed');
      expect((await store.listRequests({ limit: 10 })).items.map((r) => r.id)).toContain('gone');
      // Expiry runs on the store's own clock: polled.
      const wait = { timeout: 10_000, interval: 20 };
      await vi.waitFor(async () => expect(await store.getRequest('gone')).toBeUndefined(), wait);
      await vi.waitFor(
        async () =>
          expect((await store.listRequests({ limit: 10 })).items.map((r) => r.id)).toEqual(['keep']),
        wait,
      );
      expect((await store.listRequests({ limit: 10, group: 'g' })).items.map((r) => r.id)).toEqual(['keep']);
    });

    it('knows nothing of unknown requests', async () => {
      expect(await store.getRequest('nope')).toBeUndefined();
      expect(await store.getMember('nope', 'x')).toBeUndefined();
      expect(await store.results('nope', 0, 10)).toEqual([]);
      expect(await store.notifications('nope', 0, 10)).toEqual([]);
      expect(await store.requestCancel('nope')).toBe(false);
    });
  });
}
