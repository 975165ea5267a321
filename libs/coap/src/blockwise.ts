// RFC 7959 sections 2.3-2.5 and 3: server-side state of block-wise transfers (Block1 reassembly,
// Block2 bodies kept so that every block of one transfer comes from the same representation).
import { type BlockValue, blockSize } from './block';

export interface BlockwiseLimits {
  /** Largest body reassembled or served, in bytes (RFC 7959 section 2.9.3: 4.13 beyond it). Default 1 MiB. */
  maxBodySize: number;
  /** Concurrent Block1 uploads per peer; a new one beyond it replaces the peer's least recently active. */
  maxTransfersPerPeer: number;
  /** Bytes one peer's uploads may buffer together. Default 1 MiB. */
  maxBytesPerPeer: number;
  /**
   * Bytes buffered by all uploads and cached bodies together. When a block would exceed it, the least
   * recently active uploads of other peers are evicted (stalled ones first) rather than refusing it.
   */
  maxTotalBytes: number;
}

export const DEFAULT_BLOCKWISE_LIMITS: Readonly<BlockwiseLimits> = Object.freeze({
  maxBodySize: 1024 * 1024,
  maxTransfersPerPeer: 4,
  maxBytesPerPeer: 1024 * 1024,
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

export interface Block1Counters {
  /** Uploads evicted to make room for another (budget or per-peer count reached). */
  evicted: number;
  /** Uploads refused or dropped with 4.13 (body, per-peer or global budget exceeded). */
  tooLarge: number;
}

/**
 * Reassembles Block1 request bodies, keyed by peer and request (method, URI) per RFC 7959 section 2.5.
 * Bounded per body (per resource: the caller passes the limit), per peer and in total; when full, the
 * least recently active uploads go first, so strangers' stalled uploads cannot lock out a live one.
 */
export class Block1Assembler {
  /** Map order is activity order: a transfer is re-inserted on each block, so the first is the stalest. */
  private readonly transfers = new Map<string, Transfer>();
  private readonly peerBytes = new Map<string, number>();
  private totalBytes = 0;
  readonly counters: Block1Counters = { evicted: 0, tooLarge: 0 };

  constructor(
    private readonly limits: BlockwiseLimits,
    private readonly lifetime: number,
  ) {}

  get bufferedBytes(): number {
    return this.totalBytes;
  }

  get size(): number {
    return this.transfers.size;
  }

  /**
   * Adds one block. `preferredSzx` is the server's block size: it may ask the client for smaller
   * blocks in the 2.31 response (section 2.5; the client then continues at the same byte offset).
   * `maxBody` is the limit of this resource (default limits.maxBodySize).
   */
  add(
    key: string,
    peerKey: string,
    block: BlockValue,
    payload: Buffer,
    preferredSzx: number,
    now: number,
    size1?: number,
    maxBody = this.limits.maxBodySize,
  ): Block1Result {
    this.expire(now);
    const size = blockSize(block.szx);
    const offset = block.num * size;
    if (size1 !== undefined && size1 > maxBody) return this.tooLarge(key);
    // Section 2.2: a non-last block must be exactly the block size.
    if (block.more && payload.length !== size) return this.drop(key, 'incomplete');
    let t = this.transfers.get(key);
    if (block.num === 0) {
      if (t !== undefined) this.drop(key, 'incomplete');
      if (!this.makeRoomForPeer(peerKey)) return this.tooLarge(key);
      t = { peerKey, parts: [], received: 0, expiresAt: 0 };
    } else if (t === undefined || t.received !== offset) {
      // Section 2.5: a block out of sequence gives 4.08 Request Entity Incomplete.
      return this.drop(key, 'incomplete');
    }
    if (t.received + payload.length > maxBody) return this.tooLarge(key);
    if ((this.peerBytes.get(peerKey) ?? 0) + payload.length > this.limits.maxBytesPerPeer) {
      return this.tooLarge(key);
    }
    // Re-inserted below, as the most recently active; its own bytes are never evicted for it.
    this.transfers.delete(key);
    if (!this.makeRoom(payload.length, peerKey)) {
      this.transfers.set(key, t);
      return this.tooLarge(key);
    }
    this.transfers.set(key, t);
    t.parts.push(Buffer.from(payload));
    t.received += payload.length;
    this.account(peerKey, payload.length);
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
    this.peerBytes.clear();
    this.totalBytes = 0;
  }

  /** A new upload of `peerKey`: at the per-peer count, its own least recently active one gives way. */
  private makeRoomForPeer(peerKey: string): boolean {
    let n = 0;
    let oldest: string | undefined;
    for (const [k, t] of this.transfers) {
      if (t.peerKey !== peerKey) continue;
      oldest ??= k;
      n++;
    }
    if (n < this.limits.maxTransfersPerPeer) return true;
    if (oldest === undefined) return false;
    this.counters.evicted++;
    this.drop(oldest, 'incomplete');
    return true;
  }

  /** Frees `bytes` of the global budget by evicting the least recently active uploads of other peers. */
  private makeRoom(bytes: number, peerKey: string): boolean {
    if (bytes > this.limits.maxTotalBytes) return false;
    for (const [k, t] of this.transfers) {
      if (this.totalBytes + bytes <= this.limits.maxTotalBytes) break;
      if (t.peerKey === peerKey) continue;
      this.counters.evicted++;
      this.drop(k, 'incomplete');
    }
    return this.totalBytes + bytes <= this.limits.maxTotalBytes;
  }

  private account(peerKey: string, delta: number): void {
    this.totalBytes += delta;
    const n = (this.peerBytes.get(peerKey) ?? 0) + delta;
    if (n > 0) this.peerBytes.set(peerKey, n);
    else this.peerBytes.delete(peerKey);
  }

  private tooLarge(key: string): { kind: 'too-large' } {
    this.counters.tooLarge++;
    return this.drop(key, 'too-large');
  }

  private drop<K extends 'incomplete' | 'too-large'>(key: string, kind: K): { kind: K } {
    const t = this.transfers.get(key);
    if (t !== undefined) {
      this.account(t.peerKey, -t.received);
      this.transfers.delete(key);
    }
    return { kind };
  }

  /** Drops uploads idle past their lifetime (the endpoint's periodic sweep; also on each add). */
  sweep(now: number): void {
    this.expire(now);
  }

  private expire(now: number): void {
    // Activity order: the first unexpired transfer ends the sweep.
    for (const [key, t] of this.transfers) {
      if (t.expiresAt > now) break;
      this.drop(key, 'incomplete');
    }
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

  get size(): number {
    return this.bodies.size;
  }

  /** Drops bodies past their lifetime (the endpoint's periodic sweep). */
  sweep(now: number): void {
    for (const [k, e] of this.bodies) {
      if (e.expiresAt > now) break;
      this.delete(k);
    }
  }

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
