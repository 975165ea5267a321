// Known-answer tests: the TLS 1.2 PRF, AES-128-CCM-8 record protection against a CCM built here from
// NIST SP 800-38C, and the RFC 9146 tls12_cid record and additional data written out byte by byte.
import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CipherSuites,
  cidAad,
  decodeRecords,
  encodeProtectedRecord,
  openProtectedRecord,
  prf,
  pskPremaster,
  ReplayWindow,
  standardAad,
} from '@lwm2m/dtls';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Big-endian `value` in the last `q` bytes of a 16-byte block. */
function writeBig(block: Buffer, value: number, q: number): void {
  for (let k = 0; k < q; k++) block[15 - k] = k < 6 ? Math.floor(value / 2 ** (8 * k)) & 0xff : 0;
}

/** AES-CCM straight from NIST SP 800-38C (CBC-MAC then CTR), from single-block AES: an independent reference. */
function referenceCcm(key: Buffer, nonce: Buffer, aad: Buffer, plaintext: Buffer, tagLength: number): Buffer {
  const aes = (block: Buffer): Buffer => {
    const c = createCipheriv('aes-128-ecb', key, null);
    c.setAutoPadding(false);
    return c.update(block);
  };
  const q = 15 - nonce.length;
  const b0 = Buffer.alloc(16);
  b0[0] = (aad.length > 0 ? 64 : 0) | (((tagLength - 2) / 2) << 3) | (q - 1);
  nonce.copy(b0, 1);
  writeBig(b0, plaintext.length, q);
  const aadBlock =
    aad.length > 0
      ? Buffer.concat([Buffer.from([aad.length >> 8, aad.length & 0xff]), aad])
      : Buffer.alloc(0);
  const pad = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((16 - (b.length % 16)) % 16)]);
  const blocks = Buffer.concat([b0, pad(aadBlock), pad(plaintext)]);
  let y: Buffer = Buffer.alloc(16);
  for (let i = 0; i < blocks.length; i += 16) {
    const x = Buffer.alloc(16);
    for (let j = 0; j < 16; j++) x[j] = y[j] ^ blocks[i + j];
    y = aes(x);
  }
  const ctr = (i: number): Buffer => {
    const c = Buffer.alloc(16);
    c[0] = q - 1;
    nonce.copy(c, 1);
    writeBig(c, i, q);
    return c;
  };
  const out = Buffer.alloc(plaintext.length + tagLength);
  for (let i = 0; i < plaintext.length; i++) {
    const s = aes(ctr(1 + Math.floor(i / 16)));
    out[i] = plaintext[i] ^ s[i % 16];
  }
  const s0 = aes(ctr(0));
  for (let j = 0; j < tagLength; j++) out[plaintext.length + j] = y[j] ^ s0[j];
  return out;
}

describe('TLS 1.2 PRF (RFC 5246 section 5)', () => {
  it('matches the P_SHA256 test vector published on the IETF TLS list (msg03416)', () => {
    const out = prf(
      hex('9bbe436ba940f017b17652849a71db35'),
      'test label',
      hex('a0ba9f936cda311827a6f796ffd5198c'),
      100,
    );
    expect(out.toString('hex')).toBe(
      'e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a' +
        '6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab' +
        '4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701' +
        '87347b66',
    );
  });

  it('lays out the PSK premaster secret as RFC 4279 section 2 says: N, N zeros, N, psk', () => {
    expect(pskPremaster(hex('aabbcc')).toString('hex')).toBe('0003' + '000000' + '0003' + 'aabbcc');
  });
});

describe('AES-128-CCM-8 record protection (RFC 6655 section 3, RFC 5246 section 6.2.3.3)', () => {
  it('the reference CCM reproduces NIST SP 800-38C example 1', () => {
    const c = referenceCcm(
      hex('404142434445464748494a4b4c4d4e4f'),
      hex('10111213141516'),
      hex('0001020304050607'),
      hex('20212223'),
      4,
    );
    expect(c.toString('hex')).toBe('7162015b4dac255d');
  });

  it('protects an application_data record exactly as built by hand', () => {
    const keys = { key: hex('000102030405060708090a0b0c0d0e0f'), salt: hex('a0a1a2a3') };
    const plaintext = Buffer.from('hello lwm2m');
    const rec = encodeProtectedRecord(23, 1, 5, plaintext, {
      suite: CipherSuites.TLS_PSK_WITH_AES_128_CCM_8,
      keys,
    });
    // nonce = salt + explicit nonce (epoch 0001, seq 000000000005); AAD = seq_num + type + version + length
    const explicit = hex('0001 000000000005');
    const aad = hex('0001000000000005 17 fefd 000b');
    expect(standardAad(23, 0xfefd, 1, 5, 11)).toEqual(aad);
    const body = referenceCcm(keys.key, Buffer.concat([keys.salt, explicit]), aad, plaintext, 8);
    const expected = Buffer.concat([
      hex('17 fefd 0001 000000000005'),
      hex((8 + 11 + 8).toString(16).padStart(4, '0')),
      explicit,
      body,
    ]);
    expect(rec.toString('hex')).toBe(expected.toString('hex'));
    const [parsed] = decodeRecords(rec, 0);
    expect(
      openProtectedRecord(parsed, { suite: CipherSuites.TLS_PSK_WITH_AES_128_CCM_8, keys })?.data.toString(),
    ).toBe('hello lwm2m');
    // a flipped ciphertext bit does not authenticate
    rec[rec.length - 12] ^= 1;
    expect(
      openProtectedRecord(decodeRecords(rec, 0)[0], { suite: CipherSuites.TLS_PSK_WITH_AES_128_CCM_8, keys }),
    ).toBeUndefined();
  });
});

