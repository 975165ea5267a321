import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteReader, ByteWriter, DecodeError, uintLength } from '@lwm2m/bytes';

describe('ByteReader', () => {
  it('reads big-endian integers of every width written by ByteWriter', () => {
    fc.assert(
      fc.property(
        fc.nat(0xff),
        fc.nat(0xffff),
        fc.nat(0xffffff),
        fc.nat(),
        fc.nat(2 ** 47),
        (a, b, c, d, e) => {
          const buf = new ByteWriter(1).u8(a).u16(b).u24(c).u32(d).u48(e).toBuffer();
          const r = new ByteReader(buf);
          expect([r.u8(), r.u16(), r.u24(), r.u32(), r.u48()]).toEqual([a, b, c, d, e]);
          expect(r.done).toBe(true);
        },
      ),
    );
  });

  it('throws a DecodeError, not a RangeError, when a length runs past the end', () => {
    const r = new ByteReader(Buffer.from([1, 2]), 'test');
    r.u8();
    expect(() => r.u16('field')).toThrow(DecodeError);
    expect(() => r.bytes(5)).toThrow(/need 5 bytes, 1 left/);
    expect(() => r.bytes(-1)).toThrow(DecodeError);
  });

  it('sub-readers cannot read past their own window', () => {
    const r = new ByteReader(Buffer.from([1, 2, 3, 4]));
    const s = r.sub(2);
    expect(s.u16()).toBe(0x0102);
    expect(() => s.u8()).toThrow(DecodeError);
    expect(r.u16()).toBe(0x0304);
  });

  it('uintLength gives the minimal byte count', () => {
    expect([0, 1, 255, 256, 65535, 65536, 2 ** 24, 2 ** 32].map(uintLength)).toEqual([
      0, 1, 1, 2, 2, 3, 4, 5,
    ]);
  });
});
