// ValueStore contract: the latest value per path (LwM2M TS 1.2 Core 6.4 notifications, 6.4.4 Send).
import { describe, expect, it } from 'vitest';
import { type FixtureFactory, useFixture } from './fixture';

export function describeValueStoreContract(name: string, factory: FixtureFactory): void {
  describe(`ValueStore contract: ${name}`, () => {
    const fx = useFixture(factory);

    it('appends the event given with values in the same step, once and whole, or leaves it to the caller', async () => {
      const { values, events } = fx();
      const v = [{ path: '/3303/0/5700', type: 'float' as const, value: 21.5 }];
      const event = {
        type: 'notification' as const,
        endpoint: 'urn:v:ev',
        observationId: 'o1',
        paths: ['/3303/0/5700'],
        values: v,
      };
      const id = await values.put('urn:v:ev', v, 1000, event);
      expect(await values.get('urn:v:ev')).toEqual([{ ...v[0], receivedAt: 1000, changedAt: 1000 }]);
      const recent = (await events.recent(10, 'urn:v:ev')).map(({ at: _at, ...e }) => e);
      expect(recent).toEqual(typeof id === 'string' ? [{ ...event, id }] : []);
    });

    it('keeps the latest value per path, in path order', async () => {
      const { values } = fx();
      await values.put(
        'urn:v:1',
        [
          { path: '/3303/0/5700', type: 'float', value: 21.5, time: 1_700_000_000 },
          { path: '/3/0/10', type: 'integer', value: 4000 },
          { path: '/3/0/2', type: 'string', value: 'SN-1' },
        ],
        1000,
      );
      await values.put('urn:v:1', [{ path: '/3303/0/5700', type: 'float', value: 22 }], 2000);
      expect(await values.get('urn:v:1')).toEqual([
        { path: '/3/0/2', type: 'string', value: 'SN-1', receivedAt: 1000, changedAt: 1000 },
        { path: '/3/0/10', type: 'integer', value: 4000, receivedAt: 1000, changedAt: 1000 },
        { path: '/3303/0/5700', type: 'float', value: 22, receivedAt: 2000, changedAt: 2000 },
      ]);
    });

    it('stores JSON-safe forms of opaque and 64-bit values unchanged', async () => {
      const { values } = fx();
      const v = [
        { path: '/5/0/0', type: 'opaque', value: 'AAECAwQ=' },
        { path: '/3/0/13', type: 'time', value: 1_700_000_000 },
        { path: '/3/0/21', type: 'integer', value: '9223372036854775807' },
        { path: '/3/0/6/0', type: 'integer', value: 1 },
        { path: '/1/0/23', type: 'objlnk', value: '3:0' },
        { path: '/3/0/7/1', type: 'boolean', value: false },
      ];
      await values.put('urn:v:raw', v, 5);
      const got = await values.get('urn:v:raw');
      expect(
        got
          .map(({ receivedAt: _r, changedAt: _c, ...rest }) => rest)
          .sort((a, b) => a.path.localeCompare(b.path)),
      ).toEqual([...v].sort((a, b) => a.path.localeCompare(b.path)));
    });

    const T = (path: string, value: number) => ({ path, type: 'integer', value });

    it('merges a patch over the full state, removes what it removes, and resets on a full one (issue 19)', async () => {
      const { values, peer } = fx();
      const ep = 'urn:v:patch';
      const obs = { observationId: 'o1', paths: ['/9/0'], removed: [] as string[] };
      await values.put(ep, [T('/3/0/9', 80)], 1);
      await values.notify(
        ep,
        {
          ...obs,
          mode: 'full',
          values: [T('/9/0/1', 1), T('/9/0/2', 2), T('/9/0/5/0', 5), T('/9/0/5/1', 6)],
          observe: 1,
        },
        10,
      );
      // another node (peer) applies the next patches: the state lives in the store
      expect(
        (await peer.values.notify(ep, { ...obs, mode: 'patch', values: [T('/9/0/2', 3)], observe: 2 }, 20))
          .applied,
      ).toBe(true);
      await values.notify(ep, { ...obs, mode: 'patch', values: [], removed: ['/9/0/5/1'], observe: 3 }, 30);
      const got = await values.get(ep);
      expect(got.map((v) => [v.path, v.value, v.changedAt])).toEqual([
        ['/3/0/9', 80, 1],
        ['/9/0/1', 1, 10],
        ['/9/0/2', 3, 20],
        ['/9/0/5/0', 5, 10],
      ]);
      // a full notification resets the base under the observed paths only; an unchanged value keeps changedAt
      await values.notify(ep, { ...obs, mode: 'full', values: [T('/9/0/1', 1)], observe: 4 }, 40);
      expect((await values.get(ep)).map((v) => [v.path, v.receivedAt, v.changedAt])).toEqual([
        ['/3/0/9', 1, 1],
        ['/9/0/1', 40, 10],
      ]);
    });

    it('drops a notification older than the last applied one of its observation (RFC 7641 section 3.4)', async () => {
      const { values, peer } = fx();
      const ep = 'urn:v:order';
      const u = { observationId: 'o2', paths: ['/3/0'], removed: [] as string[], mode: 'patch' as const };
      await values.notify(ep, { ...u, mode: 'full', values: [T('/3/0/9', 50)], observe: 10 }, 1000);
      expect((await values.notify(ep, { ...u, values: [T('/3/0/9', 70)], observe: 12 }, 1100)).applied).toBe(
        true,
      );
      // the late one, seen by another node after the newer one was applied
      const late = await peer.values.notify(ep, { ...u, values: [T('/3/0/9', 60)], observe: 11 }, 1200);
      expect(late).toEqual({ applied: false });
      expect((await values.get(ep)).map((v) => v.value)).toEqual([70]);
      // past 128 s any number is newer; the 24-bit number wraps (RFC 7641 section 4.4): 2 after 2^24 - 2 is newer
      await values.notify(ep, { ...u, values: [T('/3/0/9', 71)], observe: 2 ** 24 - 2 }, 1300 + 128_000);
      expect(
        (await values.notify(ep, { ...u, values: [T('/3/0/9', 72)], observe: 2 }, 1400 + 128_000)).applied,
      ).toBe(true);
      expect(
        (await values.notify(ep, { ...u, values: [T('/3/0/9', 73)], observe: 1 }, 1400 + 256_001)).applied,
      ).toBe(true);
      expect((await values.get(ep)).map((v) => v.value)).toEqual([73]);
      // once the observation ends its ordering state goes; the values stay
      await values.forgetObservation?.(ep, 'o2');
      expect(
        (await values.notify(ep, { ...u, values: [T('/3/0/9', 74)], observe: 0 }, 1400 + 256_002)).applied,
      ).toBe(true);
      expect((await values.get(ep)).map((v) => v.value)).toEqual([74]);
    });

    it('clears one endpoint only', async () => {
      const { values, peer } = fx();
      await values.put('urn:v:a', [{ path: '/3/0/9', type: 'integer', value: 1 }], 1);
      await values.put('urn:v:b', [{ path: '/3/0/9', type: 'integer', value: 2 }], 1);
      await values.put('urn:v:a', [], 2);
      await peer.values.clear('urn:v:a');
      expect(await values.get('urn:v:a')).toEqual([]);
      expect(await values.get('urn:v:b')).toHaveLength(1);
    });
  });
}
