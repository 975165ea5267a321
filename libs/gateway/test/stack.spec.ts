// The gateway stack without Nest: what apps/gateway, the single node, the benches and a worker thread build.
// Once on UDP sockets it binds itself, once on public transports the caller hands it (the worker-thread case,
// here an in-process MemoryNetwork): a CoAP GET over NoSec, and a DTLS session with a Connection ID whose
// registration keeps the session as a typed CID ref.
import { afterEach, describe, expect, it } from 'vitest';
import { CoapCode, CoapEndpoint } from '@lwm2m/coap';
import { DtlsClient } from '@lwm2m/dtls';
import { createGatewayStack, type GatewayStack, validateGatewayConfig } from '@lwm2m/gateway';
import { createInMemoryStores, type InMemoryStores } from '@lwm2m/server';
import { type DatagramTransport, formatSessionRef, MemoryNetwork } from '@lwm2m/transport';
import { UdpTransport } from '@lwm2m/udp';

const KEY = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const open: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function stores(): Promise<InMemoryStores> {
  const s = createInMemoryStores();
  await s.credentials.put('urn:dev:stack-1', { type: 'psk', identity: 'stack-1', key: KEY });
  return s;
}

/** Asks the stack for its resource discovery and registers as `ep`, over `transport`. */
async function discoverAndRegister(
  transport: DatagramTransport,
  to: { address: string; port: number },
  ep: string,
) {
  const device = new CoapEndpoint({ transport });
  open.push(device);
  const wellKnown = await device.request(to, { code: CoapCode.GET, path: '/.well-known/core' });
  const registered = await device.request(to, {
    code: CoapCode.POST,
    path: '/rd',
    query: [`ep=${ep}`, 'lt=60', 'lwm2m=1.1', 'b=U'],
    payload: '</1/0>,</3/0>',
  });
  return { wellKnown, registered };
}

function dtlsClient(transport: DatagramTransport): DtlsClient {
  const client = new DtlsClient({
    transport,
    psk: { identity: 'stack-1', key: KEY },
    retransmit: { initialMs: 100, maxMs: 400 },
    handshakeTimeoutMs: 5000,
  });
  open.push(client);
  return client;
}

async function expectCidRegistration(stack: GatewayStack, s: InMemoryStores): Promise<void> {
  const session = stack.dtls!.sessions()[0]!;
  expect(session.ref.kind).toBe('cid');
  const reg = await s.registrations.getByEndpoint('urn:dev:stack-1');
  expect(reg).toMatchObject({ security: 'psk' });
  // The registration keeps the session typed: the DTLS session's own ref, by its CID.
  expect(reg!.session).toEqual(session.ref);
  expect(formatSessionRef(reg!.session)).toBe(session.key);
  expect(stack.counters().dtls()?.handshakesCompleted).toBe(1);
}

describe('createGatewayStack', () => {
  it('binds its own UDP sockets and serves a CoAP GET and a DTLS session with a CID', async () => {
    const s = await stores();
    const config = validateGatewayConfig({ COAP_PORT: '0', COAPS_PORT: '0', COAP_HOST: '127.0.0.1' });
    const stack = createGatewayStack(config, s);
    open.push(stack);
    await stack.start();
    const { coap, coaps, link } = stack.addresses();
    expect(link).toBeUndefined();

    const plain = await discoverAndRegister(await UdpTransport.bind({ port: 0 }), coap!, 'urn:dev:nosec-1');
    expect(plain.wellKnown.code).toBe(CoapCode.CONTENT);
    expect(plain.wellKnown.payload.toString()).toBe('</rd>;rt="core.rd"');
    expect(plain.registered.code).toBe(CoapCode.CREATED);
    const nosec = await s.registrations.getByEndpoint('urn:dev:nosec-1');
    expect(nosec!.session).toMatchObject({ kind: 'address', address: '127.0.0.1', secure: false });

    const secured = await discoverAndRegister(
      dtlsClient(await UdpTransport.bind({ port: 0 })),
      coaps,
      'urn:dev:stack-1',
    );
    expect(secured.wellKnown.code).toBe(CoapCode.CONTENT);
    expect(secured.registered.code).toBe(CoapCode.CREATED);
    await expectCidRegistration(stack, s);
    expect(stack.counters().coap()?.datagramsIn).toBeGreaterThanOrEqual(4);
  });

  it('serves on public transports the caller hands it (no socket bound), and closes them', async () => {
    const s = await stores();
    const net = new MemoryNetwork();
    const coapPublic = net.transport('10.0.0.1', 5683);
    const coapsPublic = net.transport('10.0.0.1', 5684);
    const config = validateGatewayConfig({ COAP_PORT: '1', COAPS_PORT: '1', COAP_HOST: '127.0.0.1' });
    const stack = createGatewayStack(config, s, { transports: { coap: coapPublic, coaps: coapsPublic } });
    open.push(stack);
    await stack.start();
    expect(stack.addresses()).toEqual({
      coap: { address: '10.0.0.1', port: 5683 },
      coaps: { address: '10.0.0.1', port: 5684 },
    });
    // Not a UDP socket of its own: nothing to multicast from.
    expect(stack.nosecUdp).toBeUndefined();

    const plain = await discoverAndRegister(
      net.transport('192.0.2.7', 40000),
      stack.addresses().coap!,
      'urn:dev:m-1',
    );
    expect(plain.wellKnown.payload.toString()).toBe('</rd>;rt="core.rd"');
    expect(plain.registered.code).toBe(CoapCode.CREATED);

    const secured = await discoverAndRegister(
      dtlsClient(net.transport('192.0.2.8', 40001)),
      stack.addresses().coaps,
      'urn:dev:stack-1',
    );
    expect(secured.registered.code).toBe(CoapCode.CREATED);
    await expectCidRegistration(stack, s);

    await stack.close();
    // The stack closed the transports it was given: the network no longer reaches them.
    await expect(coapsPublic.send(Buffer.from('x'), { address: '192.0.2.8', port: 40001 })).rejects.toThrow(
      /closed/,
    );
  });
});
