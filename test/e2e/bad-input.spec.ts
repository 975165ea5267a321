// Issue 3 acceptance, "bad input": malformed registrations, huge link lists, unknown paths and invalid REST
// bodies each get a clear error (a CoAP code with a diagnostic payload, or RFC 9457 problem+json), and the
// server keeps serving the device that behaves.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoapCode, CoapEndpoint, formatCode } from '@lwm2m/coap';
import { ContentFormat } from '@lwm2m/lwm2m';
import { SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { startTestServer, type TestServer } from '../support/single-node';

let server: TestServer;
let client: CoapEndpoint;
let device: SimulatedDevice;

beforeAll(async () => {
  server = await startTestServer();
  client = new CoapEndpoint({ transport: await UdpTransport.bind({ port: 0, address: '127.0.0.1' }) });
  device = new SimulatedDevice({
    endpoint: 'well-behaved',
    transport: await UdpTransport.bind({ port: 0, address: '127.0.0.1' }),
    server: { address: '127.0.0.1', port: server.coapPort },
    lifetime: 300,
    updateAt: 0,
  });
  await device.register();
});

afterAll(async () => {
  await device?.close();
  await client?.close();
  await server?.stop();
});

async function register(query: string[], links: string): Promise<{ code: string; reason: string }> {
  const res = await client.request(
    { address: '127.0.0.1', port: server.coapPort },
    {
      code: CoapCode.POST,
      path: '/rd',
      query,
      payload: links,
      contentFormat: ContentFormat.LINK,
    },
  );
  return { code: formatCode(res.code), reason: res.payload.toString() };
}

async function stillServing(): Promise<void> {
  const res = await server.api<{ values: Array<{ value: unknown }> }>(
    'GET',
    '/api/v1/devices/well-behaved/data/3/0/0',
  );
  expect(res.status).toBe(200);
  expect(res.body.values[0].value).toBe('Open Mobile Alliance');
}

describe('malformed registrations get 4.00 with the reason', () => {
  it.each([
    ['no endpoint name', ['lt=60'], '</3/0>', /missing endpoint client name \(ep\)/],
    ['a lifetime that is not a number', ['ep=bad-lt', 'lt=soon'], '</3/0>', /lt/],
    ['a zero lifetime', ['ep=bad-lt0', 'lt=0'], '</3/0>', /lt must be within/],
    ['an unknown LwM2M version', ['ep=bad-v', 'lwm2m=9.9'], '</3/0>', /LwM2M version 9\.9 is not supported/],
    ['a malformed version', ['ep=bad-v2', 'lwm2m=one'], '</3/0>', /major\.minor/],
    ['a malformed link list', ['ep=bad-links', 'lt=60'], '</3/0,<<garbage', /link/i],
    ['a link to a non-LwM2M path', ['ep=bad-path', 'lt=60'], '</3/x/9>', /link|path/i],
  ])('%s', async (_what, query, links, reason) => {
    const res = await register(query, links);
    expect(res.code).toBe('4.00');
    expect(res.reason).toMatch(reason);
  });

  it('a huge link list (5,000 links, sent block-wise) is refused, and nothing is registered', async () => {
    const links = Array.from({ length: 5000 }, (_, i) => `</${1000 + i}/0>`).join(',');
    expect(links.length).toBeGreaterThan(40_000);
    const res = await register(['ep=huge-links', 'lt=60'], links);
    expect(res.code).toBe('4.00');
    expect(res.reason).toMatch(/links/);
    expect((await server.api('GET', '/api/v1/devices/huge-links')).status).toBe(404);
  });

  it('an Update of an unknown registration is 4.04, an unknown resource 4.04', async () => {
    const peer = { address: '127.0.0.1', port: server.coapPort };
    const upd = await client.request(peer, { code: CoapCode.POST, path: '/rd/no-such-id' });
    expect(formatCode(upd.code)).toBe('4.04');
    const unknown = await client.request(peer, { code: CoapCode.GET, path: '/nothing/here' });
    expect(formatCode(unknown.code)).toBe('4.04');
    await stillServing();
  });
});

describe('invalid REST input gets RFC 9457 problem+json', () => {
  async function raw(method: string, path: string, body?: string, type = 'application/json') {
    const res = await fetch(`${server.http}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': type },
      body,
    });
    const problem = (await res.json()) as { type?: unknown };
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: problem };
  }

  it.each([
    ['an unknown path segment', 'GET', '/api/v1/devices/well-behaved/data/3/abc', undefined, 400],
    [
      'a path beyond resource instances',
      'GET',
      '/api/v1/devices/well-behaved/data/3/0/0/0/0',
      undefined,
      400,
    ],
    ['a Write without value', 'PUT', '/api/v1/devices/well-behaved/data/3/0/15', '{}', 400],
    ['a Write that is not JSON', 'PUT', '/api/v1/devices/well-behaved/data/3/0/15', '{"value":', 400],
    ['an Observe without paths', 'POST', '/api/v1/devices/well-behaved/observations', '{"paths":[]}', 400],
    ['a bad timeout', 'GET', '/api/v1/devices/well-behaved/data/3/0?timeout=-5', undefined, 400],
    ['an unknown format', 'GET', '/api/v1/devices/well-behaved/data/3/0?format=xml', undefined, 400],
    ['a bad list limit', 'GET', '/api/v1/devices?limit=100000', undefined, 400],
    ['an unknown device', 'GET', '/api/v1/devices/nobody/data/3/0', undefined, 404],
  ])('%s', async (_what, method, path, body, status) => {
    const res = await raw(method, path, body);
    expect(res.status).toBe(status);
    expect(res.type).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status, title: expect.any(String) });
    expect(typeof res.body.type).toBe('string');
  });

  it('keeps serving the device after all of it', async () => {
    await stillServing();
    expect((await server.api('GET', '/healthz')).status).toBe(200);
    expect((await server.api('GET', '/readyz')).status).toBe(200);
  });
});
