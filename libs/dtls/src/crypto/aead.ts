// AEAD record protection for the TLS 1.2 AES-CCM / AES-GCM suites (RFC 5288 section 3, RFC 6655 section 3):
// nonce = salt (4 bytes from the key block) + explicit nonce (8 bytes, sent in the record). We use the
// record's epoch and sequence number as the explicit nonce, so it never repeats under one key.
import {
  createCipheriv,
  createDecipheriv,
  type CipherCCM,
  type CipherGCM,
  type DecipherCCM,
} from 'node:crypto';
import type { CipherSuite } from './suites';

/** Keys of one direction. */
export interface DirectionKeys {
  key: Buffer;
  salt: Buffer;
}

/** Splits an RFC 5246 section 6.3 key block into the client's and the server's write keys. */
export function splitKeyBlock(
  block: Buffer,
  suite: CipherSuite,
): { client: DirectionKeys; server: DirectionKeys } {
  const k = suite.keyLength;
  const iv = suite.fixedIvLength;
  return {
    client: { key: block.subarray(0, k), salt: block.subarray(2 * k, 2 * k + iv) },
    server: { key: block.subarray(k, 2 * k), salt: block.subarray(2 * k + iv, 2 * k + 2 * iv) },
  };
}

function nonceOf(salt: Buffer, explicit: Buffer): Buffer {
  const nonce = Buffer.allocUnsafe(12);
  salt.copy(nonce, 0, 0, 4);
  explicit.copy(nonce, 4, 0, 8);
  return nonce;
}

/**
 * Encrypts `plaintext`; returns explicit_nonce (8) || ciphertext || tag, the GenericAEADCipher body of
 * RFC 5246 section 6.2.3.3.
 */
export function aeadSeal(
  suite: CipherSuite,
  keys: DirectionKeys,
  epoch: number,
  seq: number,
  aad: Buffer,
  plaintext: Buffer,
): Buffer {
  const out = Buffer.allocUnsafe(8 + plaintext.length + suite.tagLength);
  out.writeUInt16BE(epoch, 0);
  out.writeUIntBE(seq, 2, 6);
  const nonce = nonceOf(keys.salt, out);
  if (suite.aead === 'aes-128-ccm') {
    const c = createCipheriv('aes-128-ccm', keys.key, nonce, { authTagLength: suite.tagLength }) as CipherCCM;
    c.setAAD(aad, { plaintextLength: plaintext.length });
    const n = c.update(plaintext).copy(out, 8);
    c.final();
    c.getAuthTag().copy(out, 8 + n);
  } else {
    const c = createCipheriv('aes-128-gcm', keys.key, nonce, { authTagLength: suite.tagLength }) as CipherGCM;
    c.setAAD(aad);
    const n = c.update(plaintext).copy(out, 8);
    c.final();
    c.getAuthTag().copy(out, 8 + n);
  }
  return out;
}

/** Length of the plaintext inside an AEAD fragment, or -1 if the fragment is too short to hold one. */
export function aeadPlaintextLength(suite: CipherSuite, fragmentLength: number): number {
  const n = fragmentLength - 8 - suite.tagLength;
  return n < 0 ? -1 : n;
}

/** Decrypts an AEAD fragment; undefined when it does not authenticate (RFC 5246: bad_record_mac). */
export function aeadOpen(
  suite: CipherSuite,
  keys: DirectionKeys,
  fragment: Buffer,
  aad: Buffer,
): Buffer | undefined {
  const n = aeadPlaintextLength(suite, fragment.length);
  if (n < 0) return undefined;
  const nonce = nonceOf(keys.salt, fragment);
  const body = fragment.subarray(8, 8 + n);
  const tag = fragment.subarray(8 + n);
  try {
    if (suite.aead === 'aes-128-ccm') {
      const d = createDecipheriv('aes-128-ccm', keys.key, nonce, {
        authTagLength: suite.tagLength,
      }) as DecipherCCM;
      d.setAuthTag(tag);
      d.setAAD(aad, { plaintextLength: n });
      const pt = d.update(body);
      d.final();
      return pt;
    }
    const d = createDecipheriv('aes-128-gcm', keys.key, nonce, { authTagLength: suite.tagLength });
    d.setAuthTag(tag);
    d.setAAD(aad);
    const pt = d.update(body);
    d.final();
    return pt;
  } catch {
    return undefined;
  }
}
