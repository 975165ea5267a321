// Firmware images and delivery end to end (issue 17 items 1, 2, 4): an image uploaded as a stream to the
// api (Redis chunks), served over HTTP with Range and over CoAP Block2 at /fw/<id> by the gateway (read by
// libcoap's coap-client and the `coap` npm package, hashes compared), and a simulated device updated by Pull
// and by Push through POST /api/v1/devices/{ep}/firmware, its State 0 -> 1 -> 2 -> 3 -> 0 with result 1.
// Over NoSec an unverified address is first asked for an RFC 9175 Echo round trip (no amplification).
import { createHash, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import coap from 'coap';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CoapCode,
  CoapEndpoint,
  CoapType,
  createMessage,
  decodeMessage,
  encodeBlock,
  encodeMessage,
  formatCode,
  getOption,
  OptionNumber,
  setOption,
  setUriPath,
} from '@lwm2m/coap';
import type { FirmwareImage } from '@lwm2m/firmware';
import { SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { CoapServerService } from '../../apps/gateway/src/coap-server.service';
import { runCoapClient } from '../support/libcoap';
import { startTestServer, type TestServer } from '../support/single-node';

const MAX = 2 * 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let server: TestServer;
let content: Buffer;
let image: FirmwareImage;
let dir: string;

const stack = () => server.node.gateway.get(CoapServerService).stack;
const challenged = () => stack().firmware!.counters.echoChallenged;

async function upload(body: Buffer, query = 'name=sensor-fw&version=2.0.0') {
  const res = await fetch(`${server.http}/api/v1/firmware?${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body,
  });
  return { status: res.status, body: (await res.json()) as FirmwareImage & { detail?: string } };
}

beforeAll(async () => {
  server = await startTestServer({ firmware: { FIRMWARE_MAX_BYTES: String(MAX) } });
  dir = await mkdtemp(join(tmpdir(), 'fw-e2e-'));
  content = randomBytes(300_000 + 123);
  const up = await upload(content);
  expect(up.status).toBe(201);
  image = up.body;
});

afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('firmware images over REST', () => {
  it('stores a streamed upload with its size and SHA-256 and lists it', async () => {
    expect(image).toMatchObject({
      name: 'sensor-fw',
      version: '2.0.0',
      size: content.length,
      sha256: sha(content),
    });
    const list = await server.api<{ items: FirmwareImage[] }>('GET', '/api/v1/firmware');
    expect(list.body.items.map((i) => i.id)).toContain(image.id);
    expect((await server.api('GET', `/api/v1/firmware/${image.id}`)).body).toEqual(image);
  });

  it('serves the content over HTTP, whole and by Range', async () => {
    const whole = await fetch(`${server.http}/api/v1/firmware/${image.id}/content`);
    expect(whole.status).toBe(200);
    expect(sha(Buffer.from(await whole.arrayBuffer()))).toBe(image.sha256);
    const part = await fetch(`${server.http}/api/v1/firmware/${image.id}/content`, {
      headers: { range: 'bytes=70000-70999' },
    });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 70000-70999/${content.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(content.subarray(70000, 71000))).toBe(true);
    const bad = await fetch(`${server.http}/api/v1/firmware/${image.id}/content`, {
      headers: { range: `bytes=${content.length}-` },
    });
    expect(bad.status).toBe(416);
  });

  it('refuses an image over FIRMWARE_MAX_BYTES with 413, a missing name with 400, an unknown id with 404', async () => {
    const big = await upload(Buffer.alloc(MAX + 1));
    expect(big.status).toBe(413);
    expect(big.body.detail).toContain(`${MAX} bytes`);
    expect((await upload(Buffer.alloc(10), 'version=1')).status).toBe(400);
    expect((await server.api('GET', '/api/v1/firmware/nope')).status).toBe(404);
    expect((await server.api('GET', '/api/v1/firmware/..%2Fetc')).status).toBe(404);
    const chunked = await fetch(`${server.http}/api/v1/firmware?name=a&version=b`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      // A stream without Content-Length: the limit holds while reading.
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 3; i++) c.enqueue(new Uint8Array(MAX / 2));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    const list = await server.api<{ items: FirmwareImage[] }>('GET', '/api/v1/firmware');
    expect(list.body.items).toHaveLength(1);
  });
});

describe('Pull over CoAP Block2 from the gateway (/fw/<id>)', () => {
  it('libcoap coap-client -b 1024 answers the Echo challenge, downloads the image and its hash matches', async () => {
    const before = challenged();
    const out = join(dir, 'libcoap.bin');
    const run = await runCoapClient([
      '-m',
      'get',
      '-b',
      '1024',
      '-o',
      out,
      `coap://127.0.0.1:${server.coapPort}/fw/${image.id}`,
    ]);
    expect(run.code).toBe(0);
    expect(sha(await readFile(out))).toBe(image.sha256);
    // One 4.01 + Echo for its first request (RFC 9175 section 2.3: libcoap repeats it), none per block.
    expect(challenged() - before).toBe(1);
  });

  it('the coap npm package, Echo-aware, is challenged first, then downloads the image block-wise', async () => {
    // Our own socket: the agent closes its own when idle and the repeat would leave from another port,
    // an address the Echo value was not issued to.
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const agent = new coap.Agent({ socket: sock });
    const get = (echo?: Buffer) =>
      new Promise<coap.IncomingMessage>((resolve, reject) => {
        const req = coap.request({
          hostname: '127.0.0.1',
          port: server.coapPort,
          pathname: `/fw/${image.id}`,
          agent,
        });
        req.setOption('Block2', Buffer.from([0x06]));
        // RFC 9175 section 2.3: the request repeated with the Echo value (option 252, unnamed in node-coap).
        if (echo !== undefined) req.setOption(String(OptionNumber.ECHO), echo);
        req.on('response', resolve);
        req.on('error', reject);
        req.end();
      });
    // node-coap keeps an option it has no name for under its number, its value a Buffer.
    const echoOf = (res: coap.IncomingMessage) =>
      (res as unknown as { options: Array<{ name: string; value: unknown }> }).options.find(
        (o) => o.name === String(OptionNumber.ECHO),
      )?.value as Buffer | undefined;
    const before = challenged();
    try {
      const first = await get();
      expect(first.code).toBe('4.01');
      const echo = echoOf(first);
      expect(echo).toBeInstanceOf(Buffer);
      expect(first.payload.length).toBe(0);
      const res = await get(echo);
      expect(res.code).toBe('2.05');
      expect(sha(res.payload)).toBe(image.sha256);
      // One challenge: the verified address then gets every block without Echo.
      expect(challenged() - before).toBe(1);
    } finally {
      agent.close();
      sock.close();
    }
  });

  it('answers an unknown image 4.04, a PUT 4.05 and a block past the end 4.02, and counts them', async () => {
    const udp = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
    const ep = new CoapEndpoint({ transport: udp });
    const at = { address: '127.0.0.1', port: server.coapPort };
    try {
      expect(formatCode((await ep.request(at, { path: '/fw/unknown' })).code)).toBe('4.04');
      expect(formatCode((await ep.request(at, { code: CoapCode.PUT, path: `/fw/${image.id}` })).code)).toBe(
        '4.05',
      );
      const past = await ep.request(
        at,
        {
          path: `/fw/${image.id}`,
          options: [{ number: OptionNumber.BLOCK2, value: encodeBlock({ num: 5000, more: false, szx: 6 }) }],
        },
        { singleExchange: true },
      );
      expect(formatCode(past.code)).toBe('4.02');
    } finally {
      await ep.close();
    }
    const fw = server.node.gateway.get(CoapServerService).stack.firmware!;
    expect(fw.resource.counters.notFound).toBeGreaterThanOrEqual(1);
    expect(fw.resource.counters.badRequests).toBeGreaterThanOrEqual(2);
  });
});