describe('RFC 9146 tls12_cid record (section 4) and AEAD additional data (section 5)', () => {
  const keys = { key: hex('0f0e0d0c0b0a09080706050403020100'), salt: hex('01020304') };
  const cid = hex('c0ffee00');

  it('builds the additional data field by field', () => {
    const expected = hex(
      'ffffffffffffffff' + // seq_num_placeholder: 8 bytes of 0xff
        '19' + // tls12_cid
        '04' + // cid_length
        '19' + // tls12_cid
        'fefd' + // DTLSCiphertext.version
        '0001' + // epoch
        '000000000102' + // sequence_number
        'c0ffee00' + // cid
        '0005', // length_of_DTLSInnerPlaintext
    );
    expect(cidAad(0xfefd, 1, 0x102, cid, 5)).toEqual(expected);
  });

  it('writes content + real type + zero padding as the inner plaintext, behind a CID header', () => {
    const rec = encodeProtectedRecord(
      23,
      1,
      0x102,
      Buffer.from('hi'),
      { suite: CipherSuites.TLS_PSK_WITH_AES_128_CCM_8, keys },
      cid,
      2,
    );
    const inner = hex('6869' + '17' + '0000'); // "hi", application_data(23), two zero bytes of padding
    const aad = cidAad(0xfefd, 1, 0x102, cid, inner.length);
    const explicit = hex('0001 000000000102');
    const body = referenceCcm(keys.key, Buffer.concat([keys.salt, explicit]), aad, inner, 8);
    const expected = Buffer.concat([
      hex('19 fefd 0001 000000000102'), // outer type tls12_cid, version, epoch, sequence number
      cid, // the CID, without a length (the receiver knows it)
      hex((8 + inner.length + 8).toString(16).padStart(4, '0')),
      explicit,
      body,
    ]);
    expect(rec.toString('hex')).toBe(expected.toString('hex'));
    const [parsed] = decodeRecords(rec, 4);
    expect(parsed.cid).toEqual(cid);
    const opened = openProtectedRecord(parsed, { suite: CipherSuites.TLS_PSK_WITH_AES_128_CCM_8, keys });
    expect(opened).toEqual({ type: 23, data: Buffer.from('hi') });
  });

  it('does not accept a CID record with the CID altered (the CID is authenticated)', () => {
    const rec = encodeProtectedRecord(
      23,
      1,
      7,
      Buffer.from('x'),
      { suite: CipherSuites.TLS_PSK_WITH_AES_128_CCM_8, keys },
      cid,
    );
    rec[11] ^= 0x80;
    expect(
      openProtectedRecord(decodeRecords(rec, 4)[0], { suite: CipherSuites.TLS_PSK_WITH_AES_128_CCM_8, keys }),
    ).toBeUndefined();
  });

  it('round-trips AES-128-CCM (16-byte tag) and AES-128-GCM records', () => {
    for (const suite of [
      CipherSuites.TLS_PSK_WITH_AES_128_CCM,
      CipherSuites.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ]) {
      const rec = encodeProtectedRecord(23, 1, 9, Buffer.from('payload'), { suite, keys }, cid);
      expect(rec.length).toBe(13 + 4 + 8 + 8 + suite.tagLength);
      expect(openProtectedRecord(decodeRecords(rec, 4)[0], { suite, keys })?.data.toString()).toBe('payload');
    }
  });
});

describe('anti-replay window (RFC 6347 section 4.1.2.6)', () => {
  it('accepts each sequence number once, in any order within 64, and nothing older', () => {
    const w = new ReplayWindow();
    for (const s of [5, 3, 70, 69, 7]) {
      expect(w.check(s)).toBe(true);
      w.accept(s);
      expect(w.check(s)).toBe(false);
    }
    expect(w.check(6)).toBe(false); // 70 - 6 = 64: left the window
    expect(w.check(7)).toBe(false); // seen
    expect(w.check(8)).toBe(true);
    expect(w.check(71)).toBe(true);
    w.accept(200);
    expect(w.check(136)).toBe(false);
    expect(w.check(137)).toBe(true);
    expect(w.check(70)).toBe(false);
    expect(ReplayWindow.from(w.state()).check(200)).toBe(false);
  });
});
