// Issue 17 acceptance: a large image pushed block-wise (Block1, RFC 7959 section 2.5) to one simulated device
// over DTLS 1.2 with a Connection ID, with a NAT rebinding halfway (the device's source port changes, as in
// coaps-register.spec.ts): the session survives (RFC 9146, no new handshake), the push carries on to the
// device's new address, and the package arrives intact (SHA-256). The image comes from FIRMWARE_DIR.
// FW_PUSH_MB sets the size: 8 MB by default (quick); FW_PUSH_MB=50 is the acceptance run (about 50 s on a
// loaded 2-core box, so not in the suite). The speed is in the log line.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DtlsClient } from '@lwm2m/dtls';
import type { FirmwareImage } from '@lwm2m/firmware';
import { SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { CoapServerService } from '../../apps/gateway/src/coap-server.service';
import { startTestServer, type TestServer } from '../support/single-node';

const MB = Number(process.env.FW_PUSH_MB ?? 8);
const SIZE = Math.round(MB * 1_000_000);
const KEY = randomBytes(16);
let server: TestServer;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fw-push-'));
  server = await startTestServer({ firmware: { FIRMWARE_DIR: dir } });
  const put = await server.api('PUT', '/api/v1/devices/fw-dtls/credentials', {
    psk: { identity: 'fw-dtls-id', key: KEY.toString('hex') },
  });
  expect(put.status).toBe(201);
});

afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

it(`pushes a ${MB} MB image over DTLS with a NAT rebinding halfway, and it arrives intact; then pulls over coaps`, async () => {
  // The image is made and hashed piece by piece: the test holds no 50 MB buffer either.
  const hash = createHash('sha256');
  const piece = randomBytes(1 << 20);
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      const sent = (this as unknown as { sent?: number }).sent ?? 0;
      if (sent >= SIZE) return c.close();
      const chunk = piece.subarray(0, Math.min(piece.length, SIZE - sent));
      hash.update(chunk);
      (this as unknown as { sent: number }).sent = sent + chunk.length;
      c.enqueue(new Uint8Array(chunk));
    },
  });
  const up = await fetch(`${server.http}/api/v1/firmware?name=big&version=1`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body,
    duplex: 'half',
  } as RequestInit);
  expect(up.status).toBe(201);
  const image = (await up.json()) as FirmwareImage;
  expect(image).toMatchObject({ size: SIZE, sha256: hash.digest('hex') });

  let udp = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  const transport = new DtlsClient({
    transport: udp,
    psk: { identity: 'fw-dtls-id', key: KEY },
    connectionId: true,
  });
  const device = new SimulatedDevice({
    endpoint: 'fw-dtls',
    transport,
    server: { address: '127.0.0.1', port: server.coapsPort },
    sensorIntervalMs: 0,
    updateAt: 0,
    requestTimeoutMs: 10_000,
    firmware: {},
  });
  try {
    await device.start();
    const svc = server.node.gateway.get(CoapServerService);
    const handshakes = svc.dtls!.counters.handshakesCompleted;
    let rebound: Promise<void> | undefined;
    device.firmware!.on('progress', (p) => {
      if (rebound !== undefined || p.received < SIZE / 2) return;
      // The NAT gives the device a new source port; its next uplink (an Update) shows the server where it is.
      rebound = (async () => {
        const old = udp;
        udp = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
        transport.setTransport(udp);
        await old.close();
        await device.update();
      })();
    });
    const started = Date.now();
    const res = await server.api<{ status: number }>('POST', '/api/v1/devices/fw-dtls/firmware', {
      imageId: image.id,
      mode: 'push',
    });
    expect(res.status).toBe(202);
    await expect.poll(() => device.firmware!.state, { timeout: 170_000, interval: 200 }).toBe(2);
    const seconds = (Date.now() - started) / 1000;
    console.log(`pushed ${MB} MB over DTLS in ${seconds.toFixed(1)} s (${(MB / seconds).toFixed(2)} MB/s)`);
    await rebound;
    expect(device.firmware!.lastPackage).toEqual({ size: SIZE, sha256: image.sha256, mode: 'push' });
    // Same DTLS session throughout: the CID carried it across the new port.
    expect(svc.dtls!.counters.handshakesCompleted).toBe(handshakes);
    const moved = await server.api<{ address: string }>('GET', '/api/v1/devices/fw-dtls');
    expect(moved.body.address).toBe(`127.0.0.1:${udp.address().port}`);
    const progress = await server.api<{ state: string; acked: number }>(
      'GET',
      '/api/v1/devices/fw-dtls/firmware',
    );
    expect(progress.body).toMatchObject({ state: 'done', acked: SIZE });
    // Pull over the same DTLS session: a coaps:// Package URI naming the gateway.
    const small = await fetch(`${server.http}/api/v1/firmware?name=small&version=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: randomBytes(100_000),
    });
    const smallImage = (await small.json()) as FirmwareImage;
    const pull = await server.api<{ status: number }>('POST', '/api/v1/devices/fw-dtls/firmware', {
      imageId: smallImage.id,
      mode: 'pull',
      packageUri: `coaps://127.0.0.1:${server.coapsPort}/fw/${smallImage.id}`,
    });
    expect(pull.status).toBe(202);
    await expect
      .poll(() => device.firmware!.lastPackage?.sha256, { timeout: 20_000, interval: 100 })
      .toBe(smallImage.sha256);
    expect(device.firmware!.lastPackage?.mode).toBe('pull');
    expect(svc.dtls!.counters.handshakesCompleted).toBe(handshakes);
    // coaps:// pulls never get the NoSec Echo challenge (FIRMWARE_NOSEC_ECHO).
    expect(svc.stack.firmware!.counters.echoChallenged).toBe(0);
  } finally {
    await device.close();
  }
}, 240_000);
