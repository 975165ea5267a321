// AEAD record protection for the TLS 1.2 AES-CCM / AES-GCM suites (RFC 5288 section 3, RFC 6655 section 3):
// nonce = salt (4 bytes from the key block) + explicit nonce (8 bytes, sent in the record). We use the
// record's epoch and sequence number as the explicit nonce, so it never repeats under one key.
import {
  createCipheriv,
  createDecipheriv,
  type CipherCCM,
  type CipherGCM,
  type DecipherCCM,
  type DecipherGCM,
} from 'node:crypto';
import { AesCcm } from './ccm';
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

/**
 * One direction's AEAD for the GenericAEADCipher body of RFC 5246 section 6.2.3.3 (explicit nonce ||
 * ciphertext || tag). Made once per key and kept while the session is busy: setting up the cipher is
 * most of what protecting a small record costs.
 */
export interface AeadCipher {
  readonly tagLength: number;
  /**
   * buf[at, at + 8) holds the explicit nonce and buf[at + 8, at + 8 + length) the plaintext: encrypts it in
   * place and writes the tag right after it.
   */
  seal(aad: Buffer, buf: Buffer, at: number, length: number): void;
  /** The plaintext of a body (a new Buffer), or undefined when it does not authenticate. */
  open(aad: Buffer, body: Buffer): Buffer | undefined;
}

/** salt || explicit nonce, rebuilt per record; handed to the cipher within one synchronous call. */
const nonce = Buffer.alloc(12);

function nonceOf(salt: number, explicit: Buffer, at: number): Buffer {
  nonce.writeUInt32BE(salt, 0);
  explicit.copy(nonce, 4, at, at + 8);
  return nonce;
}

/**
 * AES-CCM. The reusable contexts (AesCcm) cost more to set up than one node:crypto CCM cipher, so the first
 * record of a direction (a handshake's Finished, often the only one for a while) goes one-shot through
 * node:crypto, and the contexts are set up from the second record on.
 */
class CcmCipher implements AeadCipher {
  private ccm: AesCcm | undefined;
  private used = false;
  /** The 4-byte salt as a number: no Buffer to keep. */
  private readonly salt: number;
  private readonly key: Buffer;

  constructor(
    keys: DirectionKeys,
    readonly tagLength: number,
  ) {
    this.key = keys.key;
    this.salt = keys.salt.readUInt32BE(0);
  }

  /** The reusable contexts, or undefined for a first record that node:crypto can take one-shot. */
  private contexts(length: number): AesCcm | undefined {
    if (this.ccm !== undefined) return this.ccm;
    // node:crypto's CCM cannot take an empty plaintext
    if (!this.used && length > 0) {
      this.used = true;
      return undefined;
    }
    return (this.ccm = new AesCcm(this.key, this.tagLength));
  }

  seal(aad: Buffer, buf: Buffer, at: number, length: number): void {
    const nonce = nonceOf(this.salt, buf, at);
    const ccm = this.contexts(length);
    if (ccm !== undefined) return ccm.sealInPlace(nonce, aad, buf, at + 8, length);
    const c = createCipheriv('aes-128-ccm', this.key, nonce, { authTagLength: this.tagLength }) as CipherCCM;
    c.setAAD(aad, { plaintextLength: length });
    const n = c.update(buf.subarray(at + 8, at + 8 + length)).copy(buf, at + 8);
    c.final();
    c.getAuthTag().copy(buf, at + 8 + n);
  }

  open(aad: Buffer, body: Buffer): Buffer | undefined {
    const n = body.length - 8 - this.tagLength;
    if (n < 0) return undefined;
    const nonce = nonceOf(this.salt, body, 0);
    const ccm = this.contexts(n);
    if (ccm !== undefined) return ccm.open(nonce, aad, body.subarray(8, 8 + n), body.subarray(8 + n));
    try {
      const d = createDecipheriv('aes-128-ccm', this.key, nonce, {
        authTagLength: this.tagLength,
      }) as DecipherCCM;
      d.setAuthTag(body.subarray(8 + n));
      d.setAAD(aad, { plaintextLength: n });
      const pt = d.update(body.subarray(8, 8 + n));
      d.final();
      return pt;
    } catch {
      return undefined;
    }
  }
}

/** AES-GCM through node:crypto, a cipher per record (GCM contexts cannot be rewound to a new nonce). */
class GcmCipher implements AeadCipher {
  private readonly key: Buffer;
  private readonly salt: number;

  constructor(
    keys: DirectionKeys,
    readonly tagLength: number,
  ) {
    this.key = keys.key;
    this.salt = keys.salt.readUInt32BE(0);
  }

  seal(aad: Buffer, buf: Buffer, at: number, length: number): void {
    const c = createCipheriv('aes-128-gcm', this.key, nonceOf(this.salt, buf, at), {
      authTagLength: this.tagLength,
    }) as CipherGCM;
    c.setAAD(aad);
    const n = c.update(buf.subarray(at + 8, at + 8 + length)).copy(buf, at + 8);
    c.final();
    c.getAuthTag().copy(buf, at + 8 + n);
  }

  open(aad: Buffer, body: Buffer): Buffer | undefined {
    const n = body.length - 8 - this.tagLength;
    if (n < 0) return undefined;
    try {
      const d = createDecipheriv('aes-128-gcm', this.key, nonceOf(this.salt, body, 0), {
        authTagLength: this.tagLength,
      }) as DecipherGCM;
      d.setAuthTag(body.subarray(8 + n));
      d.setAAD(aad);
      const pt = d.update(body.subarray(8, 8 + n));
      d.final();
      return pt;
    } catch {
      return undefined;
    }
  }
}

/** The AEAD of `suite` under one direction's keys (which must not change while the cipher is in use). */
export function aeadCipher(suite: CipherSuite, keys: DirectionKeys): AeadCipher {
  return suite.aead === 'aes-128-ccm'
    ? new CcmCipher(keys, suite.tagLength)
    : new GcmCipher(keys, suite.tagLength);
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
  plaintext.copy(out, 8);
  aeadCipher(suite, keys).seal(aad, out, 0, plaintext.length);
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
  return aeadCipher(suite, keys).open(aad, fragment);
}