describe('NoSec /fw against a forged source (RFC 9175 section 2.4)', () => {
  const sockets: Socket[] = [];
  let mid = 1;

  async function socket(address = '127.0.0.1'): Promise<Socket> {
    const s = createSocket('udp4');
    sockets.push(s);
    await new Promise<void>((r) => s.bind(0, address, r));
    return s;
  }

  afterAll(() => {
    for (const s of sockets) s.close();
  });

  /** One CON GET of block `num` of the image, optionally with an Echo value; the answer and the bytes. */
  async function get(s: Socket, num: number, echo?: Buffer) {
    const msg = createMessage({ type: CoapType.CON, code: CoapCode.GET, messageId: mid++ & 0xffff });
    msg.token = randomBytes(4);
    setUriPath(msg, `/fw/${image.id}`);
    setOption(msg, OptionNumber.BLOCK2, encodeBlock({ num, more: false, szx: 6 }));
    if (echo !== undefined) setOption(msg, OptionNumber.ECHO, echo);
    const out = encodeMessage(msg);
    const answer = new Promise<Buffer>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no answer')), 3000);
      s.once('message', (b) => {
        clearTimeout(t);
        resolve(b);
      });
    });
    s.send(out, server.coapPort, '127.0.0.1');
    const raw = await answer;
    const res = decodeMessage(raw);
    return {
      code: formatCode(res.code),
      echo: getOption(res, OptionNumber.ECHO),
      payload: res.payload,
      sent: out.length,
      received: raw.length,
    };
  }

  it('an unverified source that never echoes gets only 4.01 answers no larger than its requests', async () => {
    const before = challenged();
    const s = await socket('127.0.0.7');
    let sent = 0;
    let received = 0;
    for (let num = 0; num < 20; num++) {
      const r = await get(s, num);
      expect(r.code).toBe('4.01');
      expect(r.echo?.length).toBeGreaterThan(0);
      expect(r.payload.length).toBe(0);
      sent += r.sent;
      received += r.received;
    }
    // The amplification factor a spoofed victim would see: at most 1 (a served block would be ~20).
    expect(received / sent).toBeLessThanOrEqual(1);
    expect(challenged() - before).toBe(20);
  });

  it('refuses a forged or stale Echo value and one minted for another address; serves a verified one', async () => {
    const a = await socket();
    const b = await socket();
    const first = await get(a, 0);
    expect(first.code).toBe('4.01');
    // Forged: random bytes of the right length, and the value with one tag byte flipped.
    expect((await get(a, 0, randomBytes(first.echo!.length))).code).toBe('4.01');
    const flipped = Buffer.from(first.echo!);
    flipped[flipped.length - 1]! ^= 0xff;
    expect((await get(a, 0, flipped)).code).toBe('4.01');
    // Stale: minted with the gateway's Echo key (the one /fw shares) two minutes ago, past its 60 s.
    const { port } = a.address();
    const stale = stack().echo.issue({ address: '127.0.0.1', port }, Date.now() - 120_000);
    expect((await get(a, 0, stale)).code).toBe('4.01');
    // Another address (another port of the same host) presenting a's value: not verified.
    const other = await get(b, 0, first.echo);
    expect(other.code).toBe('4.01');
    expect(other.payload.length).toBe(0);
    // a repeats its own fresh value: the block, then the following blocks without Echo (verified state).
    const fresh = (await get(a, 0)).echo!;
    const served = await get(a, 0, fresh);
    expect(served.code).toBe('2.05');
    expect(served.payload.equals(content.subarray(0, 1024))).toBe(true);
    const next = await get(a, 1);
    expect(next.code).toBe('2.05');
    expect(next.payload.equals(content.subarray(1024, 2048))).toBe(true);
    // b is still unverified.
    expect((await get(b, 1)).code).toBe('4.01');
  });
});

