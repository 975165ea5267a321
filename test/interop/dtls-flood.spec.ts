// A legitimate PSK device (node-dtls-client, npm, written by others) must complete its handshake and a CoAP
// exchange while strangers abuse the handshake: ten sources holding half-open handshakes (the cookie
// exchange done, then silence, 10/s each), and 100 forged ClientHellos/s carrying the device's address.
import { afterEach, describe, expect, it } from 'vitest';
import { dtls } from 'node-dtls-client';
import {
  CoapCode,
  CoapEndpoint,
  CoapType,
  createMessage,
  decodeMessage,
  encodeMessage,
  type IncomingRequest,
  type OutgoingResponse,
} from '@lwm2m/coap';
import { DtlsServer, type DtlsServerOptions } from '@lwm2m/dtls';
import { UdpTransport } from '@lwm2m/udp';
import { forgedHellos, halfOpenSource, type Flood } from '../../libs/dtls/test/raw-peer';

const PSK = 'flood-device-secret';

async function startServer(opts: Partial<DtlsServerOptions> = {}) {
  const udp = await UdpTransport.bind({ port: 0 });
  const server = new DtlsServer({
    transport: udp,
    psk: (identity) => (identity.toString() === 'device' ? Buffer.from(PSK) : undefined),
    ...opts,
  });
  const coap = new CoapEndpoint({
    transport: server,
    handler: (req: IncomingRequest): OutgoingResponse =>
      req.path.join('/') === 'hello'
        ? { code: CoapCode.CONTENT, payload: 'still here', contentFormat: 0 }
        : { code: CoapCode.NOT_FOUND },
  });
  return { server, coap, address: udp.address() };
}

