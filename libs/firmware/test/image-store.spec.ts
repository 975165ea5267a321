// One contract for every ImageStore (memory, FIRMWARE_DIR, Redis chunks on a real redis-server): streamed
// puts hashed and sized, byte-range reads across chunk boundaries, the size limit refusing an upload without
// leaving anything behind, listing and deletion; and the push progress stores.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DirectoryImageStore,
  ImageNotFoundError,
  type ImageStore,
  ImageTooLargeError,
  InMemoryImageStore,
  InMemoryPushProgressStore,
  InvalidImageError,
  type PushProgressStore,
  rechunk,
  RedisImageStore,
  RedisPushProgressStore,
} from '@lwm2m/firmware';
import { type RedisHandle, startRedis } from '../../../test/support/redis';

let redis: RedisHandle;
let client: Redis;
let dir: string;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  dir = await mkdtemp(join(tmpdir(), 'fw-store-'));
});

afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The content in uneven pieces, as a network stream delivers it. */
async function* pieces(b: Buffer, sizes = [1, 1000, 70_000, 3]) {
  let at = 0;
  for (let i = 0; at < b.length; i++) {
    const n = sizes[i % sizes.length]!;
    yield new Uint8Array(b.subarray(at, at + n));
    at += n;
  }
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const stores: [string, () => ImageStore][] = [
  ['InMemoryImageStore', () => new InMemoryImageStore()],
  ['DirectoryImageStore', () => new DirectoryImageStore(join(dir, randomBytes(4).toString('hex')))],
  [
    'RedisImageStore',
    // Small chunks, so reads cross their boundaries.
    () =>
      new RedisImageStore({
        redis: client,
        keyPrefix: `t${randomBytes(4).toString('hex')}:`,
        chunkBytes: 4096,
      }),
  ],
];

describe.each(stores)('%s', (_name, make) => {
  it('stores a streamed image with its size and SHA-256, lists it and reads any byte range', async () => {
    const store = make();
    const content = randomBytes(50_000 + 17);
    const image = await store.put({ name: 'n', version: 'v' }, pieces(content), { maxBytes: 1 << 20 });
    expect(image).toMatchObject({ name: 'n', version: 'v', size: content.length, sha256: sha(content) });
    expect(await store.get(image.id)).toEqual(image);
    expect((await store.list()).map((i) => i.id)).toEqual([image.id]);
    for (const [offset, length] of [
      [0, 1024],
      [4095, 2],
      [4000, 9000],
      [content.length - 10, 1024],
      [content.length, 16],
    ] as const) {
      const got = await store.read(image.id, offset, length);
      expect(got.equals(content.subarray(offset, offset + length))).toBe(true);
    }
  });

  it('takes an id of its caller and an empty image', async () => {
    const store = make();
    const image = await store.put({ name: 'e', version: '0' }, pieces(Buffer.alloc(0)), {
      maxBytes: 10,
      id: 'fw-empty.1',
    });
    expect(image).toMatchObject({ id: 'fw-empty.1', size: 0, sha256: sha(Buffer.alloc(0)) });
    expect((await store.read('fw-empty.1', 0, 1024)).length).toBe(0);
  });

  it('refuses an image over the limit and keeps nothing of it', async () => {
    const store = make();
    await expect(
      store.put({ name: 'big', version: '1' }, pieces(randomBytes(20_000)), { maxBytes: 10_000 }),
    ).rejects.toBeInstanceOf(ImageTooLargeError);
    expect(await store.list()).toEqual([]);
  });

  it('refuses ids that are not path-safe and empty names', async () => {
    const store = make();
    for (const id of ['../x', 'a/b', '', '.hidden', 'x'.repeat(65)]) {
      await expect(
        store.put({ name: 'n', version: 'v' }, pieces(Buffer.alloc(1)), { maxBytes: 10, id }),
      ).rejects.toBeInstanceOf(InvalidImageError);
    }
    await expect(
      store.put({ name: '', version: 'v' }, pieces(Buffer.alloc(1)), { maxBytes: 10 }),
    ).rejects.toThrow(InvalidImageError);
  });

  it('deletes an image: gone from the listing, reads fail with ImageNotFoundError', async () => {
    const store = make();
    const image = await store.put({ name: 'd', version: '1' }, pieces(randomBytes(9000)), {
      maxBytes: 1 << 20,
    });
    expect(await store.delete(image.id)).toBe(true);
    expect(await store.delete(image.id)).toBe(false);
    expect(await store.get(image.id)).toBeUndefined();
    expect(await store.list()).toEqual([]);
    await expect(store.read(image.id, 0, 10)).rejects.toBeInstanceOf(ImageNotFoundError);
  });
});

it('the directory store leaves no partial file after a refused upload', async () => {
  const d = join(dir, 'partial');
  const store = new DirectoryImageStore(d);
  await expect(
    store.put({ name: 'big', version: '1' }, pieces(randomBytes(20_000)), { maxBytes: 100 }),
  ).rejects.toBeInstanceOf(ImageTooLargeError);
  expect(await readdir(d)).toEqual([]);
});

it('the Redis store leaves no chunk after a refused upload, and deletes every chunk', async () => {
  const prefix = `t${randomBytes(4).toString('hex')}:`;
  const store = new RedisImageStore({
    redis: client,
    keyPrefix: prefix,
    chunkBytes: 1024,
    maxImageBytes: 5000,
  });
  await expect(
    store.put({ name: 'big', version: '1' }, pieces(randomBytes(20_000)), { maxBytes: 1 << 20 }),
  ).rejects.toMatchObject({ maxBytes: 5000 });
  expect(await client.keys(`${prefix}*`)).toEqual([]);
  const image = await store.put({ name: 's', version: '1' }, pieces(randomBytes(4500)), {
    maxBytes: 1 << 20,
  });
  expect((await client.keys(`${prefix}{fw:${image.id}}:c:*`)).length).toBe(5);
  await store.delete(image.id);
  expect(await client.keys(`${prefix}*`)).toEqual([]);
});

it('rechunk cuts any stream into pieces of the size asked, the last shorter', async () => {
  const content = randomBytes(10_001);
  const out: Buffer[] = [];
  for await (const c of rechunk(pieces(content, [7, 3000, 1]), 1024, 1 << 20)) out.push(c);
  expect(out.slice(0, -1).every((c) => c.length === 1024)).toBe(true);
  expect(out.at(-1)!.length).toBe(10_001 % 1024);
  expect(Buffer.concat(out).equals(content)).toBe(true);
});

describe.each([
  ['InMemoryPushProgressStore', () => new InMemoryPushProgressStore()],
  ['RedisPushProgressStore', () => new RedisPushProgressStore(client, `t${randomBytes(4).toString('hex')}:`)],
] as [string, () => PushProgressStore][])('%s', (_name, make) => {
  it('keeps the progress of a device until deleted', async () => {
    const store = make();
    expect(await store.get('ep')).toBeUndefined();
    const p = {
      imageId: 'i',
      sha256: 'h',
      size: 10,
      szx: 6,
      acked: 4,
      state: 'pushing' as const,
      updatedAt: 1,
    };
    await store.set('ep', p);
    expect(await store.get('ep')).toEqual(p);
    await store.delete('ep');
    expect(await store.get('ep')).toBeUndefined();
  });

  it("an abort bumps the device's generation and forgets its progress", async () => {
    const store = make();
    expect(await store.abortGeneration('ep')).toBe(0);
    await store.set('ep', {
      imageId: 'i',
      sha256: 'h',
      size: 10,
      szx: 6,
      acked: 4,
      state: 'pushing',
      updatedAt: 1,
    });
    await store.abort('ep');
    await store.abort('ep');
    expect(await store.abortGeneration('ep')).toBe(2);
    expect(await store.abortGeneration('other')).toBe(0);
    expect(await store.get('ep')).toBeUndefined();
  });
});
