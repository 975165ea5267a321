// The cluster's wire structures: CIDs that name their node (RFC 9146 leaves the CID's content to the
// server), the authenticated link envelope, and sessions sealed at rest.
import { randomBytes } from 'node:crypto';
import { DecodeError } from '@lwm2m/bytes';
import { describe, expect, it } from 'vitest';
import {
  cidGenerator,
  decodeLink,
  deriveClusterKeys,
  encodeLink,
  LinkKind,
  openAtRest,
  ownerOfCid,
  peekCid,
  sealAtRest,
  workerOfCid,
  workerOfDatagram,
  workerOfLinkEnvelope,
} from '@lwm2m/cluster';
import fc from 'fast-check';

const keys = deriveClusterKeys('a-cluster-key-of-some-length');

/** A tls12_cid record header by hand (RFC 9146 section 4): type 25, {254,253}, epoch 1, seq, cid, length. */
function cidRecord(cid: Buffer, body = Buffer.alloc(24, 7)): Buffer {
  const head = Buffer.from([25, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 5]);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(body.length);
  return Buffer.concat([head, cid, len, body]);
}

describe('cluster CIDs', () => {
  it('carry their node id behind a version byte, with random bytes after it', () => {
    const gen = cidGenerator(0x1234);
    const a = gen(8);
    const b = gen(8);
    expect(a.length).toBe(8);
    expect(a[0]).toBe(1);
    expect(ownerOfCid(a)).toBe(0x1234);
    expect(a.subarray(3).equals(b.subarray(3))).toBe(false);
    expect(() => gen(4)).toThrow(/at least/);
    expect(ownerOfCid(Buffer.from([3, 0, 1, 0, 0, 0, 0, 0]))).toBeUndefined();
  });

  it('with a worker index (version 2) name the node and its worker thread', () => {
    const gen = cidGenerator(0x1234, 5);
    const a = gen(8);
    expect(a[0]).toBe(2);
    expect(ownerOfCid(a)).toBe(0x1234);
    expect(workerOfCid(a)).toBe(5);
    expect(workerOfCid(cidGenerator(0x1234)(8))).toBeUndefined();
    // version + node + worker + 4 random bytes: a 7-byte CID would keep only 3 random bytes
    expect(() => gen(7)).toThrow(/at least 8/);
    expect(() => cidGenerator(1, 256)).toThrow(/worker index/);
    expect(() => cidGenerator(1, -1)).toThrow(/worker index/);
  });

  it('place a CID record on the worker its CID names, whatever the source, and nothing else', () => {
    for (let w = 0; w < 4; w++) expect(workerOfDatagram(cidRecord(cidGenerator(1, w)(8)), 8, 4)).toBe(w);
    // a worker beyond the count (fewer workers since) and a CID of the node-only layout: one fixed worker
    const beyond = cidRecord(cidGenerator(1, 9)(8));
    const old = cidRecord(cidGenerator(1)(8));
    for (const d of [beyond, old]) {
      const w = workerOfDatagram(d, 8, 4)!;
      expect(w).toBeGreaterThanOrEqual(0);
      expect(w).toBeLessThan(4);
      expect(workerOfDatagram(d, 8, 4)).toBe(w);
    }
    const handshake = cidRecord(cidGenerator(1, 2)(8));
    handshake[0] = 22;
    expect(workerOfDatagram(handshake, 8, 4)).toBeUndefined();
    expect(workerOfDatagram(Buffer.alloc(0), 8, 4)).toBeUndefined();
  });

  it('place any datagram (fuzz) on a worker in range or on none, never throwing', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.integer({ min: 0, max: 16 }),
        fc.integer({ min: 1, max: 256 }),
        fc.boolean(),
        (bytes, cidLength, workers, cidHeader) => {
          const d = Buffer.from(bytes);
          if (cidHeader && d.length >= 3) d.set([25, 0xfe, 0xfd]);
          const w = workerOfDatagram(d, cidLength, workers);
          return w === undefined || (Number.isInteger(w) && w >= 0 && w < workers);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('are read from the first record of a datagram without decoding it', () => {
    const cid = cidGenerator(7)(8);
    expect(peekCid(cidRecord(cid), 8)?.equals(cid)).toBe(true);
    // a plain application_data record (type 23) or a handshake has no CID
    const plain = cidRecord(cid);
    plain[0] = 23;
    expect(peekCid(plain, 8)).toBeUndefined();
    expect(peekCid(Buffer.from([25, 0xfe, 0xfd]), 8)).toBeUndefined();
    expect(peekCid(cidRecord(cid), 0)).toBeUndefined();
  });
});

describe('the cluster link envelope', () => {
  const now = 1_800_000_000_000;
  const base = { kind: LinkKind.Uplink, node: 3, sentAt: now, port: 40123, payload: randomBytes(60) };

  it('names the worker thread of the CID record an uplink carries (read before authentication)', () => {
    const record = cidRecord(cidGenerator(1, 3)(8));
    for (const [address, family] of [
      ['192.0.2.7', 'IPv4'],
      ['2001:db8::1', 'IPv6'],
    ] as const) {
      const up = encodeLink({ ...base, address, family, payload: record }, keys.link);
      expect(workerOfLinkEnvelope(up, 8, 4)).toBe(3);
      const down = encodeLink(
        { ...base, kind: LinkKind.Downlink, address, family, payload: record },
        keys.link,
      );
      expect(workerOfLinkEnvelope(down, 8, 4)).toBeUndefined();
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.integer({ min: 1, max: 8 }), (bytes, workers) => {
        const d = Buffer.from(bytes);
        if (d.length > 2) d.set([0x4c, 0x4b]);
        const w = workerOfLinkEnvelope(d, 8, workers);
        return w === undefined || (w >= 0 && w < workers);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips IPv4 and IPv6 (also IPv4-mapped) device addresses', () => {
    for (const [address, family, back] of [
      ['192.0.2.7', 'IPv4', '192.0.2.7'],
      ['2001:db8::1', 'IPv6', '2001:db8:0:0:0:0:0:1'],
      ['::ffff:192.0.2.9', 'IPv6', '0:0:0:0:0:ffff:c000:209'],
    ] as const) {
      const env = decodeLink(encodeLink({ ...base, address, family }, keys.link), keys.link, now);
      expect(env).toMatchObject({ kind: LinkKind.Uplink, node: 3, address: back, port: 40123, family });
      expect(env.payload.equals(base.payload)).toBe(true);
    }
  });

  it('refuses an envelope under another key, altered, or outside the freshness window', () => {
    const wire = encodeLink({ ...base, address: '192.0.2.7', family: 'IPv4' }, keys.link);
    const other = deriveClusterKeys('another-cluster-key-entirely');
    expect(() => decodeLink(wire, other.link, now)).toThrow(DecodeError);
    const altered = Buffer.from(wire);
    altered[20] ^= 1;
    expect(() => decodeLink(altered, keys.link, now)).toThrow(/authenticate/);
    expect(() => decodeLink(wire, keys.link, now + 60_000)).toThrow(/freshness/);
  });

  it('takes 100k random and mutated inputs with DecodeError only', () => {
    const wire = encodeLink({ ...base, address: '192.0.2.7', family: 'IPv4' }, keys.link);
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    for (let i = 0; i < 100_000; i++) {
      let input: Buffer;
      if (i % 2 === 0)
        input = Buffer.from(Array.from({ length: (rand() * 120) | 0 }, () => (rand() * 256) | 0));
      else {
        input = Buffer.from(wire.subarray(0, (rand() * wire.length) | 0 || wire.length));
        for (let k = 0; k < 3; k++) if (input.length) input[(rand() * input.length) | 0] = (rand() * 256) | 0;
      }
      try {
        decodeLink(input, keys.link, now);
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
      }
    }
  });
});

describe('sessions sealed at rest', () => {
  it('open only under the same key and the same Redis key (AAD)', () => {
    const sealed = sealAtRest(keys.atRest, Buffer.from('{"v":1}'), 'dtls-session:ab');
    expect(openAtRest(keys.atRest, sealed, 'dtls-session:ab')?.toString()).toBe('{"v":1}');
    expect(openAtRest(keys.atRest, sealed, 'dtls-session:cd')).toBeUndefined();
    expect(
      openAtRest(deriveClusterKeys('another-cluster-key-entirely').atRest, sealed, 'dtls-session:ab'),
    ).toBeUndefined();
    expect(sealed.includes(Buffer.from('"v"'))).toBe(false);
  });

  it('derive distinct link and at-rest keys, and refuse a short secret', () => {
    expect(keys.link.equals(keys.atRest)).toBe(false);
    expect(() => deriveClusterKeys('short')).toThrow(/16 bytes/);
  });
});
