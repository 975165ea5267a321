// Issue 17 acceptance: the gateway's heap stays flat while many devices pull one image with Block2 from /fw/<id>
// (each block read from the Redis image store when asked for, nothing kept per transfer). Defaults keep the
// test quick (10 devices, 5 MB: enough that what the transfers carry dwarfs the
// bounded caches); FW_PULL_DEVICES=100 FW_PULL_MB=10 is the acceptance run. The devices are
// simulated object 5 clients (their pulls hash the package, never keep it) in this process, so the heap
// measured is the gateway's plus theirs; the bound is far below what the transfers carry.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { FirmwareImage } from '@lwm2m/firmware';
import { SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { CoapServerService } from '../../apps/gateway/src/coap-server.service';
import { startTestServer, type TestServer } from '../support/single-node';

const DEVICES = Number(process.env.FW_PULL_DEVICES ?? 10);
const MB = Number(process.env.FW_PULL_MB ?? 5);
const SIZE = Math.round(MB * 1_000_000);
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.stop();
});

function heapAfterGc(): number {
  (globalThis as { gc?: () => void }).gc?.();
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

it(`keeps the heap flat while ${DEVICES} devices pull a ${MB} MB image with Block2`, async () => {
  const up = await fetch(`${server.http}/api/v1/firmware?name=pull&version=1`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: randomBytes(SIZE),
  });
  expect(up.status).toBe(201);
  const image = (await up.json()) as FirmwareImage;
  const uri = `coap://127.0.0.1:${server.coapPort}/fw/${image.id}`;
  const devices: SimulatedDevice[] = [];
  for (let i = 0; i < DEVICES; i++) {
    devices.push(
      new SimulatedDevice({
        endpoint: `pull-${i}`,
        transport: await UdpTransport.bind({ address: '127.0.0.1', port: 0 }),
        server: { address: '127.0.0.1', port: server.coapPort },
        sensorIntervalMs: 0,
        firmware: { pullTimeoutMs: 20_000 },
      }),
    );
  }
  try {
    const before = heapAfterGc();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 50);
    const started = Date.now();
    // The Package URI as the server writes it (/5/0/1): every device pulls at once.
    for (const d of devices) {
      d.tree.setValue('/5/0/1', uri);
      d.firmware!.packageUriWritten();
    }
    await expect
      .poll(() => devices.filter((d) => d.firmware!.state === 2).length, {
        timeout: 600_000,
        interval: 250,
      })
      .toBe(DEVICES);
    clearInterval(sampler);
    const seconds = (Date.now() - started) / 1000;
    const after = heapAfterGc();
    for (const d of devices) expect(d.firmware!.lastPackage?.sha256).toBe(image.sha256);
    const fw = server.node.gateway.get(CoapServerService).stack.firmware!;
    const carried = DEVICES * SIZE;
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
    console.log(
      `${DEVICES} x ${MB} MB pulled in ${seconds.toFixed(1)} s (${fw.resource.counters.blocks} blocks): heap ` +
        `${mib(before)} before, ${mib(peak)} peak, ${mib(after)} after GC; ${mib(carried)} carried`,
    );
    expect(fw.resource.counters.bytes).toBe(carried);
    // Flat: what stays (the endpoint's bounded deduplication cache of recent answers among it) is a few
    // MiB whatever the image size and the number of devices; nothing is kept per transfer.
    expect(after - before).toBeLessThan(32 * 2 ** 20);
    expect(after - before).toBeLessThan(carried / 2);
  } finally {
    await Promise.all(devices.map((d) => d.close()));
  }
}, 900_000);
