// Images as files in FIRMWARE_DIR (a volume every node mounts, or one node's disk): <id>.bin holds the
// content, <id>.json the metadata, written after the content is whole (an upload in progress is <id>.part).
// A block read is one positioned read of the file.
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  checkNewImage,
  type FirmwareImage,
  imageMeta,
  ImageNotFoundError,
  type ImageStore,
  newImageId,
  type NewImage,
  type PutOptions,
  rechunk,
  validImageId,
} from './image-store';

export class DirectoryImageStore implements ImageStore {
  constructor(
    private readonly dir: string,
    private readonly now: () => number = Date.now,
  ) {}

  async put(image: NewImage, content: AsyncIterable<Uint8Array>, opts: PutOptions): Promise<FirmwareImage> {
    checkNewImage(image);
    const id = newImageId(opts.id);
    await mkdir(this.dir, { recursive: true });
    const part = join(this.dir, `${id}.part`);
    const file = await open(part, 'w');
    const hash = createHash('sha256');
    let size = 0;
    try {
      for await (const chunk of rechunk(content, 64 * 1024, opts.maxBytes)) {
        hash.update(chunk);
        await file.write(chunk);
        size += chunk.length;
      }
      await file.close();
    } catch (err) {
      await file.close().catch(() => undefined);
      await rm(part, { force: true });
      throw err;
    }
    const meta = imageMeta(id, image, size, hash, this.now());
    await rename(part, this.file(id, 'bin'));
    await writeFile(this.file(id, 'json'), JSON.stringify(meta));
    return meta;
  }

  async get(id: string): Promise<FirmwareImage | undefined> {
    if (!validImageId(id)) return undefined;
    try {
      return JSON.parse(await readFile(this.file(id, 'json'), 'utf8')) as FirmwareImage;
    } catch {
      return undefined;
    }
  }

  async list(): Promise<FirmwareImage[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const ids = names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5));
    const all = await Promise.all(ids.sort().map((id) => this.get(id)));
    return all.filter((i): i is FirmwareImage => i !== undefined);
  }

  async delete(id: string): Promise<boolean> {
    if ((await this.get(id)) === undefined) return false;
    await rm(this.file(id, 'json'), { force: true });
    await rm(this.file(id, 'bin'), { force: true });
    return true;
  }

  async read(id: string, offset: number, length: number): Promise<Buffer> {
    if (!validImageId(id)) throw new ImageNotFoundError(id);
    let f;
    try {
      f = await open(this.file(id, 'bin'), 'r');
    } catch {
      throw new ImageNotFoundError(id);
    }
    try {
      const buf = Buffer.allocUnsafe(Math.max(0, length));
      const { bytesRead } = await f.read(buf, 0, buf.length, offset);
      return buf.subarray(0, bytesRead);
    } finally {
      await f.close();
    }
  }

  private file(id: string, ext: 'bin' | 'json'): string {
    return join(this.dir, `${id}.${ext}`);
  }
}
