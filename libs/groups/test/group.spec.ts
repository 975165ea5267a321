// Group definitions from REST are attacker input: any JSON either validates into a well-formed selector or
// is refused with a GroupError, never anything else (fast-check, seeded), and the rules hold on examples.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_GROUP_LIMITS, GroupError, validateGroupName, validateGroupSelector } from '../src';

const limits = { ...DEFAULT_GROUP_LIMITS, maxEndpoints: 5 };

describe('group definitions', () => {
  it('validate any JSON into a selector or refuse it with a GroupError, nothing else', () => {
    const body = fc.record(
      {
        filter: fc.oneof(fc.jsonValue(), fc.record({ q: fc.oneof(fc.string(), fc.jsonValue()) })),
        endpoints: fc.oneof(
          fc.jsonValue(),
          fc.array(fc.oneof(fc.string(), fc.jsonValue()), { maxLength: 8 }),
        ),
        multicast: fc.oneof(
          fc.jsonValue(),
          fc.record({
            address: fc.oneof(
              fc.ipV4(),
              fc.ipV6(),
              fc.string(),
              fc.constant('239.1.2.3'),
              fc.constant('ff02::fd'),
            ),
            port: fc.oneof(fc.integer(), fc.double(), fc.jsonValue()),
          }),
        ),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(body, (b) => {
        try {
          const s = validateGroupSelector(b as Record<string, unknown>, limits);
          if (s.kind === 'filter') expect(typeof s.filter.q).toBe('string');
          if (s.kind === 'endpoints') {
            expect(s.endpoints.length).toBeGreaterThan(0);
            expect(s.endpoints.length).toBeLessThanOrEqual(5);
            expect(new Set(s.endpoints).size).toBe(s.endpoints.length);
          }
          if (s.kind === 'multicast') expect(s.multicast.port).toBeGreaterThan(0);
        } catch (err) {
          if (!(err instanceof GroupError)) throw err;
        }
      }),
      { seed: 15, numRuns: 5000 },
    );
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.jsonValue()), (name) => {
        try {
          expect(validateGroupName(name)).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
        } catch (err) {
          if (!(err instanceof GroupError)) throw err;
        }
      }),
      { seed: 15, numRuns: 5000 },
    );
  });

  it('accept multicast addresses only in 224.0.0.0/4 and ff00::/8', () => {
    const ok = (address: string) => validateGroupSelector({ multicast: { address } }, limits);
    expect(ok('224.0.1.187')).toEqual({
      kind: 'multicast',
      multicast: { address: '224.0.1.187', port: 5683 },
    });
    expect(ok('239.255.255.255').kind).toBe('multicast');
    expect(ok('ff02::fd').kind).toBe('multicast');
    for (const bad of [
      '223.255.255.255',
      '240.0.0.1',
      '239.1.1',
      '239.1.1.256',
      'fe80::1',
      'ff02::g',
      'ff02:::::1',
      '',
    ]) {
      expect(() => ok(bad), bad).toThrow(GroupError);
    }
  });

  it('de-duplicates endpoint lists and bounds them', () => {
    expect(validateGroupSelector({ endpoints: ['a', 'b', 'a'] }, limits)).toEqual({
      kind: 'endpoints',
      endpoints: ['a', 'b'],
    });
    expect(() => validateGroupSelector({ endpoints: ['1', '2', '3', '4', '5', '6'] }, limits)).toThrow(
      expect.objectContaining({ code: 'too-many-members' }),
    );
  });
});
