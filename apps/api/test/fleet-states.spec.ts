// FleetStates: the fleet's counts by presence state, one pass over the registrations at most once per 5 s
// (or ten times a slow pass's duration), one pass for callers that ask at the same time.
import { describe, expect, it } from 'vitest';
import type { ListQuery, Page, Registration } from '@lwm2m/server';
import { FLEET_STATES_MIN_AGE_MS, FleetStates } from '../src/devices/fleet-states';
import { registration } from './fakes';

function fleet(clock: { now: number }, n: { online: number; asleep: number; offline: number }) {
  const now = clock.now;
  const regs: Registration[] = [];
  const add = (kind: string, count: number, over: Partial<Registration>) => {
    for (let i = 0; i < count; i++) regs.push(registration(`${kind}-${String(i).padStart(5, '0')}`, over));
  };
  add('on', n.online, { lastSeen: now, expiresAt: now + 300_000 });
  add('zz', n.asleep, { queueMode: true, lastSeen: now - 600_000, expiresAt: now + 300_000 });
  add('off', n.offline, { lastSeen: now - 600_000, expiresAt: now - 1 });
  regs.sort((a, b) => (a.endpoint < b.endpoint ? -1 : 1));
  const store = {
    passes: 0,
    calls: 0,
    /** Clock advance per page read (a slow store). */
    pageMs: 0,
    async list(q: ListQuery): Promise<Page<Registration>> {
      store.calls++;
      if (q.cursor === undefined) store.passes++;
      await new Promise((ok) => setImmediate(ok));
      clock.now += store.pageMs;
      const from = q.cursor === undefined ? 0 : regs.findIndex((r) => r.endpoint > q.cursor!);
      const items = from < 0 ? [] : regs.slice(from, from + q.limit);
      const more = from >= 0 && from + q.limit < regs.length;
      return { items, ...(more ? { nextCursor: items[items.length - 1]!.endpoint } : {}) };
    },
  };
  return store;
}

describe('FleetStates', () => {
  it('counts every page of the fleet by state', async () => {
    const clock = { now: Date.UTC(2026, 0, 1) };
    const store = fleet(clock, { online: 1500, asleep: 700, offline: 3 });
    const s = new FleetStates(store, () => clock.now);
    expect(await s.get()).toEqual({ counts: { online: 1500, asleep: 700, offline: 3 }, at: clock.now });
    expect(store.calls).toBe(3); // 2,203 registrations in pages of 1,000
  });

  it('reuses the counts for 5 s, and callers asking together share one pass', async () => {
    const clock = { now: Date.UTC(2026, 0, 1) };
    const store = fleet(clock, { online: 2, asleep: 1, offline: 1 });
    const s = new FleetStates(store, () => clock.now);
    const together = await Promise.all([s.get(), s.get(), s.get()]);
    expect(store.passes).toBe(1);
    expect(together[1]).toBe(together[0]);
    clock.now += FLEET_STATES_MIN_AGE_MS - 1;
    await s.get();
    expect(store.passes).toBe(1);
    clock.now += 1;
    expect((await s.get()).at).toBe(clock.now);
    expect(store.passes).toBe(2);
  });

  it('waits ten times as long as a slow pass took before the next one', async () => {
    const clock = { now: Date.UTC(2026, 0, 1) };
    const store = fleet(clock, { online: 2500, asleep: 0, offline: 0 });
    store.pageMs = 1000; // 3 pages: the pass takes 3 s
    const s = new FleetStates(store, () => clock.now);
    const first = await s.get();
    expect(clock.now - first.at).toBe(3000);
    clock.now = first.at + 29_999;
    await s.get();
    expect(store.passes).toBe(1);
    clock.now = first.at + 30_000;
    await s.get();
    expect(store.passes).toBe(2);
  });
});
