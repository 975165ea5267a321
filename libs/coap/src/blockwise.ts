// RFC 7959 sections 2.3-2.5 and 3: server-side state of block-wise transfers (Block1 reassembly,
// Block2 bodies kept so that every block of one transfer comes from the same representation).
import { type BlockValue, blockSize } from './block';

export interface BlockwiseLimits {
  /** Largest body reassembled or served, in bytes (RFC 7959 section 2.9.3: 4.13 beyond it). Default 1 MiB. */
  maxBodySize: number;
  /** Concurrent Block1 uploads per peer. */
  maxTransfersPerPeer: number;
  /** Bytes buffered by all uploads and cached bodies together. */
  maxTotalBytes: number;
}

export const DEFAULT_BLOCKWISE_LIMITS: Readonly<BlockwiseLimits> = Object.freeze({
  maxBodySize: 1024 * 1024,
  maxTransfersPerPeer: 4,
  maxTotalBytes: 16 * 1024 * 1024,
});

interface Transfer {
  peerKey: string;
  parts: Buffer[];
  received: number;
  expiresAt: number;
}

export type Block1Result =
  | { kind: 'continue'; ack: BlockValue }
  | { kind: 'complete'; body: Buffer; ack: BlockValue }
  | { kind: 'incomplete' }
  | { kind: 'too-large' };

/** Reassembles Block1 request bodies, keyed by peer and request (method, URI) per RFC 7959 section 2.5. */
export class Block1Assembler {
  private readonly transfers = new Map<string, Transfer>();
  private totalBytes = 0;

  constructor(
    private readonly limits: BlockwiseLimits,
    private readonly lifetime: number,
  ) {}

  get bufferedBytes(): number {
    return this.totalBytes;
  }

  /**
   * Adds one block. `preferredSzx` is the server's block size: it may ask the client for smaller
   * blocks in the 2.31 response (section 2.5; the client then continues at the same byte offset).
   */
  add(
    key: string,
    peerKey: string,
    block: BlockValue,
    payload: Buffer,
    preferredSzx: number,
    now: number,
    size1?: number,
  ): Block1Result {
    this.expire(now);
    const size = blockSize(block.szx);
    const offset = block.num * size;
    if (size1 !== undefined && size1 > this.limits.maxBodySize) return this.drop(key, 'too-large');
    // Section 2.2: a non-last block must be exactly the block size.
    if (block.more && payload.length !== size) return this.drop(key, 'incomplete');
    let t = this.transfers.get(key);
    if (block.num === 0) {
      if (t !== undefined) this.drop(key, 'incomplete');
      if (this.countForPeer(peerKey) >= this.limits.maxTransfersPerPeer) return { kind: 'too-large' };
      t = { peerKey, parts: [], received: 0, expiresAt: 0 };
      this.transfers.set(key, t);
    } else if (t === undefined || t.received !== offset) {
      // Section 2.5: a block out of sequence gives 4.08 Request Entity Incomplete.
      return this.drop(key, 'incomplete');
    }
    if (t.received + payload.length > this.limits.maxBodySize) return this.drop(key, 'too-large');
    if (this.totalBytes + payload.length > this.limits.maxTotalBytes) return this.drop(key, 'too-large');
    t.parts.push(Buffer.from(payload));
    t.received += payload.length;
    this.totalBytes += payload.length;
    t.expiresAt = now + this.lifetime;
    if (block.more) {
      return {
        kind: 'continue',
        ack: { num: block.num, more: true, szx: Math.min(block.szx, preferredSzx) },
      };
    }
    const body = Buffer.concat(t.parts, t.received);
    this.drop(key, 'incomplete');
    return { kind: 'complete', body, ack: { num: block.num, more: false, szx: block.szx } };
  }

  clear(): void {
    this.transfers.clear();
    this.totalBytes = 0;
  }

  private countForPeer(peerKey: string): number {
    let n = 0;
    for (const t of this.transfers.values()) if (t.peerKey === peerKey) n++;
    return n;
  }

  private drop<K extends 'incomplete' | 'too-large'>(key: string, kind: K): { kind: K } {
    const t = this.transfers.get(key);
    if (t !== undefined) {
      this.totalBytes -= t.received;
      this.transfers.delete(key);
    }
    return { kind };
  }

  private expire(now: number): void {
    for (const [key, t] of this.transfers) if (t.expiresAt <= now) this.drop(key, 'incomplete');
  }
}

/** Bodies of Block2 transfers in progress, so later blocks match the first (RFC 7959 section 2.4). */
export class Block2BodyCache {
  private readonly bodies = new Map<string, { body: Buffer; expiresAt: number; template: unknown }>();
  private totalBytes = 0;

  constructor(
    private readonly maxTotalBytes: number,
    private readonly lifetime: number,
  ) {}

  get<T>(key: string, now: number): { body: Buffer; template: T } | undefined {
    const e = this.bodies.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt <= now) {
      this.delete(key);
      return undefined;
    }
    return { body: e.body, template: e.template as T };
  }

  set(key: string, body: Buffer, template: unknown, now: number): void {
    this.delete(key);
    for (const [k, e] of this.bodies) {
      if (e.expiresAt > now && this.totalBytes + body.length <= this.maxTotalBytes) break;
      this.delete(k);
    }
    if (this.totalBytes + body.length > this.maxTotalBytes) return;
    this.bodies.set(key, { body, expiresAt: now + this.lifetime, template });
    this.totalBytes += body.length;
  }

  delete(key: string): void {
    const e = this.bodies.get(key);
    if (e === undefined) return;
    this.totalBytes -= e.body.length;
    this.bodies.delete(key);
  }

  clear(): void {
    this.bodies.clear();
    this.totalBytes = 0;
  }
}
