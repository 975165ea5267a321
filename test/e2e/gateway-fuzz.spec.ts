// Issue 3 acceptance: random and mutated datagrams hit the LwM2M port for 30 s while a device keeps
// working through the REST API; the server answers bad input with CoAP errors (or drops it), counts it,
// and never stops serving.
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoapCode, CoapType, encodeMessage, OptionNumber, encodeUint } from '@lwm2m/coap';
import { SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { mutate, prng } from '../support/fuzz';
import { startTestServer, type TestServer } from '../support/single-node';
import { CoapServerService } from '../../apps/gateway/src/coap-server.service';

const FUZZ_MS = 30_000;
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.stop();
});

function seeds(): Buffer[] {
  const opt = (number: number, value: string | number) => ({
    number,
    value: typeof value === 'number' ? encodeUint(value) : Buffer.from(value),
  });
  const base = { type: CoapType.CON, messageId: 1, token: Buffer.from('0102', 'hex') };
  return [
    encodeMessage({
      ...base,
      code: CoapCode.POST,
      options: [
        opt(OptionNumber.URI_PATH, 'rd'),
        opt(OptionNumber.CONTENT_FORMAT, 40),
        opt(OptionNumber.URI_QUERY, 'ep=fuzz'),
        opt(OptionNumber.URI_QUERY, 'lt=60'),
      ],
      payload: Buffer.from('</1/0>,</3/0>'),
    }),
    encodeMessage({
      ...base,
      code: CoapCode.POST,
      options: [opt(OptionNumber.URI_PATH, 'rd'), opt(OptionNumber.URI_PATH, 'abc')],
      payload: Buffer.alloc(0),
    }),
    encodeMessage({
      ...base,
      code: CoapCode.DELETE,
      options: [opt(OptionNumber.URI_PATH, 'rd'), opt(OptionNumber.URI_PATH, 'x')],
      payload: Buffer.alloc(0),
    }),
    encodeMessage({
      ...base,
      code: CoapCode.POST,
      options: [opt(OptionNumber.URI_PATH, 'dp'), opt(OptionNumber.CONTENT_FORMAT, 110)],
      payload: Buffer.from('[{"n":"/3/0/0","vs":"x"}]'),
    }),
    encodeMessage({
      ...base,
      type: CoapType.ACK,
      code: CoapCode.CONTENT,
      options: [],
      payload: Buffer.from('x'),
    }),
  ];
}

describe('the gateway under 30 s of fuzzed datagrams', () => {
  it('keeps serving a real device while it is fuzzed', { timeout: FUZZ_MS + 30_000 }, async () => {
    const transport = await UdpTransport.bind({ port: 0 });
    const dev = new SimulatedDevice({
      endpoint: 'fuzz-survivor',
      transport,
      server: { address: '127.0.0.1', port: server.coapPort },
      lwm2mVersion: '1.1',
      lifetime: 300,
      updateAt: 0,
      sensorIntervalMs: 0,
    });
    await dev.register();
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const rand = prng(0xf022);
    const pool = seeds();
    let sent = 0;
    let reads = 0;
    const end = Date.now() + FUZZ_MS;
    const fuzzing = (async () => {
      while (Date.now() < end) {
        for (let i = 0; i < 50; i++) {
          const input =
            rand() < 0.3
              ? Buffer.from(Array.from({ length: (rand() * 200) | 0 }, () => (rand() * 256) | 0))
              : mutate(rand, pool[(rand() * pool.length) | 0], pool);
          sock.send(input, server.coapPort, '127.0.0.1');
          sent++;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const operating = (async () => {
      while (Date.now() < end) {
        const res = await server.api<{ values: Array<{ path: string; value: unknown }> }>(
          'GET',
          '/api/v1/devices/fuzz-survivor/data/3/0/0',
        );
        expect(res.status).toBe(200);
        expect(res.body.values[0].value).toBe('Open Mobile Alliance');
        reads++;
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    await Promise.all([fuzzing, operating]);
    sock.close();
    const stats = server.node.gateway.get(CoapServerService).endpoint!.stats;
    expect(sent).toBeGreaterThan(10_000);
    // Every read above succeeded; how many fit in 30 s depends on the machine's load, so only ask for some.
    expect(reads).toBeGreaterThan(10);
    expect(stats.malformed).toBeGreaterThan(0);
    expect(stats.internalErrors).toBe(0);
    // still registered and still answering after the storm
    expect((await server.api('GET', '/api/v1/devices/fuzz-survivor')).status).toBe(200);
    await dev.close();
  });
});
