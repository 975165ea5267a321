// Firmware images (LwM2M TS 1.1/1.2 object 5 packages) kept where every node reads them: one interface, a
// Redis adapter (chunks), a directory adapter (FIRMWARE_DIR) and an in-memory one for unit tests. Content is
// written from a stream (hashed as it comes, never held whole) and read back by byte range, so a gateway
// serving blocks reads only the chunk a block falls in.
import { createHash, type Hash, randomUUID } from 'node:crypto';

/** What every node knows of an image. */
export interface FirmwareImage {
  id: string;
  name: string;
  version: string;
  /** Bytes. */
  size: number;
  /** SHA-256 of the content, lowercase hex. */
  sha256: string;
  /** ISO 8601. */
  created: string;
}

export interface NewImage {
  name: string;
  version: string;
}

export interface PutOptions {
  /** Refuse the upload (ImageTooLargeError) once the content exceeds this many bytes. */
  maxBytes: number;
  /** The id to use (default: a random UUID). */
  id?: string;
}

/** Where images live. Implementations: InMemoryImageStore, DirectoryImageStore, RedisImageStore. */
export interface ImageStore {
  /** Stores the content as it streams in; nothing is listed before the last byte is written. */
  put(image: NewImage, content: AsyncIterable<Uint8Array>, opts: PutOptions): Promise<FirmwareImage>;
  get(id: string): Promise<FirmwareImage | undefined>;
  list(): Promise<FirmwareImage[]>;
  delete(id: string): Promise<boolean>;
  /** Bytes [offset, offset + length) of an image (fewer at its end); ImageNotFoundError when unknown. */
  read(id: string, offset: number, length: number): Promise<Buffer>;
}

/** Domain errors (the api maps them to problem+json: 413, 404). */
export class ImageTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`the image exceeds ${maxBytes} bytes`);
    this.name = 'ImageTooLargeError';
  }
}

export class ImageNotFoundError extends Error {
  constructor(readonly id: string) {
    super(`no firmware image ${id}`);
    this.name = 'ImageNotFoundError';
  }
}

export class InvalidImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidImageError';
  }
}

/** Ids are path segments (coap://host/fw/{id}) and file names: a UUID or [A-Za-z0-9._-], 1..64. */
export function validImageId(id: string): boolean {
  return /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/.test(id);
}

export function newImageId(given?: string): string {
  const id = given ?? randomUUID();
  if (!validImageId(id)) throw new InvalidImageError(`invalid image id "${id}"`);
  return id;
}

export function checkNewImage(image: NewImage): void {
  for (const [k, v] of Object.entries(image)) {
    if (typeof v !== 'string' || v.length === 0 || v.length > 255)
      throw new InvalidImageError(`${k} must be a string of 1..255 characters`);
  }
}

/** The metadata of an image whose content was hashed and counted as it was stored. */
export function imageMeta(id: string, image: NewImage, size: number, hash: Hash, now: number): FirmwareImage {
  return {
    id,
    name: image.name,
    version: image.version,
    size,
    sha256: hash.digest('hex'),
    created: new Date(now).toISOString(),
  };
}

/** Reads a stream in pieces of exactly `size` bytes (the last may be shorter), counting against maxBytes. */
export async function* rechunk(
  content: AsyncIterable<Uint8Array>,
  size: number,
  maxBytes: number,
): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let held = 0;
  let total = 0;
  for await (const piece of content) {
    let buf = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    total += buf.length;
    if (total > maxBytes) throw new ImageTooLargeError(maxBytes);
    while (held + buf.length >= size) {
      const take = size - held;
      parts.push(buf.subarray(0, take));
      yield Buffer.concat(parts, size);
      parts = [];
      held = 0;
      buf = buf.subarray(take);
    }
    if (buf.length > 0) {
      // Copied: the source may reuse its buffer after we return to it.
      parts.push(Buffer.from(buf));
      held += buf.length;
    }
  }
  if (held > 0) yield Buffer.concat(parts, held);
}

/** Images in this process's memory: unit tests and memory mode. */
export class InMemoryImageStore implements ImageStore {
  private readonly images = new Map<string, { meta: FirmwareImage; content: Buffer }>();

  constructor(private readonly now: () => number = Date.now) {}

  async put(image: NewImage, content: AsyncIterable<Uint8Array>, opts: PutOptions): Promise<FirmwareImage> {
    checkNewImage(image);
    const id = newImageId(opts.id);
    const hash = createHash('sha256');
    const parts: Buffer[] = [];
    let size = 0;
    for await (const chunk of rechunk(content, 64 * 1024, opts.maxBytes)) {
      hash.update(chunk);
      parts.push(chunk);
      size += chunk.length;
    }
    const meta = imageMeta(id, image, size, hash, this.now());
    this.images.set(id, { meta, content: Buffer.concat(parts, size) });
    return meta;
  }

  async get(id: string): Promise<FirmwareImage | undefined> {
    return this.images.get(id)?.meta;
  }

  async list(): Promise<FirmwareImage[]> {
    return [...this.images.values()].map((i) => i.meta);
  }

  async delete(id: string): Promise<boolean> {
    return this.images.delete(id);
  }

  async read(id: string, offset: number, length: number): Promise<Buffer> {
    const i = this.images.get(id);
    if (i === undefined) throw new ImageNotFoundError(id);
    return i.content.subarray(offset, offset + length);
  }
}
