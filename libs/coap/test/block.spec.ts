import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DecodeError } from '@lwm2m/bytes';
import { fuzzDecoder } from '../../../test/support/fuzz';
import {
  type BlockValue,
  blockOffset,
  blockSize,
  CoapCode,
  CoapType,
  createMessage,
  decodeBlock,
  decodeMessage,
  encodeBlock,
  encodeMessage,
  OptionNumber,
  szxForSize,
} from '../src';

/** "NUM/M/SIZE" as RFC 7959 writes Block options in its figures. */
function block(notation: string): BlockValue {
  const [num, m, size] = notation.split('/').map(Number);
  return { num, more: m === 1, szx: Math.log2(size) - 4 };
}

describe('RFC 7959 figure values encode per section 2.2 (NUM | M | SZX, minimal uint)', () => {
  it.each([
    // Figure 2: Simple Block-Wise GET (2:0/1/128, 2:1/0/128, 2:1/1/128, 2:2/0/128)
    ['0/1/128', '0b'],
    ['1/0/128', '13'],
    ['1/1/128', '1b'],
    ['2/0/128', '23'],
    // Figure 3: early negotiation with 2:0/0/64 (the zero-length form is only for 0/0/16)
    ['0/0/64', '02'],
    // Figure 6: Simple Atomic Block-Wise PUT (1:0/1/128 ... 1:2/0/128) shares the encodings above
    // LwM2M TS 1.1 Core E.6 Figure 31: firmware fetched in 640 blocks, last 2:639/0/128
    ['639/0/128', '27f3'],
    // smallest and largest sizes, 3-byte form
    ['0/0/16', ''],
    ['0/1/1024', '0e'],
    ['4096/1/1024', '01000e'],
    ['1048575/1/16', 'fffff8'],
  ])('%s is %s', (notation, bytes) => {
    const b = block(notation);
    expect(encodeBlock(b).toString('hex')).toBe(bytes);
    expect(decodeBlock(Buffer.from(bytes, 'hex'))).toEqual(b);
  });

  it('carries Block2 0/1/128 in a 2.05 response as option 23', () => {
    // RFC 7959 Figure 2 first response: ACK [MID=1234], 2.05 Content, 2:0/1/128
    const msg = createMessage({
      type: CoapType.ACK,
      code: CoapCode.CONTENT,
      messageId: 1234,
      options: [{ number: OptionNumber.BLOCK2, value: encodeBlock(block('0/1/128')) }],
      payload: Buffer.alloc(128, 0x61),
    });
    const wire = encodeMessage(msg);
    expect(wire.subarray(0, 7).toString('hex')).toBe('604504d2d10a0b');
    expect(decodeBlock(decodeMessage(wire).options[0].value)).toEqual(block('0/1/128'));
  });

  it('carries Block1 2/0/128 in a PUT as option 27', () => {
    // RFC 7959 Figure 6 last request: CON [MID=1236], PUT, /options, 1:2/0/128
    const msg = createMessage({
      type: CoapType.CON,
      code: CoapCode.PUT,
      messageId: 1236,
      options: [{ number: OptionNumber.BLOCK1, value: encodeBlock(block('2/0/128')) }],
    });
    expect(encodeMessage(msg).subarray(4).toString('hex')).toBe('d10e23');
  });

  it('decodes leading zero bytes to the same value', () => {
    expect(decodeBlock(Buffer.from('00000b', 'hex'))).toEqual(block('0/1/128'));
  });
});

describe('block sizes', () => {
  it('maps SZX 0..6 to 16..1024 bytes', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map(blockSize)).toEqual([16, 32, 64, 128, 256, 512, 1024]);
  });

  it('picks the largest block size that fits', () => {
    expect(szxForSize(1024)).toBe(6);
    expect(szxForSize(5000)).toBe(6);
    expect(szxForSize(100)).toBe(2);
    expect(szxForSize(16)).toBe(0);
    expect(() => szxForSize(15)).toThrow(RangeError);
  });

  it('computes the byte offset of a block', () => {
    expect(blockOffset(block('2/0/128'))).toBe(256);
  });
});

describe('decodeBlock rejects', () => {
  it.each([
    ['a 4-byte value', '0000000b', 'bad-block-length'],
    ['SZX 7 (BERT is TCP only)', '0f', 'bad-block-szx'],
    ['SZX 7 in a 3-byte value', 'ffffff', 'bad-block-szx'],
  ])('%s', (_name, bytes, reason) => {
    const err = (() => {
      try {
        decodeBlock(Buffer.from(bytes, 'hex'));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(DecodeError);
    expect((err as DecodeError).reason).toBe(reason);
  });
});

describe('encodeBlock refuses programmer errors', () => {
  it.each([
    { num: 1 << 20, more: false, szx: 0 },
    { num: -1, more: false, szx: 0 },
    { num: 0, more: false, szx: 7 },
    { num: 1.5, more: false, szx: 0 },
  ])('%o', (b) => {
    expect(() => encodeBlock(b)).toThrow(RangeError);
  });
});

const arbBlock = fc.record({
  num: fc.integer({ min: 0, max: 0xfffff }),
  more: fc.boolean(),
  szx: fc.integer({ min: 0, max: 6 }),
});

describe('block round trip (fast-check)', () => {
  it('decodeBlock(encodeBlock(b)) equals b, in at most 3 minimal bytes', () => {
    fc.assert(
      fc.property(arbBlock, (b) => {
        const wire = encodeBlock(b);
        expect(wire.length).toBeLessThanOrEqual(3);
        if (wire.length > 0) expect(wire[0]).not.toBe(0);
        expect(decodeBlock(wire)).toEqual(b);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('decodeBlock under fuzzing', () => {
  it('throws only DecodeError over 100k mutated values', () => {
    const seeds = ['', '0b', '13', '27f3', '01000e', 'fffff8'].map((h) => Buffer.from(h, 'hex'));
    const report = fuzzDecoder({ name: 'decodeBlock', decode: decodeBlock, seeds, seed: 0xb10c });
    expect(report.accepted).toBeGreaterThan(1000);
    expect(report.reasons).toEqual(new Set(['bad-block-length', 'bad-block-szx']));
  });
});
