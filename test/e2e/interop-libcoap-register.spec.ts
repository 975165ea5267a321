// Issue 3 acceptance: libcoap's coap-client (an independent CoAP client) registers an endpoint by POST
// to /rd, and the registration appears in the REST API; its bad registrations get 4.00 with a reason.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCoapClient } from '../support/libcoap';
import { startTestServer, type TestServer } from '../support/single-node';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.stop();
});

describe('interop: libcoap coap-client-notls registering with the LwM2M server', () => {
  it('registers by POST /rd and shows up in GET /api/v1/devices', async () => {
    const uri = `coap://127.0.0.1:${server.coapPort}/rd?ep=libcoap-ep&lt=300&lwm2m=1.1&b=U`;
    const run = await runCoapClient([
      '-m',
      'post',
      '-t',
      '40',
      '-e',
      '</1/0>,</3/0>,</3303/0>',
      '-B',
      '5',
      uri,
    ]);
    expect(run.code).toBe(0);
    const res = await server.api<{
      items: Array<{ endpoint: string; lifetime: number; objectLinks: Array<{ path: string }> }>;
    }>('GET', '/api/v1/devices?q=libcoap-ep');
    expect(res.body.items).toHaveLength(1);
    expect(res.body.items[0]).toMatchObject({ endpoint: 'libcoap-ep', lifetime: 300 });
    expect(res.body.items[0].objectLinks.map((l) => l.path)).toEqual(['/1/0', '/3/0', '/3303/0']);
  });

  it('gets 4.00 with a diagnostic for a Register without an endpoint name', async () => {
    const run = await runCoapClient([
      '-m',
      'post',
      '-v',
      '4',
      '-B',
      '5',
      `coap://127.0.0.1:${server.coapPort}/rd?lt=300`,
    ]);
    expect(run.stdout + run.stderr).toMatch(/4\.00/);
    expect(run.stdout + run.stderr).toMatch(/missing endpoint client name \(ep\)/);
  });
});
