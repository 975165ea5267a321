// Images in Redis, in chunks (layout in keys.ts): every node reads them, a block read is one GETRANGE of one
// chunk (two at a boundary), and an upload is written chunk by chunk as it streams in.
import { createHash } from 'node:crypto';
import type { RedisClient } from '@lwm2m/registry';
import {
  checkNewImage,
  type FirmwareImage,
  imageMeta,
  ImageNotFoundError,
  ImageTooLargeError,
  type ImageStore,
  newImageId,
  type NewImage,
  type PutOptions,
  rechunk,
} from './image-store';
import { type FirmwareKeys, firmwareKeys } from './keys';
import type { PushProgress, PushProgressStore } from './push';

export interface RedisImageStoreOptions {
  redis: RedisClient;
  keyPrefix?: string;
  /** Bytes per chunk (default 64 KiB). */
  chunkBytes?: number;
  /** Largest image this store takes (Redis memory is dear; larger images belong in FIRMWARE_DIR). */
  maxImageBytes?: number;
  now?: () => number;
}

export const DEFAULT_CHUNK_BYTES = 64 * 1024;

export class RedisImageStore implements ImageStore {
  private readonly keys: FirmwareKeys;
  private readonly chunkBytes: number;
  private readonly now: () => number;

  constructor(private readonly o: RedisImageStoreOptions) {
    this.keys = firmwareKeys(o.keyPrefix);
    this.chunkBytes = o.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    this.now = o.now ?? Date.now;
  }

  async put(image: NewImage, content: AsyncIterable<Uint8Array>, opts: PutOptions): Promise<FirmwareImage> {
    checkNewImage(image);
    const id = newImageId(opts.id);
    const max = Math.min(opts.maxBytes, this.o.maxImageBytes ?? Infinity);
    const redis = this.o.redis;
    const hash = createHash('sha256');
    let size = 0;
    let n = 0;
    try {
      for await (const chunk of rechunk(content, this.chunkBytes, max)) {
        hash.update(chunk);
        await redis.set(this.keys.chunk(id, n++), chunk);
        size += chunk.length;
      }
    } catch (err) {
      await this.removeChunks(id, n);
      if (err instanceof ImageTooLargeError) throw new ImageTooLargeError(max);
      throw err;
    }
    const meta = imageMeta(id, image, size, hash, this.now());
    await redis.hset(this.keys.meta(id), {
      name: meta.name,
      version: meta.version,
      size: String(size),
      sha256: meta.sha256,
      created: meta.created,
    });
    await redis.sadd(this.keys.images, id);
    return meta;
  }

  async get(id: string): Promise<FirmwareImage | undefined> {
    const h = await this.o.redis.hgetall(this.keys.meta(id));
    if (h.sha256 === undefined) return undefined;
    return {
      id,
      name: h.name ?? '',
      version: h.version ?? '',
      size: Number(h.size),
      sha256: h.sha256,
      created: h.created ?? '',
    };
  }

  async list(): Promise<FirmwareImage[]> {
    const ids = (await this.o.redis.smembers(this.keys.images)).sort();
    const all = await Promise.all(ids.map((id) => this.get(id)));
    return all.filter((i): i is FirmwareImage => i !== undefined);
  }

  async delete(id: string): Promise<boolean> {
    const meta = await this.get(id);
    if (meta === undefined) return false;
    await this.o.redis.srem(this.keys.images, id);
    await this.o.redis.del(this.keys.meta(id));
    await this.removeChunks(id, Math.ceil(meta.size / this.chunkBytes));
    return true;
  }

  async read(id: string, offset: number, length: number): Promise<Buffer> {
    if (length <= 0) return Buffer.alloc(0);
    const first = Math.floor(offset / this.chunkBytes);
    const last = Math.floor((offset + length - 1) / this.chunkBytes);
    const parts: Buffer[] = [];
    for (let n = first; n <= last; n++) {
      const start = n === first ? offset - n * this.chunkBytes : 0;
      const end = n === last ? offset + length - 1 - n * this.chunkBytes : this.chunkBytes - 1;
      const part = await this.o.redis.getrangeBuffer(this.keys.chunk(id, n), start, end);
      parts.push(part);
      if (part.length < end - start + 1) break;
    }
    const out = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    if (out.length === 0 && offset === 0 && (await this.get(id)) === undefined)
      throw new ImageNotFoundError(id);
    return out;
  }

  private async removeChunks(id: string, count: number): Promise<void> {
    for (let n = 0; n < count; n += 512) {
      const keys = [];
      for (let i = n; i < Math.min(count, n + 512); i++) keys.push(this.keys.chunk(id, i));
      if (keys.length > 0) await this.o.redis.del(...keys);
    }
  }
}

/** Push progress in Redis, so another node resumes a push this one started. */
export class RedisPushProgressStore implements PushProgressStore {
  private readonly keys: FirmwareKeys;

  constructor(
    private readonly redis: RedisClient,
    keyPrefix?: string,
    /** Progress expires after this long without a write (default 7 days). */
    private readonly ttlSeconds = 7 * 24 * 3600,
  ) {
    this.keys = firmwareKeys(keyPrefix);
  }

  async get(endpoint: string): Promise<PushProgress | undefined> {
    const raw = await this.redis.get(this.keys.push(endpoint));
    return raw === null ? undefined : (JSON.parse(raw) as PushProgress);
  }

  async set(endpoint: string, progress: PushProgress): Promise<void> {
    await this.redis.set(this.keys.push(endpoint), JSON.stringify(progress), 'EX', this.ttlSeconds);
  }

  async delete(endpoint: string): Promise<void> {
    await this.redis.del(this.keys.push(endpoint));
  }

  async abort(endpoint: string): Promise<void> {
    // One slot (the endpoint's hash tag): one transaction on Redis Cluster too.
    await this.redis
      .multi()
      .incr(this.keys.pushAbort(endpoint))
      .expire(this.keys.pushAbort(endpoint), this.ttlSeconds)
      .del(this.keys.push(endpoint))
      .exec();
  }

  async abortGeneration(endpoint: string): Promise<number> {
    return Number((await this.redis.get(this.keys.pushAbort(endpoint))) ?? 0);
  }
}
