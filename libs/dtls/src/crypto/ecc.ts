// P-256 ECDHE (RFC 8422 section 5.10) and ECDSA with SHA-256 (RFC 8422 section 5.8: DER-encoded
// Ecdsa-Sig-Value) on @noble/curves; keys in and out as SubjectPublicKeyInfo (RFC 7250 section 3).
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { p256 } from '@noble/curves/p256';
import { AlertDescription } from '../constants';
import { DtlsAlertError } from '../errors';
import { sha256 } from './prf';

/** DER prefix of a P-256 SubjectPublicKeyInfo with an uncompressed point (RFC 5480 section 2). */
const SPKI_P256_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');

export interface EcKeyPair {
  /** 32-byte scalar. */
  privateKey: Uint8Array;
  /** 65-byte uncompressed point. */
  publicKey: Uint8Array;
}

export function generateEphemeral(): EcKeyPair {
  const privateKey = p256.utils.randomPrivateKey();
  return { privateKey, publicKey: p256.getPublicKey(privateKey, false) };
}

/** The ECDH shared secret: the x coordinate (RFC 8422 section 5.10). Rejects points off the curve. */
export function ecdh(privateKey: Uint8Array, peerPublic: Uint8Array): Buffer {
  if (peerPublic.length !== 65 || peerPublic[0] !== 4)
    throw new DtlsAlertError(AlertDescription.illegal_parameter, 'ECDH point must be uncompressed P-256');
  try {
    return Buffer.from(p256.getSharedSecret(privateKey, peerPublic, false).subarray(1, 33));
  } catch {
    throw new DtlsAlertError(AlertDescription.illegal_parameter, 'ECDH point not on P-256');
  }
}

/** ECDSA over a SHA-256 digest, DER-encoded. */
export function signHash(privateKey: Uint8Array, hash: Buffer): Buffer {
  const sig = p256.sign(hash, privateKey, { prehash: false });
  return Buffer.from(sig.toDERRawBytes());
}

/** ECDSA-SHA256 over `data`, DER-encoded. */
export function signDer(privateKey: Uint8Array, data: Buffer): Buffer {
  return signHash(privateKey, sha256(data));
}

/** Verifies a DER ECDSA signature of a SHA-256 digest; high-S signatures (OpenSSL, GnuTLS) are valid too. */
export function verifyHash(publicKey: Uint8Array, hash: Buffer, signature: Buffer): boolean {
  try {
    return p256.verify(signature, hash, publicKey, { prehash: false, lowS: false, format: 'der' });
  } catch {
    return false;
  }
}

export function verifyDer(publicKey: Uint8Array, data: Buffer, signature: Buffer): boolean {
  return verifyHash(publicKey, sha256(data), signature);
}

export function spkiFromRaw(publicKey: Uint8Array): Buffer {
  return Buffer.concat([SPKI_P256_PREFIX, publicKey]);
}

/** The uncompressed P-256 point of a SubjectPublicKeyInfo, or undefined if it is not one. */
export function rawFromSpki(spki: Buffer): Buffer | undefined {
  if (spki.length === 91 && spki.subarray(0, 26).equals(SPKI_P256_PREFIX)) return spki.subarray(26);
  try {
    const jwk = createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({ format: 'jwk' });
    if (jwk.crv !== 'P-256' || jwk.x === undefined || jwk.y === undefined) return undefined;
    return Buffer.concat([
      Buffer.from([4]),
      Buffer.from(jwk.x, 'base64url'),
      Buffer.from(jwk.y, 'base64url'),
    ]);
  } catch {
    return undefined;
  }
}

/** A P-256 private key as PEM, DER (PKCS#8 / SEC1), KeyObject or 32 raw bytes. */
export type PrivateKeyInput = string | Buffer | Uint8Array | KeyObject;

export interface LoadedKey extends EcKeyPair {
  spki: Buffer;
}

export function loadPrivateKey(input: PrivateKeyInput): LoadedKey {
  let privateKey: Uint8Array;
  if ((input instanceof Uint8Array || Buffer.isBuffer(input)) && input.length === 32) {
    privateKey = Uint8Array.from(input);
  } else {
    const key =
      typeof input === 'string'
        ? createPrivateKey(input)
        : input instanceof Uint8Array
          ? createPrivateKey({ key: Buffer.from(input), format: 'der', type: 'pkcs8' })
          : input;
    const jwk = key.export({ format: 'jwk' });
    if (jwk.crv !== 'P-256' || jwk.d === undefined) throw new Error('dtls: private key must be a P-256 key');
    privateKey = Buffer.from(jwk.d, 'base64url');
  }
  const publicKey = p256.getPublicKey(privateKey, false);
  return { privateKey, publicKey, spki: spkiFromRaw(publicKey) };
}
