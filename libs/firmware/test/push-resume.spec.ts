// A push that stops halfway on one node resumes on another (its progress in Redis), after the last block the
// device acknowledged; a device that lost the transfer (it restarted) answers 4.08 and the push starts over
// once. Real UDP sockets, a simulated object 5 device, a real redis-server.
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CoapEndpoint } from '@lwm2m/coap';
import { InMemoryImageStore, pushFirmware, RedisPushProgressStore } from '@lwm2m/firmware';
import { SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { type RedisHandle, startRedis } from '../../../test/support/redis';

let redis: RedisHandle;
let client: Redis;
const closing: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});

afterAll(async () => {
  for (const c of closing.reverse()) await c();
  client?.disconnect();
  await redis?.stop();
});

async function node(): Promise<CoapEndpoint> {
  const ep = new CoapEndpoint({ transport: await UdpTransport.bind({ address: '127.0.0.1', port: 0 }) });
  closing.push(() => ep.close());
  return ep;
}

async function device(): Promise<{ dev: SimulatedDevice; port: number }> {
  const udp = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  const dev = new SimulatedDevice({
    endpoint: 'resume-1',
    transport: udp,
    server: { address: '127.0.0.1', port: 9 },
    sensorIntervalMs: 0,
    firmware: {},
  });
  closing.push(() => dev.close());
  return { dev, port: udp.address().port };
}

async function* once(b: Buffer) {
  yield b;
}

it('resumes on another node from the progress in Redis, and starts over once when the device lost it', async () => {
  const images = new InMemoryImageStore();
  const image = await images.put({ name: 'r', version: '1' }, once(randomBytes(200_000)), {
    maxBytes: 1 << 20,
  });
  const progress = new RedisPushProgressStore(client, 'resume:');
  const { dev, port } = await device();
  const at = { address: '127.0.0.1', port };
  const ctl = new AbortController();
  const a = await pushFirmware({ endpoint: await node(), peer: () => at }, images, image.id, {
    endpoint: 'resume-1',
    progress,
    signal: ctl.signal,
    onProgress: (p) => p.sent >= 100 * 1024 && ctl.abort(),
  });
  expect(a).toMatchObject({ ok: false, error: 'aborted' });
  expect(await progress.get('resume-1')).toMatchObject({ acked: 100 * 1024, state: 'failed' });
  // Another node, another socket: the device takes block 100 next.
  const b = await pushFirmware({ endpoint: await node(), peer: () => at }, images, image.id, {
    endpoint: 'resume-1',
    progress,
  });
  expect(b).toMatchObject({ ok: true, resumedFrom: 100 * 1024, retries: 0 });
  expect(dev.firmware!.lastPackage).toEqual({ size: image.size, sha256: image.sha256, mode: 'push' });

  // A fresh device (it rebooted and lost the transfer) behind a stopped push: 4.08, then from block 0.
  await progress.set('resume-1', { ...(await progress.get('resume-1'))!, acked: 50 * 1024, state: 'failed' });
  const fresh = await device();
  const c = await pushFirmware(
    { endpoint: await node(), peer: () => ({ address: '127.0.0.1', port: fresh.port }) },
    images,
    image.id,
    { endpoint: 'resume-1', progress },
  );
  expect(c).toMatchObject({ ok: true, resumedFrom: 50 * 1024 });
  expect(fresh.dev.firmware!.lastPackage?.sha256).toBe(image.sha256);
});

it('an abort given through another node stops the push within abortCheckEvery blocks and forgets it', async () => {
  const images = new InMemoryImageStore();
  const image = await images.put({ name: 'a', version: '1' }, once(randomBytes(200_000)), {
    maxBytes: 1 << 20,
  });
  // Node A pushes; node B (its own Redis connection, its own store) is given the abort.
  const progressA = new RedisPushProgressStore(client, 'abort:');
  const other = new Redis(redis.url);
  closing.push(async () => other.disconnect());
  const progressB = new RedisPushProgressStore(other as never, 'abort:');
  const { dev, port } = await device();
  const at = { address: '127.0.0.1', port };
  let sent = 0;
  let aborting: Promise<void> | undefined;
  let sentWhenAborted = -1;
  const checkEvery = 8;
  const r = await pushFirmware({ endpoint: await node(), peer: () => at }, images, image.id, {
    endpoint: 'resume-1',
    progress: progressA,
    saveEvery: 4,
    abortCheckEvery: checkEvery,
    // Only the block count bounds it here (no check for time's sake).
    abortCheckMs: 3_600_000,
    onProgress: (p) => {
      sent = p.sent;
      if (p.sent >= 50 * 1024 && aborting === undefined)
        aborting = progressB.abort('resume-1').then(() => {
          sentWhenAborted = sent;
        });
    },
  });
  await aborting;
  expect(r).toMatchObject({ ok: false, error: 'aborted' });
  expect(sentWhenAborted).toBeGreaterThanOrEqual(50 * 1024);
  // Blocks the device acknowledged after the abort was stored: fewer than the check interval, plus the one
  // in flight.
  expect(sent - sentWhenAborted).toBeLessThanOrEqual((checkEvery + 1) * 1024);
  expect(sent).toBeLessThan(image.size);
  // Forgotten: its progress is gone (its saves every 4 blocks did not bring it back).
  expect(await progressA.get('resume-1')).toBeUndefined();
  expect(await progressB.abortGeneration('resume-1')).toBe(1);

  // The abort stopped the push that was running, not the next: a new push begins at block 0 and ends.
  const again = await pushFirmware({ endpoint: await node(), peer: () => at }, images, image.id, {
    endpoint: 'resume-1',
    progress: progressA,
    abortCheckEvery: 1,
  });
  expect(again).toMatchObject({ ok: true, resumedFrom: 0 });
  expect(dev.firmware!.lastPackage).toEqual({ size: image.size, sha256: image.sha256, mode: 'push' });
});
