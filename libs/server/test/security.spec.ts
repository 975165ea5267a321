// Credential helpers: the P-256 public key forms an operator may give, and the subject CN rule.
import { generateKeyPairSync } from 'node:crypto';
import { checkPsk, InvalidCredentialError, normalizeRpk, rpkToPem, subjectCommonName } from '@lwm2m/server';
import { describe, expect, it } from 'vitest';

const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
const der = p256.export({ format: 'der', type: 'spki' });

describe('normalizeRpk', () => {
  it('accepts PEM, hex and base64 of the DER SubjectPublicKeyInfo and returns the same DER', () => {
    const pem = p256.export({ format: 'pem', type: 'spki' }) as string;
    for (const form of [pem, der.toString('hex'), der.toString('base64'), der.toString('base64url'), der]) {
      expect(normalizeRpk(form)).toEqual(der);
    }
    expect(normalizeRpk(rpkToPem(der))).toEqual(der);
  });

  it('turns a compressed point into the uncompressed SPKI devices send (RFC 7250)', () => {
    const point = der.subarray(der.length - 65); // 04 || x || y
    const x = point.subarray(1, 33);
    const odd = (point[64]! & 1) === 1;
    const compressed = Buffer.concat([
      Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex'),
      Buffer.from([odd ? 3 : 2]),
      x,
    ]);
    expect(normalizeRpk(compressed)).toEqual(der);
  });

  it('refuses other curves, RSA, private keys and garbage with a message naming the rule', () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({
      format: 'pem',
      type: 'spki',
    });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
      format: 'pem',
      type: 'spki',
    });
    expect(() => normalizeRpk(p384 as string)).toThrow(/P-256/);
    expect(() => normalizeRpk(rsa as string)).toThrow(/EC public key/);
    expect(() => normalizeRpk('zz not a key')).toThrow(InvalidCredentialError);
    expect(() => normalizeRpk('abcd')).toThrow(InvalidCredentialError);
    expect(() => normalizeRpk(Buffer.alloc(0))).toThrow(InvalidCredentialError);
  });
});

describe('checkPsk', () => {
  it('enforces RFC 4279 sizes without echoing the key', () => {
    expect(() => checkPsk('id', Buffer.alloc(16, 1))).not.toThrow();
    expect(() => checkPsk('', Buffer.alloc(16, 1))).toThrow(/identity/);
    expect(() => checkPsk('x'.repeat(129), Buffer.alloc(16, 1))).toThrow(/identity/);
    expect(() => checkPsk('a\nb', Buffer.alloc(16, 1))).toThrow(/control/);
    expect(() => checkPsk('id', Buffer.alloc(0))).toThrow(/PSK/);
    const big = Buffer.alloc(65, 0xab);
    expect(() => checkPsk('id', big)).toThrow(/1\.\.64/);
    try {
      checkPsk('id', big);
    } catch (e) {
      expect(String(e)).not.toContain('abab');
    }
  });
});

describe('subjectCommonName', () => {
  it('takes the CN out of the renderings of node:crypto and OpenSSL, or the text itself', () => {
    expect(subjectCommonName('C=FI\nO=ACME\nCN=urn:dev:1')).toBe('urn:dev:1');
    expect(subjectCommonName('CN=dev-2, O=ACME')).toBe('dev-2');
    expect(subjectCommonName('/C=FI/CN=dev-3')).toBe('dev-3');
    expect(subjectCommonName('CN=a\\,b, O=x')).toBe('a,b');
    expect(subjectCommonName('dev-4')).toBe('dev-4');
  });
});
