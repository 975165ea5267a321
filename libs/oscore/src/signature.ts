// draft-ietf-core-oscore-groupcomm sections 2.1.5 and 2.5.1: the Signature Algorithm of the group mode
// (countersignatures, RFC 9338) and the static-static ECDH of the pairwise mode, on @noble/curves.
// EdDSA on Ed25519 (COSE -8) and ECDSA P-256 with SHA-256 (COSE -7, signatures as r || s, RFC 9053 2.1).
import { createHash } from 'node:crypto';
import { ed25519, edwardsToMontgomeryPriv, edwardsToMontgomeryPub, x25519 } from '@noble/curves/ed25519';
import { p256 } from '@noble/curves/p256';

export interface SignatureAlgorithm {
  /** COSE algorithm identifier (alg_signature in the external_aad). */
  readonly id: number;
  readonly name: string;
  /** Bytes of a signature: the length of the countersignature and of its keystream. */
  readonly signatureLength: number;
  publicKey(privateKey: Uint8Array): Uint8Array;
  sign(privateKey: Uint8Array, message: Buffer): Buffer;
  /** False for a bad signature or a malformed key (never throws). */
  verify(publicKey: Uint8Array, message: Buffer, signature: Buffer): boolean;
  /** The ECDH shared secret with a peer's public key (section 2.5.1), or undefined when degenerate or invalid. */
  sharedSecret(privateKey: Uint8Array, peerPublicKey: Uint8Array): Buffer | undefined;
  randomPrivateKey(): Uint8Array;
}

const sha256 = (m: Buffer): Buffer => createHash('sha256').update(m).digest();

export const SignatureAlgorithms = {
  EdDSA_Ed25519: {
    id: -8,
    name: 'EdDSA (Ed25519)',
    signatureLength: 64,
    publicKey: (k) => ed25519.getPublicKey(k),
    sign: (k, m) => Buffer.from(ed25519.sign(m, k)),
    verify: (pub, m, sig) => {
      try {
        return ed25519.verify(sig, m, pub);
      } catch {
        return false;
      }
    },
    // Section 2.5.1.1: the Edwards keys mapped to Montgomery form; y = 1 or -1 aborts (noble throws).
    sharedSecret: (k, pub) => {
      try {
        return Buffer.from(x25519.getSharedSecret(edwardsToMontgomeryPriv(k), edwardsToMontgomeryPub(pub)));
      } catch {
        return undefined;
      }
    },
    randomPrivateKey: () => ed25519.utils.randomPrivateKey(),
  },
  ES256: {
    id: -7,
    name: 'ECDSA P-256 SHA-256',
    signatureLength: 64,
    publicKey: (k) => p256.getPublicKey(k, false),
    sign: (k, m) => Buffer.from(p256.sign(sha256(m), k).toCompactRawBytes()),
    verify: (pub, m, sig) => {
      try {
        return sig.length === 64 && p256.verify(sig, sha256(m), pub, { format: 'compact' });
      } catch {
        return false;
      }
    },
    // The x-coordinate of the shared point (RFC 9053 section 6.3.1).
    sharedSecret: (k, pub) => {
      try {
        return Buffer.from(p256.getSharedSecret(k, pub).subarray(1));
      } catch {
        return undefined;
      }
    },
    randomPrivateKey: () => p256.utils.randomPrivateKey(),
  },
} as const satisfies Record<string, SignatureAlgorithm>;
