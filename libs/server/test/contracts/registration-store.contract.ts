// RegistrationStore contract (LwM2M TS 1.2 Core 6.2: Register replaces, Update of an unknown id is 4.04,
// lifetime expiry). Every implementation runs it; see ../memory-stores.spec.ts and libs/registry/test.
import type { Lwm2mEvent, Registration, UpdateAnnouncement } from '@lwm2m/server';
import { describe, expect, it } from 'vitest';
import { type FixtureFactory, makeObservation, makeRegistration, useFixture } from './fixture';

export function describeRegistrationStoreContract(name: string, factory: FixtureFactory): void {
  describe(`RegistrationStore contract: ${name}`, () => {
    const fx = useFixture(factory);

    it('finds a registration by endpoint and by registration id', async () => {
      const { registrations } = fx();
      const reg = makeRegistration('urn:dev:one');
      expect(await registrations.register(reg)).toEqual({ cancelledObservations: [] });
      expect(await registrations.getByEndpoint('urn:dev:one')).toEqual(reg);
      expect(await registrations.getById(reg.registrationId)).toEqual(reg);
      expect(await registrations.getByEndpoint('urn:dev:other')).toBeUndefined();
      expect(await registrations.getById('nope')).toBeUndefined();
    });

    it('counts the registered endpoints: a re-registration is still one, a de-registration removes it', async () => {
      const { registrations } = fx();
      expect(await registrations.count!()).toBe(0);
      const a = makeRegistration('urn:dev:count-a');
      await registrations.register(a);
      await registrations.register(makeRegistration('urn:dev:count-b'));
      await registrations.register(makeRegistration('urn:dev:count-b'));
      expect(await registrations.count!()).toBe(2);
      await registrations.deregister(a.registrationId);
      expect(await registrations.count!()).toBe(1);
    });

    it('appends the event given with a change in the same step, once and whole, or leaves it to the caller', async () => {
      const { registrations, observations, events } = fx();
      const ep = 'urn:dev:events';
      const registered = (registration: Registration): Lwm2mEvent => ({
        type: 'registered',
        endpoint: ep,
        registration,
      });
      const first = makeRegistration(ep);
      const r1 = await registrations.register(first, registered(first));
      const second = makeRegistration(ep);
      const r2 = await registrations.register(second, registered(second));
      const announce: UpdateAnnouncement = {
        event: (registration) => ({ type: 'updated', endpoint: ep, registration }),
      };
      const updated = await registrations.update(second.registrationId, { lifetime: 60 }, announce);
      const gone: Lwm2mEvent = {
        type: 'deregistered',
        endpoint: ep,
        registrationId: second.registrationId,
        reason: 'device',
      };
      const removed = await registrations.deregister(second.registrationId, gone);
      // An unknown registration appends nothing.
      expect(await registrations.deregister(second.registrationId, gone)).toBeUndefined();
      const unknown: UpdateAnnouncement = { event: announce.event };
      expect(await registrations.update('nope', { lifetime: 1 }, unknown)).toBeUndefined();
      expect(unknown.appended).toBeUndefined();
      const expected = [
        ...(r1.eventId ? [{ ...registered(first), id: r1.eventId }] : []),
        ...(r2.eventId ? [{ ...registered(second), replaced: first.registrationId, id: r2.eventId }] : []),
        ...(announce.appended ? [{ ...announce.event(updated!), id: announce.appended }] : []),
        ...(removed?.eventId ? [{ ...gone, id: removed.eventId }] : []),
      ];
      expect((await events.recent(10, ep)).map(({ at: _at, ...e }) => e)).toEqual(expected);

      // With observations cancelled the event needs them: the store leaves it to the caller.
      const third = makeRegistration(ep);
      await registrations.register(third);
      await observations.add(makeObservation(third));
      const r4 = await registrations.register(makeRegistration(ep), registered(third));
      expect(r4.cancelledObservations).toHaveLength(1);
      expect(r4.eventId).toBeUndefined();
      expect(await events.recent(10, ep)).toHaveLength(expected.length);
    });

    it('keeps empty arrays and nested objects intact', async () => {
      const { registrations } = fx();
      const reg = makeRegistration('urn:dev:empty', {
        objectLinks: [],
        supportedContentFormats: [],
        extraAttributes: {},
        smsNumber: '+15550100',
      });
      await registrations.register(reg);
      expect(await registrations.getByEndpoint(reg.endpoint)).toEqual(reg);
    });

    it('replaces an existing registration of the endpoint and cancels its observations and values', async () => {
      const { registrations, observations, values } = fx();
      const first = makeRegistration('urn:dev:re');
      await registrations.register(first);
      const o1 = makeObservation(first);
      const o2 = makeObservation(first, { paths: ['/3/0/13', '/3/0/9'], composite: true });
      await observations.add(o1);
      await observations.add(o2);
      await values.put(first.endpoint, [{ path: '/3/0/0', type: 'string', value: 'ACME' }], 1000);

      const second = makeRegistration('urn:dev:re');
      const res = await registrations.register(second);
      expect(res.replaced).toEqual(first);
      expect(res.cancelledObservations.map((o) => o.id).sort()).toEqual([o1.id, o2.id].sort());
      expect(await registrations.getByEndpoint('urn:dev:re')).toEqual(second);
      expect(await registrations.getById(first.registrationId)).toBeUndefined();
      expect(await registrations.getById(second.registrationId)).toEqual(second);
      expect(await registrations.update(first.registrationId, { lifetime: 5 })).toBeUndefined();
      expect(await registrations.deregister(first.registrationId)).toBeUndefined();
      expect(await observations.listByEndpoint('urn:dev:re')).toEqual([]);
      expect(await observations.getByToken(o1.token)).toBeUndefined();
      expect(await observations.getById(o2.id)).toBeUndefined();
      expect(await values.get('urn:dev:re')).toEqual([]);
      const page = await registrations.list({ limit: 10 });
      expect(page.items).toEqual([second]);
    });

    it('answers undefined to an update of an unknown registration id', async () => {
      const { registrations } = fx();
      expect(await registrations.update('unknown', { lifetime: 60 })).toBeUndefined();
    });

    it('applies an update and returns the updated registration', async () => {
      const { registrations } = fx();
      const reg = makeRegistration('urn:dev:up');
      await registrations.register(reg);
      const patch = {
        lifetime: 120,
        binding: 'UQ',
        queueMode: true,
        objectLinks: [{ path: '/3303/0', attributes: {} }],
        lastUpdate: reg.lastUpdate + 5,
        expiresAt: reg.lastUpdate + 5 + 120_000,
        address: { address: '198.51.100.7', port: 40000 },
      };
      const updated = await registrations.update(reg.registrationId, patch);
      expect(updated).toEqual({ ...reg, ...patch });
      expect(await registrations.getById(reg.registrationId)).toEqual({ ...reg, ...patch });
      expect(await registrations.nextExpiry()).toBe(patch.expiresAt);
    });

    it('deregisters with its observations and values, once', async () => {
      const { registrations, observations, values } = fx();
      const reg = makeRegistration('urn:dev:bye');
      const other = makeRegistration('urn:dev:stay');
      await registrations.register(reg);
      await registrations.register(other);
      const obs = makeObservation(reg);
      const kept = makeObservation(other);
      await observations.add(obs);
      await observations.add(kept);
      await values.put(reg.endpoint, [{ path: '/3/0/9', type: 'integer', value: 80 }], 1);
      await values.put(other.endpoint, [{ path: '/3/0/9', type: 'integer', value: 50 }], 1);

      const res = await registrations.deregister(reg.registrationId);
      expect(res).toEqual({ registration: reg, cancelledObservations: [obs] });
      expect(await registrations.deregister(reg.registrationId)).toBeUndefined();
      expect(await registrations.getByEndpoint(reg.endpoint)).toBeUndefined();
      expect(await registrations.getById(reg.registrationId)).toBeUndefined();
      expect(await observations.getByToken(obs.token)).toBeUndefined();
      expect(await values.get(reg.endpoint)).toEqual([]);
      expect(await observations.getByToken(kept.token)).toEqual(kept);
      expect(await values.get(other.endpoint)).toHaveLength(1);
      expect((await registrations.list({ limit: 10 })).items.map((r) => r.endpoint)).toEqual([
        'urn:dev:stay',
      ]);
    });

    it('pages through every registration in endpoint order with a stable cursor', async () => {
      const { registrations } = fx();
      const names = Array.from({ length: 25 }, (_, i) => `dev-${String(i).padStart(2, '0')}`);
      for (const n of [...names].reverse()) await registrations.register(makeRegistration(n));
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await registrations.list({ limit: 10, cursor });
        seen.push(...page.items.map((r) => r.endpoint));
        cursor = page.nextCursor;
        pages++;
      } while (cursor && pages < 10);
      expect(seen).toEqual(names);
      expect(pages).toBe(3);
    });

    it('keeps paging correct when a device registers between pages', async () => {
      const { registrations } = fx();
      for (const n of ['a', 'c', 'e', 'g']) await registrations.register(makeRegistration(n));
      const first = await registrations.list({ limit: 2 });
      expect(first.items.map((r) => r.endpoint)).toEqual(['a', 'c']);
      await registrations.register(makeRegistration('b'));
      await registrations.register(makeRegistration('d'));
      const second = await registrations.list({ limit: 2, cursor: first.nextCursor });
      expect(second.items.map((r) => r.endpoint)).toEqual(['d', 'e']);
    });

    it('filters by a case-insensitive substring of the endpoint', async () => {
      const { registrations } = fx();
      for (const n of ['Sensor-A', 'sensor-b', 'meter-1', 'urn:SENSOR:9', 'pump'])
        await registrations.register(makeRegistration(n));
      const page = await registrations.list({ limit: 10, q: 'sEnSoR' });
      expect(page.items.map((r) => r.endpoint).sort()).toEqual(
        ['Sensor-A', 'sensor-b', 'urn:SENSOR:9'].sort(),
      );
      expect(page.nextCursor).toBeUndefined();

      const first = await registrations.list({ limit: 2, q: 'sensor' });
      expect(first.items).toHaveLength(2);
      const rest = await registrations.list({ limit: 2, q: 'sensor', cursor: first.nextCursor });
      const all = [...first.items, ...rest.items].map((r) => r.endpoint);
      expect(all.sort()).toEqual(['Sensor-A', 'sensor-b', 'urn:SENSOR:9'].sort());
      expect((await registrations.list({ limit: 10, q: 'nothing' })).items).toEqual([]);
    });

    it('caps a page at 1000 items', async () => {
      const { registrations } = fx();
      await Promise.all(
        Array.from({ length: 1003 }, (_, i) => registrations.register(makeRegistration(`cap-${i}`))),
      );
      const page = await registrations.list({ limit: 5000 });
      expect(page.items).toHaveLength(1000);
      expect(page.nextCursor).toBeDefined();
      const rest = await registrations.list({ limit: 5000, cursor: page.nextCursor });
      expect(rest.items).toHaveLength(3);
      expect(rest.nextCursor).toBeUndefined();
    });

    const W = 60_000;
    const ok = { registered: true };
    const gone = { registered: false };

    it('records uplinks with touch as presence, merged into reads, without changing the lifetime', async () => {
      const { registrations } = fx();
      const reg = makeRegistration('urn:dev:touch');
      await registrations.register(reg);
      const address = { address: '203.0.113.9', port: 61000 };
      const seen = {
        endpoint: reg.endpoint,
        registrationId: reg.registrationId,
        lastSeen: reg.lastSeen + 1000,
        address,
        // A DTLS session by CID: the typed ref goes through the store and back (libs/transport SessionRef).
        session: { kind: 'cid' as const, cid: Buffer.from('0a0b0c0d0e0f1011', 'hex') },
        gatewayNode: 'node-7',
      };
      expect(await registrations.touch([seen], W)).toEqual([ok]);
      const after = {
        ...reg,
        lastSeen: reg.lastSeen + 1000,
        address,
        session: seen.session,
        gatewayNode: 'node-7',
      };
      expect(await registrations.getByEndpoint(reg.endpoint)).toEqual(after);
      expect(await registrations.getById(reg.registrationId)).toEqual(after);
      expect((await registrations.list({ limit: 10, q: 'dev:touch' })).items).toEqual([after]);
      // An older sighting (another node's, written late) changes nothing.
      const older = { ...seen, lastSeen: reg.lastSeen + 500, address: { address: '198.51.100.1', port: 1 } };
      expect(await registrations.touch([older], W)).toEqual([ok]);
      expect(await registrations.getByEndpoint(reg.endpoint)).toEqual(after);
    });

    it('says when a sighting woke a sleeping queue-mode client: silent past the window, or marked asleep since', async () => {
      const { registrations } = fx();
      const reg = makeRegistration('urn:dev:wake', { queueMode: true });
      await registrations.register(reg);
      const at = (dt: number) => ({
        endpoint: reg.endpoint,
        registrationId: reg.registrationId,
        lastSeen: reg.lastSeen + dt,
        address: reg.address,
        session: reg.session,
      });
      expect(await registrations.touch([at(W - 1)], W)).toEqual([ok]);
      // Silent past the window since the last sighting (another node's, stored): awake.
      expect(await registrations.touch([at(2 * W + 10)], W)).toEqual([
        { registered: true, wokeAfterMs: W + 11 },
      ]);
      // A request found it asleep after that: the next sighting wakes it, however soon.
      await registrations.update(reg.registrationId, { asleepAt: reg.lastSeen + 2 * W + 20 });
      expect(await registrations.touch([at(2 * W + 30)], W)).toEqual([{ registered: true, wokeAfterMs: 20 }]);
      expect(await registrations.touch([at(2 * W + 40)], W)).toEqual([ok]);
      // Not in queue mode: never asleep.
      const always = makeRegistration('urn:dev:wake-nq', { queueMode: false });
      await registrations.register(always);
      const late = { ...at(10 * W), endpoint: always.endpoint, registrationId: always.registrationId };
      expect(await registrations.touch([late], W)).toEqual([ok]);
    });

    it('refuses presence of a registration that is gone or replaced, and drops it with its registration', async () => {
      const { registrations } = fx();
      const reg = makeRegistration('urn:dev:touch-gone');
      await registrations.register(reg);
      const seen = {
        endpoint: reg.endpoint,
        registrationId: reg.registrationId,
        lastSeen: reg.lastSeen + 1000,
        address: { address: '203.0.113.9', port: 61000 },
        session: { kind: 'address' as const, address: '203.0.113.9', port: 61000, secure: false },
      };
      const unknown = { ...seen, endpoint: 'urn:dev:unknown', registrationId: 'nope' };
      expect(await registrations.touch([unknown, { ...seen, registrationId: 'other' }, seen], W)).toEqual([
        gone,
        gone,
        ok,
      ]);
      expect(await registrations.getByEndpoint('urn:dev:unknown')).toBeUndefined();
      // A new registration of the endpoint starts without the old one's presence.
      const again = { ...makeRegistration('urn:dev:touch-gone'), registrationId: 'again' };
      await registrations.register(again);
      expect(await registrations.getByEndpoint(reg.endpoint)).toEqual(again);
      expect(await registrations.touch([seen], W)).toEqual([gone]);
      // An Update's own address and lastSeen win over an older sighting.
      await registrations.touch([{ ...seen, registrationId: 'again', lastSeen: again.lastSeen + 10 }], W);
      const moved = {
        address: { address: '192.0.2.1', port: 5 },
        session: { kind: 'address' as const, address: '192.0.2.1', port: 5, secure: true },
        lastSeen: again.lastSeen + 20,
      };
      const updated = await registrations.update('again', moved);
      expect(updated).toMatchObject(moved);
      expect(await registrations.getByEndpoint(reg.endpoint)).toMatchObject(moved);
    });

    it('claims expired registrations with their observations and leaves the others', async () => {
      const { registrations, observations } = fx();
      const now = Date.now();
      const late = makeRegistration('late', { expiresAt: now - 10 });
      const due = makeRegistration('due', { expiresAt: now });
      const alive = makeRegistration('alive', { expiresAt: now + 60_000 });
      for (const r of [late, due, alive]) await registrations.register(r);
      const obs = makeObservation(late);
      await observations.add(obs);

      const claimed = await registrations.claimExpired(now, 10);
      expect(claimed.map((c) => c.registration.endpoint).sort()).toEqual(['due', 'late']);
      expect(claimed.find((c) => c.registration.endpoint === 'late')?.cancelledObservations).toEqual([obs]);
      expect(await registrations.getByEndpoint('late')).toBeUndefined();
      expect(await registrations.getById(due.registrationId)).toBeUndefined();
      expect(await observations.getByToken(obs.token)).toBeUndefined();
      expect(await registrations.claimExpired(now, 10)).toEqual([]);
      expect(await registrations.getByEndpoint('alive')).toEqual(alive);
      expect(await registrations.nextExpiry()).toBe(alive.expiresAt);
    });

    it('claims at most max registrations per call', async () => {
      const { registrations } = fx();
      const now = Date.now();
      for (let i = 0; i < 5; i++)
        await registrations.register(makeRegistration(`m${i}`, { expiresAt: now - i }));
      expect(await registrations.claimExpired(now, 2)).toHaveLength(2);
      expect(await registrations.claimExpired(now, 0)).toEqual([]);
      expect(await registrations.claimExpired(now, 10)).toHaveLength(3);
    });

    it('does not claim a registration whose update moved its deadline', async () => {
      const { registrations } = fx();
      const now = Date.now();
      const reg = makeRegistration('renewed', { expiresAt: now + 1000 });
      await registrations.register(reg);
      await registrations.update(reg.registrationId, { expiresAt: now + 120_000, lastUpdate: now });
      expect(await registrations.claimExpired(now + 5000, 10)).toEqual([]);
      expect(await registrations.nextExpiry()).toBe(now + 120_000);
      expect(await registrations.getById(reg.registrationId)).toBeDefined();
    });

    it('hands each expired registration to exactly one of two concurrent claimers', async () => {
      const { registrations, peer } = fx();
      const now = Date.now();
      for (let round = 0; round < 3; round++) {
        const names = Array.from({ length: 40 }, (_, i) => `race-${round}-${i}`);
        await Promise.all(
          names.map((n, i) => registrations.register(makeRegistration(n, { expiresAt: now - i }))),
        );
        const [a, b] = await Promise.all([
          registrations.claimExpired(now, 100),
          peer.registrations.claimExpired(now, 100),
        ]);
        const got = [...a, ...b].map((c) => c.registration.endpoint);
        expect(got.sort()).toEqual([...names].sort());
        expect(new Set(got).size).toBe(got.length);
      }
    });

    it('reports the earliest deadline, undefined when empty', async () => {
      const { registrations } = fx();
      expect(await registrations.nextExpiry()).toBeUndefined();
      const a = makeRegistration('x1', { expiresAt: 5_000_000 });
      const b = makeRegistration('x2', { expiresAt: 4_000_000 });
      await registrations.register(a);
      await registrations.register(b);
      expect(await registrations.nextExpiry()).toBe(4_000_000);
      await registrations.deregister(b.registrationId);
      expect(await registrations.nextExpiry()).toBe(5_000_000);
    });

    it('sees the changes of another node', async () => {
      const { registrations, peer } = fx();
      const reg = makeRegistration('urn:dev:shared');
      await registrations.register(reg);
      expect(await peer.registrations.getById(reg.registrationId)).toEqual(reg);
      await peer.registrations.update(reg.registrationId, { lifetime: 30 });
      expect((await registrations.getByEndpoint(reg.endpoint))?.lifetime).toBe(30);
    });
  });
}