/** One node-dtls-client handshake plus a CoAP GET /hello; resolves to the payload, rejects on failure. */
async function deviceExchange(port: number, messageId: number): Promise<string> {
  const socket = dtls.createSocket({
    type: 'udp4',
    address: '127.0.0.1',
    port,
    psk: { device: PSK },
    ciphers: ['TLS_PSK_WITH_AES_128_CCM_8'],
    timeout: 8000,
  } as dtls.Options);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.on('connected', () => resolve());
      socket.on('error', reject);
    });
    const answer = new Promise<Buffer>((resolve, reject) => {
      socket.on('message', (m: Buffer) => resolve(m));
      setTimeout(() => reject(new Error('no CoAP answer')), 8000).unref();
    });
    socket.send(
      encodeMessage(
        createMessage({
          type: CoapType.CON,
          code: CoapCode.GET,
          messageId,
          token: Buffer.from([messageId & 0xff]),
          options: [{ number: 11, value: Buffer.from('hello') }],
        }),
      ),
    );
    const res = decodeMessage(await answer);
    expect(res.code).toBe(CoapCode.CONTENT);
    return res.payload.toString();
  } finally {
    try {
      socket.close();
    } catch {
      // never connected: nothing to close (node-dtls-client throws "Not running")
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until the floods have sent `n` hellos (and at least `minMs` passed): a busy machine slows the
 * flood's timers, so a fixed wait would sometimes test a smaller flood than the test names.
 */
async function floodSent(n: number, minMs: number, timeoutMs = 60_000): Promise<number> {
  const start = Date.now();
  const total = () => floods.reduce((sum, f) => sum + f.sent, 0);
  while (total() < n || Date.now() - start < minMs) {
    if (Date.now() - start > timeoutMs) throw new Error(`the flood sent ${total()} of ${n} hellos`);
    await sleep(50);
  }
  return total();
}

const floods: Flood[] = [];
const endpoints: CoapEndpoint[] = [];
afterEach(async () => {
  for (const f of floods.splice(0)) await f.stop();
  for (const e of endpoints.splice(0)) await e.close();
});

describe('a legitimate device handshakes through handshake abuse (node-dtls-client)', () => {
  it('while 10 sources hold half-open handshakes (10/s each): oldest half-open ones are evicted, none refused', async () => {
    // maxHandshakes 200 instead of 1000 shows the same lock-out in 2 s instead of 10 s.
    const { server, coap, address } = await startServer({ maxHandshakes: 200 });
    endpoints.push(coap);
    // Ten source addresses; one is the device's own (a carrier NAT shares it).
    for (let i = 0; i < 10; i++)
      floods.push(
        await halfOpenSource(i === 0 ? '127.0.0.1' : `127.0.0.${i + 1}`, address, {
          perSecond: 10,
          sockets: 60,
        }),
      );
    // 10 x 10/s for 3.5 s: about 350 handshakes, far more than the table of 200 holds.
    await floodSent(300, 3500);
    const payloads: string[] = [];
    for (let i = 0; i < 3; i++) payloads.push(await deviceExchange(address.port, 0x100 + i));
    expect(payloads).toEqual(['still here', 'still here', 'still here']);
    // The flood did take more than the table holds: it was full when the device came.
    expect(server.counters.handshakesStarted).toBeGreaterThan(200 + 3);
    expect(server.counters.handshakesInProgress).toBeLessThanOrEqual(200);
    expect(server.counters.handshakesEvicted).toBeGreaterThan(0);
    expect(server.counters.clientHellosOverLimit).toBe(0);
    const flooded = floods.reduce((n, f) => n + f.sent, 0);
    console.log(
      `half-open flood: ${flooded} cookie-verified hellos, ${server.counters.handshakesStarted} started, ` +
        `${server.counters.handshakesEvicted} evicted, ${server.counters.handshakesStalled} stalled, ` +
        `${server.counters.handshakesInProgress} in progress, device 3/3`,
    );
  }, 90_000);

  it('with default limits, after 11 s of 10 sources x 10/s half-open handshakes (today: the table of 1,000 is full)', async () => {
    const { server, coap, address } = await startServer();
    endpoints.push(coap);
    for (let i = 0; i < 10; i++)
      floods.push(
        await halfOpenSource(i === 0 ? '127.0.0.1' : `127.0.0.${i + 1}`, address, {
          perSecond: 10,
          sockets: 130, // one port per handshake: a new one from the same port would replace the last
        }),
      );
    // 10 x 10/s for 11 s: more than the old table of 1,000 held.
    await floodSent(1050, 11_000, 90_000);
    const payloads: string[] = [];
    for (let i = 0; i < 3; i++) payloads.push(await deviceExchange(address.port, 0x300 + i));
    expect(payloads).toEqual(['still here', 'still here', 'still here']);
    expect(server.counters.handshakesStarted).toBeGreaterThan(1000); // the flood outran the old table
    expect(server.counters.clientHellosOverLimit).toBe(0);
    // Bounded per address (64 by default) and by the 10 s half-open hold.
    expect(server.counters.handshakesInProgress).toBeLessThanOrEqual(10 * 64);
    console.log(
      `default limits: ${server.counters.handshakesStarted} started, ${server.counters.handshakesEvicted} evicted, ` +
        `${server.counters.handshakesStalled} stalled, ${server.counters.handshakesInProgress} in progress, device 3/3`,
    );
  }, 150_000);

  it('while 100 forged ClientHellos/s carry its address: 6/6 handshakes, the per-address budget untouched', async () => {
    const { server, coap, address } = await startServer();
    endpoints.push(coap);
    floods.push(await forgedHellos('127.0.0.1', address, { perSecond: 100, sockets: 5 }));
    // At least 1 s (long enough to drain a per-address bucket of 40 at 20/s) and 100 forged hellos.
    const forged = await floodSent(100, 1000);
    let ok = 0;
    for (let i = 0; i < 6; i++) if ((await deviceExchange(address.port, 0x200 + i)) === 'still here') ok++;
    expect(ok).toBe(6);
    expect(server.counters.clientHellosRateLimited).toBe(0);
    // Every forged hello sent before the device's (one socket, in order) got its stateless HelloVerifyRequest.
    expect(server.counters.helloVerifyRequests).toBeGreaterThanOrEqual(forged + 6);
    console.log(
      `forged hellos: ${floods[0].sent} sent, ${server.counters.helloVerifyRequests} HVRs, device ${ok}/6`,
    );
  }, 90_000);
});
