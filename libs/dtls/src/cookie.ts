// RFC 6347 section 4.2.1: the stateless cookie of the HelloVerifyRequest. The cookie is an HMAC over the
// client's source address and every ClientHello field except the cookie itself, under a secret that
// rotates; cookies made under the previous secret stay valid for one more period.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const COOKIE_LENGTH = 16;

export class CookieJar {
  private current = randomBytes(32);
  private previous = randomBytes(32);
  private rotatedAt: number;

  constructor(
    private readonly rotateMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {
    this.rotatedAt = now();
  }

  private rotate(): void {
    const t = this.now();
    if (t - this.rotatedAt < this.rotateMs) return;
    this.previous = t - this.rotatedAt < 2 * this.rotateMs ? this.current : randomBytes(32);
    this.current = randomBytes(32);
    this.rotatedAt = t;
  }

  /**
   * `helloBody` is the ClientHello body and `cookieAt` the offset of its cookie length byte; the cookie
   * covers the bytes before it and after the cookie, so the client's parameters are bound to it.
   */
  make(source: string, helloBody: Buffer, cookieAt: number): Buffer {
    this.rotate();
    return this.mac(this.current, source, helloBody, cookieAt);
  }

  verify(source: string, helloBody: Buffer, cookieAt: number, cookie: Buffer): boolean {
    if (cookie.length !== COOKIE_LENGTH) return false;
    this.rotate();
    return (
      timingSafeEqual(cookie, this.mac(this.current, source, helloBody, cookieAt)) ||
      timingSafeEqual(cookie, this.mac(this.previous, source, helloBody, cookieAt))
    );
  }

  private mac(secret: Buffer, source: string, body: Buffer, cookieAt: number): Buffer {
    const cookieEnd = cookieAt + 1 + body[cookieAt];
    return createHmac('sha256', secret)
      .update(source)
      .update(body.subarray(0, cookieAt))
      .update(body.subarray(cookieEnd))
      .digest()
      .subarray(0, COOKIE_LENGTH);
  }
}

/** Offset of the cookie length byte in a ClientHello body (after version, random and session_id). */
export function cookieOffset(helloBody: Buffer): number {
  return 2 + 32 + 1 + helloBody[34];
}
