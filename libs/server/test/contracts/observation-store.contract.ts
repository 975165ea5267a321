// ObservationStore contract (RFC 7641 section 3-4: a notification is matched by its token, on any node).
import { describe, expect, it } from 'vitest';
import { type FixtureFactory, makeObservation, makeRegistration, useFixture } from './fixture';

export function describeObservationStoreContract(name: string, factory: FixtureFactory): void {
  describe(`ObservationStore contract: ${name}`, () => {
    const fx = useFixture(factory);

    it('finds an observation by id, by token and by endpoint', async () => {
      const { observations, registrations } = fx();
      const reg = makeRegistration('urn:obs:1');
      await registrations.register(reg);
      const obs = makeObservation(reg, { contentFormat: 112 });
      await observations.add(obs);
      expect(await observations.getById(obs.id)).toEqual(obs);
      expect(await observations.getByToken(obs.token)).toEqual(obs);
      expect(await observations.listByEndpoint('urn:obs:1')).toEqual([obs]);
      expect(await observations.getByToken('deadbeef00')).toBeUndefined();
      expect(await observations.getById('missing')).toBeUndefined();
      expect(await observations.listByEndpoint('urn:obs:none')).toEqual([]);
    });

    it('lists the observations of one endpoint in creation order', async () => {
      const { observations } = fx();
      const reg = makeRegistration('urn:obs:many');
      const other = makeRegistration('urn:obs:else');
      const a = makeObservation(reg, { createdAt: 3 });
      const b = makeObservation(reg, { createdAt: 1, paths: ['/3/0/13', '/3303/0/5700'], composite: true });
      const c = makeObservation(other);
      for (const o of [a, b, c]) await observations.add(o);
      expect(await observations.listByEndpoint(reg.endpoint)).toEqual([b, a]);
    });

    it('removes an observation once and frees its token', async () => {
      const { observations } = fx();
      const reg = makeRegistration('urn:obs:rm');
      const obs = makeObservation(reg);
      await observations.add(obs);
      expect(await observations.remove(obs.id)).toEqual(obs);
      expect(await observations.remove(obs.id)).toBeUndefined();
      expect(await observations.getByToken(obs.token)).toBeUndefined();
      expect(await observations.listByEndpoint(reg.endpoint)).toEqual([]);
      const again = makeObservation(reg, { token: obs.token });
      await observations.add(again);
      expect(await observations.getByToken(obs.token)).toEqual(again);
    });

    it('matches a notification on another node by token', async () => {
      const { observations, peer } = fx();
      const obs = makeObservation(makeRegistration('urn:obs:peer'));
      await observations.add(obs);
      expect(await peer.observations.getByToken(obs.token)).toEqual(obs);
      expect(await peer.observations.remove(obs.id)).toEqual(obs);
      expect(await observations.getById(obs.id)).toBeUndefined();
    });
  });
}
