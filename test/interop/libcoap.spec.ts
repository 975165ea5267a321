// libs/coap as a server for libcoap's coap-client (C, written by others): GET, POST, Block2 and Observe.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoapCode, CoapEndpoint, type IncomingRequest, type OutgoingResponse } from '@lwm2m/coap';
import { UdpTransport } from '@lwm2m/udp';
import { runCoapClient } from '../support/libcoap';

const BIG = Buffer.from(Array.from({ length: 3 * 1024 }, (_, i) => 0x41 + (i % 26)));

describe('interop: libcoap coap-client against a CoapEndpoint server', () => {
  let server: CoapEndpoint;
  let uri: string;
  let counter = 0;
  const posted: string[] = [];

  beforeAll(async () => {
    const transport = await UdpTransport.bind({ port: 0 });
    server = new CoapEndpoint({
      transport,
      handler: (req: IncomingRequest): OutgoingResponse => {
        const path = req.path.join('/');
        if (path === 'hello' && req.code === CoapCode.GET)
          return { code: CoapCode.CONTENT, payload: 'world', contentFormat: 0 };
        if (path === 'big') return { code: CoapCode.CONTENT, payload: BIG, contentFormat: 42 };
        if (path === 'echo' && req.code === CoapCode.POST) {
          posted.push(req.payload.toString());
          return { code: CoapCode.CHANGED, payload: `got ${req.payload.length}` };
        }
        if (path === 'counter') return { code: CoapCode.CONTENT, payload: `${counter}\n`, contentFormat: 0 };
        return { code: CoapCode.NOT_FOUND };
      },
    });
    uri = `coap://127.0.0.1:${transport.address().port}`;
  });

  afterAll(async () => {
    await server.close();
  });

  it('GETs a resource', async () => {
    const run = await runCoapClient(['-B', '5', `${uri}/hello`]);
    expect(run.stdout.trim()).toBe('world');
  });

  it('POSTs a payload', async () => {
    const run = await runCoapClient(['-m', 'post', '-e', 'from libcoap', '-B', '5', `${uri}/echo`]);
    expect(posted).toContain('from libcoap');
    expect(run.stdout.trim()).toBe('got 12');
  });

  it('fetches a 3 KiB resource in 64-byte Block2 blocks and reassembles it exactly', async () => {
    const run = await runCoapClient(['-b', '64', '-B', '10', `${uri}/big`]);
    expect(run.stdout.trim()).toBe(BIG.toString());
  });

  it('observes a resource and receives the notifications the server sends', async () => {
    const client = runCoapClient(['-s', '4', '-B', '6', `${uri}/counter`]);
    // wait until libcoap registered, then change the value three times
    for (let i = 0; i < 100 && server.listObservers('counter').length === 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(server.listObservers('counter')).toHaveLength(1);
    for (let i = 1; i <= 3; i++) {
      counter = i;
      await server.notify('counter');
      await new Promise((r) => setTimeout(r, 100));
    }
    const run = await client;
    const seen = run.stdout.split(/\s+/).filter(Boolean);
    expect(seen).toEqual(['0', '1', '2', '3']);
  });

  it('gets 4.04 for an unknown resource', async () => {
    const run = await runCoapClient(['-B', '5', '-v', '4', `${uri}/nothing`]);
    expect(run.stdout + run.stderr).toMatch(/4\.04/);
  });
});
