// TLS 1.2 PRF with SHA-256 (RFC 5246 section 5) and the secrets derived from it (sections 6.3, 7.4.9, 8.1;
// RFC 7627 section 4 for the extended master secret).
import { createHash, createHmac } from 'node:crypto';

/** P_SHA256(secret, seed) truncated to `length` bytes (RFC 5246 section 5). */
export function pSha256(secret: Uint8Array, seed: Uint8Array, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let a: Buffer = createHmac('sha256', secret).update(seed).digest(); // A(1)
  let filled = 0;
  while (filled < length) {
    const block = createHmac('sha256', secret).update(a).update(seed).digest();
    block.copy(out, filled, 0, Math.min(block.length, length - filled));
    filled += block.length;
    if (filled < length) a = createHmac('sha256', secret).update(a).digest();
  }
  return out;
}

/** PRF(secret, label, seed) = P_SHA256(secret, label + seed) (RFC 5246 section 5). */
export function prf(secret: Uint8Array, label: string, seed: Uint8Array, length: number): Buffer {
  return pSha256(secret, Buffer.concat([Buffer.from(label, 'ascii'), seed]), length);
}

/** master_secret = PRF(pre_master_secret, "master secret", client_random + server_random)[0..47]. */
export function masterSecret(
  preMaster: Uint8Array,
  clientRandom: Uint8Array,
  serverRandom: Uint8Array,
): Buffer {
  return prf(preMaster, 'master secret', Buffer.concat([clientRandom, serverRandom]), 48);
}

/** RFC 7627 section 4: PRF(pre_master_secret, "extended master secret", session_hash)[0..47]. */
export function extendedMasterSecret(preMaster: Uint8Array, sessionHash: Uint8Array): Buffer {
  return prf(preMaster, 'extended master secret', sessionHash, 48);
}

/**
 * key_block = PRF(master, "key expansion", server_random + client_random) (RFC 5246 section 6.3). The
 * AEAD suites here have no MAC keys: client key, server key, client IV (salt), server IV (salt).
 */
export function keyBlock(
  master: Uint8Array,
  serverRandom: Uint8Array,
  clientRandom: Uint8Array,
  keyLength: number,
  ivLength: number,
): Buffer {
  return prf(
    master,
    'key expansion',
    Buffer.concat([serverRandom, clientRandom]),
    2 * (keyLength + ivLength),
  );
}

/** verify_data = PRF(master, finished_label, Hash(handshake_messages))[0..11] (RFC 5246 section 7.4.9). */
export function verifyData(master: Uint8Array, role: 'client' | 'server', handshakeHash: Uint8Array): Buffer {
  return prf(master, role === 'client' ? 'client finished' : 'server finished', handshakeHash, 12);
}

export function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * RFC 4279 section 2: the PSK premaster secret is uint16 N, N zero bytes (other_secret), uint16 N, the
 * PSK. RFC 5489 section 2 (ECDHE_PSK) uses the same layout with other_secret = the ECDH secret.
 */
export function pskPremaster(psk: Uint8Array, otherSecret?: Uint8Array): Buffer {
  const other = otherSecret ?? Buffer.alloc(psk.length);
  const out = Buffer.alloc(4 + other.length + psk.length);
  out.writeUInt16BE(other.length, 0);
  out.set(other, 2);
  out.writeUInt16BE(psk.length, 2 + other.length);
  out.set(psk, 4 + other.length);
  return out;
}
