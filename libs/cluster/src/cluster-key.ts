// One shared secret (CLUSTER_KEY) and two keys derived from it (RFC 5869 HKDF), one per use: the HMAC of the
// cluster link and the AEAD that keeps DTLS session keys encrypted at rest in Redis.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export interface ClusterKeys {
  /** HMAC-SHA256 key of forwarded datagrams. */
  link: Buffer;
  /** AES-256-GCM key of session snapshots in Redis. */
  atRest: Buffer;
}

/** At least 16 bytes of secret; a hex string of 32+ digits is taken as bytes, anything else as UTF-8. */
export function deriveClusterKeys(secret: string | Buffer): ClusterKeys {
  const raw =
    typeof secret === 'string'
      ? /^[0-9a-fA-F]{32,}$/.test(secret) && secret.length % 2 === 0
        ? Buffer.from(secret, 'hex')
        : Buffer.from(secret, 'utf8')
      : secret;
  if (raw.length < 16) throw new Error('cluster: CLUSTER_KEY must hold at least 16 bytes of secret');
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', raw, 'lwm2m-cluster', info, 32));
  return { link: derive('cluster link hmac'), atRest: derive('session snapshot at rest') };
}

const IV = 12;
const TAG = 16;

/** AES-256-GCM with a random 96-bit IV; `aad` binds the ciphertext to its Redis key (no swapping records). */
export function sealAtRest(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = randomBytes(IV);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([iv, body, c.getAuthTag()]);
}

/** Undefined when the record does not authenticate (another cluster key, or tampered). */
export function openAtRest(key: Buffer, sealed: Buffer, aad: string): Buffer | undefined {
  if (sealed.length < IV + TAG) return undefined;
  try {
    const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV));
    d.setAAD(Buffer.from(aad, 'utf8'));
    d.setAuthTag(sealed.subarray(sealed.length - TAG));
    return Buffer.concat([d.update(sealed.subarray(IV, sealed.length - TAG)), d.final()]);
  } catch {
    return undefined;
  }
}
