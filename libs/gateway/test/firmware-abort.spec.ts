// A push aborted through another gateway node: node A runs a block-wise push to a (slow) simulated device,
// node B, which does not hold it (the session moved there, or the push began before a takeover), is given
// the firmware-push-abort command. Both share one Redis (the PushProgressStore, separate connections): A's
// push stops within pushFirmware's abort check (16 blocks) and its progress is forgotten. Real UDP sockets,
// a real redis-server.
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CoapEndpoint } from '@lwm2m/coap';
import { InMemoryImageStore, RedisPushProgressStore } from '@lwm2m/firmware';
import type { DeviceCommand } from '@lwm2m/server';
import { SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { type RedisHandle, startRedis } from '../../../test/support/redis';
import { GatewayFirmware } from '../src/firmware';

let redis: RedisHandle;
const closing: (() => Promise<unknown> | void)[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const c of closing.reverse()) await c();
  await redis?.stop();
});

async function until<T>(
  what: string,
  f: () => T | undefined | Promise<T | undefined>,
  ms = 20_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

it('an abort given to another node stops the push within its check and forgets its progress', async () => {
  const images = new InMemoryImageStore();
  const image = await images.put(
    { name: 'x', version: '1' },
    (async function* () {
      yield randomBytes(300_000);
    })(),
    { maxBytes: 1 << 20 },
  );
  const udp = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  // 40 KB/s: the push takes ~7 s, long enough to be cut.
  const dev = new SimulatedDevice({
    endpoint: 'ab-1',
    transport: udp,
    server: { address: '127.0.0.1', port: 9 },
    sensorIntervalMs: 0,
    firmware: { bytesPerSecond: 40_000 },
  });
  closing.push(() => dev.close());
  let received = 0;
  dev.firmware!.on('progress', (p) => (received = p.received));
  const devicePeer = { address: '127.0.0.1', port: udp.address().port };

  const node = async () => {
    const conn = new Redis(redis.url);
    closing.push(() => conn.disconnect());
    const endpoint = new CoapEndpoint({
      transport: await UdpTransport.bind({ address: '127.0.0.1', port: 0 }),
    });
    closing.push(() => endpoint.close());
    const fw = new GatewayFirmware({
      images,
      pushes: new RedisPushProgressStore(conn as never, 'gwabort:'),
      endpoint,
      registrations: { getByEndpoint: async () => ({ endpoint: 'ab-1' }) } as never,
      client: { peerOf: () => devicePeer },
      log: { debug: () => undefined, warn: () => undefined },
    });
    closing.push(() => fw.close());
    return fw;
  };
  const a = await node();
  const b = await node();
  const cmd = (op: DeviceCommand['op']): DeviceCommand =>
    ({ id: op, endpoint: 'ab-1', op, imageId: image.id, createdAt: Date.now() }) as DeviceCommand;

  expect(await a.startPush(cmd('firmware-push'))).toMatchObject({ ok: true, status: 202 });
  await until('20 KB pushed', () => (received >= 20_000 ? true : undefined));
  // B holds no push of the device: 204, yet A's push sees the abort in the shared store.
  expect(await b.abortPush(cmd('firmware-push-abort'))).toMatchObject({ ok: true, status: 204 });
  const atAbort = received;
  await until('the push on A to stop', () => (a.activePushes === 0 ? true : undefined));
  expect(a.counters).toMatchObject({ pushesStarted: 1, pushesFailed: 1, pushesSucceeded: 0 });
  // At most 16 blocks after the check that follows the abort, and the one in flight.
  expect(received - atAbort).toBeLessThanOrEqual(17 * 1024);
  expect(received).toBeLessThan(image.size);
  expect(dev.firmware!.lastPackage).toBeUndefined();
  const conn = new Redis(redis.url);
  closing.push(() => conn.disconnect());
  const progress = new RedisPushProgressStore(conn as never, 'gwabort:');
  expect(await progress.get('ab-1')).toBeUndefined();
  expect(await progress.abortGeneration('ab-1')).toBe(1);
});
