// RFC 8613 sections 3.2 and 5, RFC 9053 sections 4 and 5: the AEAD and HKDF algorithms a security context
// may name, by COSE identifier, on node:crypto. AES-CCM-16-64-128 (10) is mandatory to implement.
import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';

export interface AeadAlgorithm {
  /** COSE algorithm identifier: alg_aead in the HKDF info and in the external_aad. */
  readonly id: number;
  readonly name: string;
  /** The node:crypto cipher. */
  readonly cipher: 'aes-128-ccm' | 'aes-256-ccm' | 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';
  readonly keyLength: number;
  readonly nonceLength: number;
  readonly tagLength: number;
}

export const AeadAlgorithms = {
  /** RFC 9053 section 4.2, COSE 10: the OSCORE default (RFC 8613 section 3.2). */
  AES_CCM_16_64_128: {
    id: 10,
    name: 'AES-CCM-16-64-128',
    cipher: 'aes-128-ccm',
    keyLength: 16,
    nonceLength: 13,
    tagLength: 8,
  },
  /** RFC 9053 section 4.2, COSE 11. */
  AES_CCM_16_64_256: {
    id: 11,
    name: 'AES-CCM-16-64-256',
    cipher: 'aes-256-ccm',
    keyLength: 32,
    nonceLength: 13,
    tagLength: 8,
  },
  /** RFC 9053 section 4.2, COSE 30. */
  AES_CCM_16_128_128: {
    id: 30,
    name: 'AES-CCM-16-128-128',
    cipher: 'aes-128-ccm',
    keyLength: 16,
    nonceLength: 13,
    tagLength: 16,
  },
  /** RFC 9053 section 4.1, COSE 1. */
  A128GCM: { id: 1, name: 'A128GCM', cipher: 'aes-128-gcm', keyLength: 16, nonceLength: 12, tagLength: 16 },
  /** RFC 9053 section 4.1, COSE 3. */
  A256GCM: { id: 3, name: 'A256GCM', cipher: 'aes-256-gcm', keyLength: 32, nonceLength: 12, tagLength: 16 },
  /** RFC 9053 section 4.3, COSE 24. */
  CHACHA20_POLY1305: {
    id: 24,
    name: 'ChaCha20/Poly1305',
    cipher: 'chacha20-poly1305',
    keyLength: 32,
    nonceLength: 12,
    tagLength: 16,
  },
} as const satisfies Record<string, AeadAlgorithm>;

const BY_ID = new Map<number, AeadAlgorithm>(Object.values(AeadAlgorithms).map((a) => [a.id, a]));

/** The AEAD algorithm of a COSE identifier, or undefined when not supported here. */
export function aeadAlgorithm(id: number): AeadAlgorithm | undefined {
  return BY_ID.get(id);
}

/** HKDF SHA-256 is mandatory (RFC 8613 section 3.2.1); SHA-512 is the other HMAC-based HKDF of COSE. */
export type HkdfHash = 'sha256' | 'sha512';

/** RFC 5869 HKDF (extract and expand). An empty salt is the string of zeros of RFC 5869 section 2.2. */
export function hkdf(hash: HkdfHash, salt: Buffer, ikm: Buffer, info: Buffer, length: number): Buffer {
  return Buffer.from(hkdfSync(hash, ikm, salt, info, length));
}

function options(alg: AeadAlgorithm): { authTagLength: number } {
  return { authTagLength: alg.tagLength };
}

/** COSE AEAD encryption (RFC 9052 section 5.3): ciphertext with the tag appended. */
export function aeadSeal(
  alg: AeadAlgorithm,
  key: Buffer,
  nonce: Buffer,
  aad: Buffer,
  plaintext: Buffer,
): Buffer {
  // The cipher names are a closed set; the overloads of createCipheriv want one literal type each.
  const c = createCipheriv(alg.cipher as 'aes-128-ccm', key, nonce, options(alg));
  c.setAAD(aad, { plaintextLength: plaintext.length });
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([body, c.getAuthTag()]);
}

/** The plaintext, or undefined when the ciphertext does not authenticate (never throws on bad input). */
export function aeadOpen(
  alg: AeadAlgorithm,
  key: Buffer,
  nonce: Buffer,
  aad: Buffer,
  ciphertext: Buffer,
): Buffer | undefined {
  if (ciphertext.length < alg.tagLength) return undefined;
  const bodyLength = ciphertext.length - alg.tagLength;
  try {
    const d = createDecipheriv(alg.cipher as 'aes-128-ccm', key, nonce, options(alg));
    d.setAuthTag(ciphertext.subarray(bodyLength));
    d.setAAD(aad, { plaintextLength: bodyLength });
    const plain = d.update(ciphertext.subarray(0, bodyLength));
    d.final();
    return plain;
  } catch {
    return undefined;
  }
}
