// Object 5 (LwM2M TS 1.1 Core E.6) on the simulated client over real UDP: a Block1 push to /5/0/0 (RFC 7959
// 2.5) from @lwm2m/firmware's pushFirmware, a pull of the Package URI served block by block (2.4) by its
// FirmwareCoapResource, the State and Update Result machine, and failures drawn by the failure rate.
import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { CoapCode, CoapEndpoint, encodeBlock, formatCode, OptionNumber } from '@lwm2m/coap';
import {
  FirmwareCoapResource,
  type FirmwareImage,
  InMemoryImageStore,
  InMemoryPushProgressStore,
  pushFirmware,
} from '@lwm2m/firmware';
import { FirmwareState } from '@lwm2m/lwm2m';
import { type FirmwareOptions, progressBar, SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { TestLwm2mServer, until } from './test-server';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function* once(b: Buffer) {
  yield b;
}

async function setup(firmware: FirmwareOptions = {}) {
  const server = await TestLwm2mServer.start();
  cleanups.push(() => server.close());
  const transport = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  const device = new SimulatedDevice({
    endpoint: 'fw-1',
    transport,
    server: server.address,
    sensorIntervalMs: 0,
    observeTickMs: 20,
    requestTimeoutMs: 3000,
    firmware: { updateMs: 30, ...firmware },
  });
  cleanups.push(() => device.close());
  const states: [number, number][] = [];
  device.firmware!.on('state', (s) => states.push([s.state, s.result]));
  await device.start();
  const images = new InMemoryImageStore();
  const content = randomBytes(150_000 + 77);
  const image = await images.put({ name: 'fw', version: '2.0' }, once(content), { maxBytes: 1 << 20 });
  return { server, device, images, image, content, states };
}

const target = (server: TestLwm2mServer) => ({ endpoint: server.coap, peer: () => server.devicePeer! });
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function execute(server: TestLwm2mServer, path: string) {
  return formatCode((await server.request({ code: CoapCode.POST, path })).code);
}

describe('simulated object 5 (Firmware Update)', () => {
  it('registers /5/0 and takes a Block1 push: 0 -> 1 -> 2, then Update -> 3 -> 0 with result 1', async () => {
    const { server, device, images, image, states } = await setup();
    expect(device.objectLinks()).toContain('</5/0>');
    const notified: string[] = [];
    const obs = await server.coap.observe(server.devicePeer!, { path: '/5/0/3', accept: 0 }, (res) =>
      notified.push(res.payload.toString()),
    );
    expect(obs.response.payload.toString()).toBe('0');
    const progress: number[] = [];
    const res = await pushFirmware(target(server), images, image.id, {
      endpoint: 'fw-1',
      onProgress: (p) => progress.push(p.sent),
    });
    expect(res).toMatchObject({ ok: true, coapCode: '2.04', resumedFrom: 0, retries: 0 });
    expect(res.blocks).toBe(Math.ceil(image.size / 1024));
    expect(progress.at(-1)).toBe(image.size);
    expect(device.firmware!.state).toBe(FirmwareState.DOWNLOADED);
    expect(device.firmware!.lastPackage).toEqual({ size: image.size, sha256: image.sha256, mode: 'push' });
    expect(await execute(server, '/5/0/2')).toBe('2.04');
    await until(() => device.firmware!.result === 1, 3000, 'update result 1');
    expect(states).toEqual([
      [1, 0],
      [2, 0],
      [3, 0],
      [0, 1],
    ]);
    expect(device.tree.getValue('/3/0/3')).toBe(`fw-${image.sha256.slice(0, 12)}`);
    await until(() => notified.includes('3') && notified.at(-1) === '0', 3000, 'notifications of /5/0/3');
    obs.cancel();
  });

  it('pulls the Package URI with Block2 from a CoAP server and checks the hash', async () => {
    const { server, device, images, image, content, states } = await setup();
    const resource = new FirmwareCoapResource(images);
    const udp = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
    const repo = new CoapEndpoint({
      transport: udp,
      handler: (req) => resource.handle(req) ?? { code: CoapCode.NOT_FOUND },
      streamedBlocks: (path) => resource.streams(path),
    });
    cleanups.push(() => repo.close());
    const uri = `coap://127.0.0.1:${udp.address().port}/fw/${image.id}`;
    const w = await server.request({ code: CoapCode.PUT, path: '/5/0/1', contentFormat: 0, payload: uri });
    expect(formatCode(w.code)).toBe('2.04');
    await until(() => device.firmware!.state === FirmwareState.DOWNLOADED, 5000, 'downloaded');
    expect(device.firmware!.lastPackage).toEqual({
      size: content.length,
      sha256: sha(content),
      mode: 'pull',
    });
    expect(resource.counters.blocks).toBe(Math.ceil(image.size / 1024));
    expect(await execute(server, '/5/0/2')).toBe('2.04');
    await until(() => device.firmware!.result === 1, 3000, 'update result 1');
    expect(states.map(([s]) => s)).toEqual([1, 2, 3, 0]);
  });

  it('ends a pull of an unknown image with result 7 (invalid URI) and an unsupported scheme with 9', async () => {
    const { server, device } = await setup();
    const resource = new FirmwareCoapResource(new InMemoryImageStore());
    const udp = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
    const repo = new CoapEndpoint({
      transport: udp,
      handler: (req) => resource.handle(req) ?? { code: CoapCode.NOT_FOUND },
      streamedBlocks: (path) => resource.streams(path),
    });
    cleanups.push(() => repo.close());
    const uri = `coap://127.0.0.1:${udp.address().port}/fw/nope`;
    await server.request({ code: CoapCode.PUT, path: '/5/0/1', contentFormat: 0, payload: uri });
    await until(() => device.firmware!.result === 7, 3000, 'result 7');
    expect(device.firmware!.state).toBe(FirmwareState.IDLE);
    await server.request({ code: CoapCode.PUT, path: '/5/0/1', contentFormat: 0, payload: 'ftp://x/y' });
    await until(() => device.firmware!.result === 9, 3000, 'result 9');
  });

  it('resumes an interrupted push after the last acknowledged block', async () => {
    const { server, device, images, image } = await setup();
    const progress = new InMemoryPushProgressStore();
    const ctl = new AbortController();
    const first = await pushFirmware(target(server), images, image.id, {
      endpoint: 'fw-1',
      progress,
      saveEvery: 1,
      signal: ctl.signal,
      onProgress: (p) => p.sent >= 60 * 1024 && ctl.abort(),
    });
    expect(first).toMatchObject({ ok: false, error: 'aborted' });
    const stopped = await progress.get('fw-1');
    expect(stopped).toMatchObject({ state: 'failed', acked: 60 * 1024 });
    expect(device.firmware!.state).toBe(FirmwareState.DOWNLOADING);
    const second = await pushFirmware(target(server), images, image.id, { endpoint: 'fw-1', progress });
    expect(second).toMatchObject({ ok: true, resumedFrom: 60 * 1024 });
    expect(second.blocks).toBe(Math.ceil((image.size - 60 * 1024) / 1024));
    expect(device.firmware!.lastPackage?.sha256).toBe(image.sha256);
    expect(await progress.get('fw-1')).toMatchObject({ state: 'done', acked: image.size });
  });

  it('acknowledges a block it already has again and answers a gap with 4.08', async () => {
    const { server, device } = await setup();
    const block = (num: number, more = true) => ({
      code: CoapCode.PUT,
      path: '/5/0/0',
      contentFormat: 42,
      options: [{ number: OptionNumber.BLOCK1, value: encodeBlock({ num, more, szx: 2 }) }],
      payload: Buffer.alloc(64, num),
    });
    expect(formatCode((await server.request(block(0))).code)).toBe('2.31');
    expect(formatCode((await server.request(block(1))).code)).toBe('2.31');
    expect(formatCode((await server.request(block(1))).code)).toBe('2.31');
    expect(device.firmware!.repeatedBlocks).toBe(1);
    expect(formatCode((await server.request(block(5))).code)).toBe('4.08');
    const bad = await server.request({
      ...block(2),
      options: [{ number: OptionNumber.BLOCK1, value: Buffer.from([1, 2, 3, 4]) }],
    });
    expect(formatCode(bad.code)).toBe('4.02');
    expect(formatCode((await server.request(block(2, false))).code)).toBe('2.04');
    expect(device.firmware!.lastPackage?.size).toBe(192);
    // Update outside Downloaded is refused; an empty Package resets to Idle.
    expect(
      formatCode((await server.request({ ...block(0), options: [], payload: Buffer.alloc(0) })).code),
    ).toBe('2.04');
    expect(device.firmware!.state).toBe(FirmwareState.IDLE);
    expect(await execute(server, '/5/0/2')).toBe('4.05');
  });

  it('fails the update with the configured result (8: back to Downloaded) at failure rate 1', async () => {
    const { server, device, images, image, states } = await setup({ failureRate: 1 });
    expect((await pushFirmware(target(server), images, image.id, { endpoint: 'fw-1' })).ok).toBe(true);
    await execute(server, '/5/0/2');
    await until(() => device.firmware!.result === 8, 3000, 'result 8');
    expect(states.at(-1)).toEqual([FirmwareState.DOWNLOADED, 8]);
  });

  it('fails the download with an integrity error (5: back to Idle) when that is the failure result', async () => {
    const { server, device, images, image } = await setup({ failureRate: 1, failureResult: 5 });
    expect((await pushFirmware(target(server), images, image.id, { endpoint: 'fw-1' })).ok).toBe(true);
    expect([device.firmware!.state, device.firmware!.result]).toEqual([FirmwareState.IDLE, 5]);
    expect(device.firmware!.lastPackage).toBeUndefined();
  });

  it('downloads at the configured speed and draws a progress bar', async () => {
    const { server, device, images, image } = await setup({ bytesPerSecond: 500_000 });
    const started = Date.now();
    await pushFirmware(target(server), images, image.id, { endpoint: 'fw-1' });
    // 150 kB at 500 kB/s: at least ~300 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(progressBar({ state: 1, result: 0, received: 512, total: 1024 }, 10)).toBe(
      '[#####.....]  50.0% 1 KiB/1 KiB downloading',
    );
    void device;
    void (image as FirmwareImage);
  });
});