describe('a simulated device updated end to end', () => {
  let device: SimulatedDevice;
  const states: [number, number][] = [];

  beforeAll(async () => {
    device = new SimulatedDevice({
      endpoint: 'fw-e2e',
      transport: await UdpTransport.bind({ address: '127.0.0.1', port: 0 }),
      server: { address: '127.0.0.1', port: server.coapPort },
      sensorIntervalMs: 0,
      updateAt: 0,
      requestTimeoutMs: 5000,
      firmware: { updateMs: 50 },
    });
    device.firmware!.on('state', (s) => states.push([s.state, s.result]));
    await device.start();
  });

  afterAll(async () => {
    await device?.close();
  });

  async function updateAndExecute(): Promise<void> {
    await expect.poll(() => device.firmware!.state, { timeout: 15_000 }).toBe(2);
    expect(device.firmware!.lastPackage?.sha256).toBe(image.sha256);
    const exec = await server.api('POST', '/api/v1/devices/fw-e2e/data/5/0/2/execute');
    expect(exec.status).toBe(204);
    await expect.poll(() => device.firmware!.result, { timeout: 5000 }).toBe(1);
  }

  it('by Pull: the Package URI written to /5/0/1, fetched with Block2 from the gateway', async () => {
    states.length = 0;
    const before = challenged();
    const res = await server.api<{ packageUri: string; status: number }>(
      'POST',
      '/api/v1/devices/fw-e2e/firmware',
      {
        imageId: image.id,
        mode: 'pull',
        packageUri: `coap://127.0.0.1:${server.coapPort}/fw/${image.id}`,
      },
    );
    expect(res.status).toBe(202);
    await updateAndExecute();
    expect(device.firmware!.lastPackage?.mode).toBe('pull');
    // A registered NoSec device's current address is verified already: no Echo round trip.
    expect(challenged()).toBe(before);
    expect(states).toEqual([
      [1, 0],
      [2, 0],
      [3, 0],
      [0, 1],
    ]);
  });

  it('by Push: Block1 writes of /5/0/0 streamed from the image store, progress on REST', async () => {
    states.length = 0;
    const res = await server.api<{ status: number }>('POST', '/api/v1/devices/fw-e2e/firmware', {
      imageId: image.id,
      mode: 'push',
    });
    expect(res.status).toBe(202);
    await updateAndExecute();
    expect(device.firmware!.lastPackage?.mode).toBe('push');
    expect(states).toEqual([
      [1, 0],
      [2, 0],
      [3, 0],
      [0, 1],
    ]);
    const progress = await server.api<{ state: string; acked: number }>(
      'GET',
      '/api/v1/devices/fw-e2e/firmware',
    );
    expect(progress.body).toMatchObject({ state: 'done', acked: content.length });
  });

  it('refuses an unknown image (404), a bad mode (400) and an unknown device (404)', async () => {
    const post = (ep: string, body: unknown) => server.api('POST', `/api/v1/devices/${ep}/firmware`, body);
    expect((await post('fw-e2e', { imageId: 'nope', mode: 'push' })).status).toBe(404);
    expect((await post('fw-e2e', { imageId: image.id, mode: 'ftp' })).status).toBe(400);
    expect((await post('nobody', { imageId: image.id, mode: 'push' })).status).toBe(404);
  });

  it('counts blocks served and pushes on /metrics', async () => {
    const text = await (await fetch(`${server.http}/metrics`)).text();
    const value = (line: string) => Number(new RegExp(`^${line} (\\d+)`, 'm').exec(text)?.[1]);
    expect(value('firmware_blocks_served_total')).toBeGreaterThan(600);
    expect(value('firmware_pushes_total\\{outcome="succeeded"\\}')).toBe(1);
    expect(value('firmware_pushes_active')).toBe(0);
    expect(value('firmware_requests_refused_total\\{reason="not-found"\\}')).toBeGreaterThanOrEqual(1);
    expect(value('firmware_requests_refused_total\\{reason="echo"\\}')).toBe(challenged());
    expect(challenged()).toBeGreaterThanOrEqual(2);
  });

  it('deletes the image (admin) and then knows it no more', async () => {
    expect((await server.api('DELETE', `/api/v1/firmware/${image.id}`)).status).toBe(204);
    expect((await server.api('GET', `/api/v1/firmware/${image.id}`)).status).toBe(404);
    expect((await server.api('DELETE', `/api/v1/firmware/${image.id}`)).status).toBe(404);
  });
});
