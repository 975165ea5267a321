import { describe, expect, it } from 'vitest';
import { DecodeError } from '@lwm2m/bytes';
import { fuzzDecoder, mutate, prng } from './fuzz';

describe('the fuzz harness', () => {
  it('replays the same inputs for the same seed', () => {
    const a = prng(42);
    const b = prng(42);
    const seed = Buffer.from('hello world');
    expect(mutate(a, seed, [seed])).toEqual(mutate(b, seed, [seed]));
  });

  it('reports a decoder that throws anything but the typed error', () => {
    expect(() =>
      fuzzDecoder({
        name: 'bad',
        runs: 1000,
        seeds: [Buffer.from([1, 2, 3])],
        decode: (b) => {
          if (b.length > 2) return b.readUInt32BE(0); // RangeError on 3 bytes
          throw new DecodeError('short', 'too short');
        },
      }),
    ).toThrow(/bad: input #\d+ threw RangeError/);
  });

  it('reports a decoder that allocates far more than its input', () => {
    expect(() =>
      fuzzDecoder({
        name: 'greedy',
        runs: 20_000,
        seeds: [Buffer.alloc(10)],
        decode: (b) => (b.length > 8000 ? Buffer.alloc(b.length * 100, 1) : null),
      }),
    ).toThrow(/greedy: input #\d+ of \d+ bytes allocated/);
  });
});
