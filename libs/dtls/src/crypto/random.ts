// Public random values of the handshake (client and server randoms, CIDs, session ids) from a pooled
// buffer. crypto.randomBytes costs a few microseconds per call whatever the size, as much as filling
// 4 KB: the pool is filled from the same CSPRNG and every byte is handed out once. Secrets (the cookie
// key, ECDHE keys) do not come from here.
import { randomBytes, randomFillSync } from 'node:crypto';

const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let offset = POOL_SIZE;

/** `n` fresh random bytes in a Buffer of their own (never a view of the pool, which is refilled). */
export function pooledRandomBytes(n: number): Buffer {
  if (n > POOL_SIZE / 8) return randomBytes(n);
  if (offset + n > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const out = Buffer.allocUnsafe(n);
  pool.copy(out, 0, offset, offset + n);
  offset += n;
  return out;
}
