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
      expect(await values.get('urn:v:ev')).toEqual([{ ...v[0], receivedAt: 1000 }]);
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
        { path: '/3/0/2', type: 'string', value: 'SN-1', receivedAt: 1000 },
        { path: '/3/0/10', type: 'integer', value: 4000, receivedAt: 1000 },
        { path: '/3303/0/5700', type: 'float', value: 22, receivedAt: 2000 },
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
        got.map(({ receivedAt: _r, ...rest }) => rest).sort((a, b) => a.path.localeCompare(b.path)),
      ).toEqual([...v].sort((a, b) => a.path.localeCompare(b.path)));
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
