// RFC 8613 Appendix B.2: new security contexts from the same Master Secret, with random ID Contexts
// exchanged in 'kid context':
//   client: request #1 under ID1 = R1              server: response #1 (4.01) under R2 || ID1, kid context R2
//   client: request #2 under ID3 = R2 || R3        server: verifies, keeps ID3; response #2 under ID3
// The server keeps no R2 (B.2.1): R2 = S2 || HMAC(K_HMAC, S2) truncated to 8 bytes, with one K_HMAC per
// base context, erased when a run completes or expires, so a replayed request #2 is not accepted again.
// 'kid context' carries the ID Context bytes themselves (the COSE parameter is a bstr).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SecurityContext } from './context';

/** Length of R1, R3 and S2: B.2 wants at least 8 bytes of randomness. */
export const B2_RANDOM_LENGTH = 8;
const TAG = 8;
/** R2 = S2 || truncated HMAC. */
export const B2_R2_LENGTH = B2_RANDOM_LENGTH + TAG;

/** Client, step 1: a first context under a random ID1 = R1; send request #1 with `kidContext: true`. */
export function b2Start(base: SecurityContext): SecurityContext {
  return base.withIdContext(randomBytes(B2_RANDOM_LENGTH));
}

/**
 * Client, step 3: response #1 to a request under `first` arrived with kid context `r2`: the second
 * context (R2 || ID1) to verify it with, and the third (R2 || R3) for request #2 (sent with `kidContext:
 * true`). Undefined when the response carried no kid context.
 */
export function b2Continue(
  base: SecurityContext,
  first: SecurityContext,
  r2: Buffer | undefined,
): { second: SecurityContext; third: SecurityContext } | undefined {
  if (r2 === undefined || r2.length === 0 || first.idContext === undefined) return undefined;
  return {
    second: base.withIdContext(Buffer.concat([r2, first.idContext])),
    third: base.withIdContext(Buffer.concat([r2, randomBytes(B2_RANDOM_LENGTH)])),
  };
}

export interface B2ResponderOptions {
  /** How long an R2 stays valid (and its K_HMAC kept). Default 60 s. */
  lifetimeMs?: number;
  now?: () => number;
  /** Base contexts with a K_HMAC at most; the oldest is forgotten beyond. Default 10 000. */
  maxKeys?: number;
}

/** Server side of Appendix B.2, keyed by a name of the base context (e.g. its Recipient ID in hex). */
export class B2Responder {
  private readonly keys = new Map<string, { key: Buffer; expiresAt: number }>();
  private readonly lifetimeMs: number;
  private readonly now: () => number;
  private readonly maxKeys: number;

  constructor(opts: B2ResponderOptions = {}) {
    this.lifetimeMs = opts.lifetimeMs ?? 60_000;
    this.now = opts.now ?? Date.now;
    this.maxKeys = opts.maxKeys ?? 10_000;
  }

  /** Step 2: the context to verify request #1 with (its kid context is ID1). */
  first(base: SecurityContext, id1: Buffer): SecurityContext {
    return base.withIdContext(id1);
  }

  /**
   * Step 2, request #1 verified: the second context (R2 || ID1) to protect response #1 with (a 4.01 with
   * `partialIv: true` and `kidContext: r2`, on the binding of request #1 with `context` replaced).
   */
  second(baseKey: string, base: SecurityContext, id1: Buffer): { r2: Buffer; context: SecurityContext } {
    const s2 = randomBytes(B2_RANDOM_LENGTH);
    const r2 = Buffer.concat([s2, this.tag(this.keyOf(baseKey), s2)]);
    return { r2, context: base.withIdContext(Buffer.concat([r2, id1])) };
  }

  /**
   * Step 4: a request whose kid context is `id3`: when it starts with an R2 of ours still valid, the third
   * context to verify it with; undefined otherwise (an unknown, forged, expired or completed run).
   */
  third(baseKey: string, base: SecurityContext, id3: Buffer): SecurityContext | undefined {
    const k = this.keys.get(baseKey);
    if (k === undefined || k.expiresAt <= this.now() || id3.length <= B2_R2_LENGTH) return undefined;
    const s2 = id3.subarray(0, B2_RANDOM_LENGTH);
    const tag = id3.subarray(B2_RANDOM_LENGTH, B2_R2_LENGTH);
    if (!timingSafeEqual(tag, this.tag(k.key, s2))) return undefined;
    return base.withIdContext(Buffer.from(id3));
  }

  /** Step 4, request #2 verified with the third context: the run is done; its R2s are no longer valid. */
  complete(baseKey: string): void {
    this.keys.delete(baseKey);
  }

  private keyOf(baseKey: string): Buffer {
    const now = this.now();
    const k = this.keys.get(baseKey);
    if (k !== undefined && k.expiresAt > now) {
      k.expiresAt = now + this.lifetimeMs;
      return k.key;
    }
    if (this.keys.size >= this.maxKeys) this.keys.delete(this.keys.keys().next().value!);
    const key = randomBytes(32);
    this.keys.set(baseKey, { key, expiresAt: now + this.lifetimeMs });
    return key;
  }

  private tag(key: Buffer, s2: Buffer): Buffer {
    return createHmac('sha256', key).update(s2).digest().subarray(0, TAG);
  }
}
