// RFC 7252 section 5.3.1: tokens SHOULD be random (at least 32 bits for a client not otherwise protected
// against spoofing). Drawing 8 bytes from the CSPRNG per request is one system call per request; a pool of
// 4 KiB serves 512 tokens per call.

const POOL_BYTES = 4096;

/** Random tokens sliced from a pooled block of random bytes. */
export class TokenSource {
  private pool: Buffer = Buffer.alloc(0);
  private offset = 0;

  /** `randomBytes`: node:crypto's, or a test's. Called with POOL_BYTES (or n when larger). */
  constructor(private readonly randomBytes: (n: number) => Buffer) {}

  /** `n` fresh random bytes, a copy (a token outlives the pool block it came from). */
  take(n: number): Buffer {
    if (this.offset + n > this.pool.length) {
      this.pool = this.randomBytes(Math.max(POOL_BYTES, n));
      this.offset = 0;
    }
    const out = Buffer.allocUnsafe(n);
    this.pool.copy(out, 0, this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
}

/** The map key of a token: its hex, computed once per message (tokens are 0..8 bytes). */
export function tokenKey(token: Buffer): string {
  return token.length === 0 ? '' : token.toString('hex');
}