describe('simulated object 9 (Software Management)', () => {
  async function setup9(software: FirmwareOptions = {}) {
    const server = await TestLwm2mServer.start();
    cleanups.push(() => server.close());
    const device = new SimulatedDevice({
      endpoint: 'sw-1',
      transport: await UdpTransport.bind({ address: '127.0.0.1', port: 0 }),
      server: server.address,
      sensorIntervalMs: 0,
      requestTimeoutMs: 3000,
      software: { updateMs: 30, ...software },
    });
    cleanups.push(() => device.close());
    const states: number[] = [];
    device.software!.on('state', (s) => states.push(s.state));
    await device.start();
    const images = new InMemoryImageStore();
    const image = await images.put({ name: 'sw', version: '1' }, once(randomBytes(20_000)), {
      maxBytes: 1 << 20,
    });
    return { server, device, images, image, states };
  }

  it('takes a push to /9/0/2, installs, activates, deactivates and uninstalls', async () => {
    const { server, device, images, image, states } = await setup9();
    expect(device.objectLinks()).toContain('</9/0>');
    const res = await pushFirmware(target(server), images, image.id, { endpoint: 'sw-1', path: '/9/0/2' });
    expect(res.ok).toBe(true);
    expect([device.software!.state, device.software!.result]).toEqual([3, 3]);
    expect(device.software!.lastPackage?.sha256).toBe(image.sha256);
    expect(await execute(server, '/9/0/10')).toBe('4.05');
    expect(await execute(server, '/9/0/4')).toBe('2.04');
    await until(() => device.software!.state === 4, 3000, 'installed');
    expect(device.software!.result).toBe(2);
    expect(await execute(server, '/9/0/10')).toBe('2.04');
    expect(device.software!.active).toBe(true);
    expect(await execute(server, '/9/0/11')).toBe('2.04');
    expect(device.software!.active).toBe(false);
    expect(await execute(server, '/9/0/6')).toBe('2.04');
    expect([device.software!.state, device.software!.result]).toEqual([0, 0]);
    expect(states).toEqual([1, 2, 3, 4, 4, 4, 0]);
  });

  it('pulls /9/0/3 and fails Install with 58 at failure rate 1', async () => {
    const { server, device, images, image } = await setup9({ failureRate: 1 });
    const resource = new FirmwareCoapResource(images);
    const udp = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
    const repo = new CoapEndpoint({
      transport: udp,
      handler: (req) => resource.handle(req) ?? { code: CoapCode.NOT_FOUND },
      streamedBlocks: (path) => resource.streams(path),
    });
    cleanups.push(() => repo.close());
    const uri = `coap://127.0.0.1:${udp.address().port}/fw/${image.id}`;
    await server.request({ code: CoapCode.PUT, path: '/9/0/3', contentFormat: 0, payload: uri });
    await until(() => device.software!.state === 3, 5000, 'delivered');
    expect(device.software!.lastPackage).toMatchObject({ sha256: image.sha256, mode: 'pull' });
    await execute(server, '/9/0/4');
    await until(() => device.software!.result === 58, 3000, 'result 58');
    expect(device.software!.state).toBe(3);
  });
});
