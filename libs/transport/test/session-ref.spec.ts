// SessionRef: the one formatter and parser of a peer's session, which reads registration records back from
// Redis. Every ref it writes reads back equal; anything else is refused with InvalidSessionRef, never a crash.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addressRef,
  cidHexOf,
  cidRef,
  defaultPeerKey,
  formatSessionRef,
  InvalidSessionRef,
  parseSessionRef,
  sameSessionRef,
  type SessionRef,
  sessionRefOf,
} from '@lwm2m/transport';

const ipv4 = fc.ipV4();
const ipv6 = fc.ipV6();
const port = fc.integer({ min: 0, max: 65535 });
const refs: fc.Arbitrary<SessionRef> = fc.oneof(
  fc
    .record({ address: fc.oneof(ipv4, ipv6), port, secure: fc.boolean() })
    .map((r) => addressRef(r, r.secure)),
  fc.uint8Array({ minLength: 1, maxLength: 255 }).map((b) => cidRef(Buffer.from(b))),
);

describe('SessionRef', () => {
  it('formats the forms the stores already hold', () => {
    expect(formatSessionRef(addressRef({ address: '10.0.0.1', port: 5683 }))).toBe('10.0.0.1:5683');
    expect(formatSessionRef(addressRef({ address: '::1', port: 5684 }, true))).toBe('coaps:[::1]:5684');
    expect(formatSessionRef(cidRef('0a0b'))).toBe('coaps:cid:0a0b');
    expect(defaultPeerKey({ address: '::1', port: 1 })).toBe('[::1]:1');
    expect(cidHexOf(cidRef(Buffer.from([1, 2])))).toBe('0102');
    expect(cidHexOf(addressRef({ address: '10.0.0.1', port: 1 }))).toBeUndefined();
  });

  it('reads back every ref it writes, equal to the original', () => {
    fc.assert(
      fc.property(refs, (ref) => {
        const back = parseSessionRef(formatSessionRef(ref));
        expect(sameSessionRef(back, ref)).toBe(true);
        expect(formatSessionRef(back)).toBe(formatSessionRef(ref));
      }),
      { numRuns: 2000 },
    );
  });

  it('tells refs apart: NoSec from DTLS at one address, one CID from another', () => {
    const at = { address: '192.0.2.1', port: 5683 };
    expect(sameSessionRef(addressRef(at), addressRef(at, true))).toBe(false);
    expect(sameSessionRef(cidRef('01'), cidRef('0100'))).toBe(false);
    expect(sameSessionRef(cidRef('01'), addressRef(at, true))).toBe(false);
    expect(sessionRefOf({ ...at, identity: { type: 'psk', identity: 'x' } })).toEqual(addressRef(at, true));
    expect(sessionRefOf({ ...at, ref: cidRef('ff') })).toEqual(cidRef('ff'));
  });

  it('refuses garbage with InvalidSessionRef (stored data may be anything)', () => {
    for (const bad of [
      '',
      'cid:0a0b', // a CID without the secured prefix
      'coaps:cid:', // empty CID
      'coaps:cid:0A0B', // upper-case hex is not what the formatter writes
      'coaps:cid:abc', // odd length
      `coaps:cid:${'00'.repeat(256)}`, // over 255 bytes (RFC 9146 section 3)
      '256.0.0.1:5683',
      '01.2.3.4:5683',
      '1.2.3.4:65536',
      '1.2.3.4',
      '::1:5683', // IPv6 without brackets
      '[1.2.3.4]:5683',
      'coaps:coaps:1.2.3.4:1',
      'example.com:5683',
      ' 1.2.3.4:5683',
      'x'.repeat(10_000),
    ]) {
      expect(() => parseSessionRef(bad), bad.slice(0, 40)).toThrow(InvalidSessionRef);
    }
    expect(() => parseSessionRef(42 as unknown as string)).toThrow(InvalidSessionRef);
  });

  it('never throws anything but InvalidSessionRef, and only accepts what it can write again', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: 'binary' }), refs.map(formatSessionRef)),
        (text) => {
          let ref: SessionRef;
          try {
            ref = parseSessionRef(text);
          } catch (err) {
            expect(err).toBeInstanceOf(InvalidSessionRef);
            return;
          }
          expect(formatSessionRef(ref)).toBe(text);
        },
      ),
      { numRuns: 5000 },
    );
  });
});
