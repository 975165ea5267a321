import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '@lwm2m/bytes';
import { Lwm2mPath } from '@lwm2m/lwm2m';
import { fuzzDecoder } from '../../../test/support/fuzz';

describe('LwM2M paths (TS 1.2 Core 6.1: /ObjectID/ObjectInstanceID/ResourceID/ResourceInstanceID)', () => {
  it('parses every level from the root to a resource instance', () => {
    expect(Lwm2mPath.parse('/').depth).toBe(0);
    expect(Lwm2mPath.parse('/3').isObject()).toBe(true);
    expect(Lwm2mPath.parse('/3/0').isObjectInstance()).toBe(true);
    expect(Lwm2mPath.parse('3/0/1').isResource()).toBe(true);
    const ri = Lwm2mPath.parse('/3/0/7/1');
    expect(ri.isResourceInstance()).toBe(true);
    expect([ri.objectId, ri.instanceId, ri.resourceId, ri.resourceInstanceId]).toEqual([3, 0, 7, 1]);
    expect(ri.toString()).toBe('/3/0/7/1');
  });

  it('rejects ids beyond 16 bits, leading zeros, empty segments and a fifth level', () => {
    for (const bad of ['/65536', '/03', '/3//1', '/3/0/1/2/3', '/a', '/-1', '/3/', '//']) {
      expect(() => Lwm2mPath.parse(bad), bad).toThrow(DecodeError);
    }
    expect(Lwm2mPath.parse('/65535/65535').toString()).toBe('/65535/65535');
  });

  it('navigates and orders: child, parent, startsWith, compare', () => {
    const p = Lwm2mPath.parse('/3/0');
    expect(p.child(7).toString()).toBe('/3/0/7');
    expect(p.parent().toString()).toBe('/3');
    expect(Lwm2mPath.parse('/3/0/7').startsWith(p)).toBe(true);
    expect(Lwm2mPath.parse('/3/1/7').startsWith(p)).toBe(false);
    const sorted = ['/3/0/7', '/1', '/3/0', '/3/0/7/0', '/2/1'].map(Lwm2mPath.parse).sort(Lwm2mPath.compare);
    expect(sorted.map(String)).toEqual(['/1', '/2/1', '/3/0', '/3/0/7', '/3/0/7/0']);
  });

  it('parse(toString(p)) equals p for any path', () => {
    const id = fc.integer({ min: 0, max: 65535 });
    fc.assert(
      fc.property(fc.array(id, { maxLength: 4 }), (ids) => {
        const p = new Lwm2mPath(ids[0], ids[1], ids[2], ids[3]);
        expect(Lwm2mPath.parse(p.toString()).equals(p)).toBe(true);
        expect(Lwm2mPath.fromSegments(p.segments()).equals(p)).toBe(true);
      }),
    );
  });

  it('survives 100k fuzzed Uri-Path strings with DecodeError only', () => {
    const seeds = ['/3/0/7/1', '/65535/1', '/', '3/0'].map((s) => Buffer.from(s));
    const report = fuzzDecoder({
      name: 'Lwm2mPath.parse',
      decode: (b) => Lwm2mPath.parse(b.toString('latin1')),
      seeds,
      seed: 0x9a7,
    });
    expect(report.accepted).toBeGreaterThan(100);
    expect(report.rejected).toBeGreaterThan(1000);
  });
});
