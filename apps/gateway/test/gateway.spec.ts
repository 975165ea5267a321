import type { INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import coap from 'coap';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInMemoryStores } from '@lwm2m/server';
import { CoapServerService } from '../src/coap-server.service';
import { validateGatewayConfig } from '../src/config';
import { GatewayModule } from '../src/gateway.module';

interface CoapReply {
  code: string;
  payload: Buffer;
  headers: Record<string, unknown>;
  options: Array<{ name: string; value: Buffer }>;
}

function request(port: number, opts: Record<string, unknown>): Promise<CoapReply> {
  return new Promise((resolve, reject) => {
    const req = coap.request({ hostname: '127.0.0.1', port, agent: false, ...opts });
    req.on('response', (r: CoapReply) => resolve(r));
    req.on('error', reject);
    req.end((opts.payload as string | undefined) ?? undefined);
  });
}

describe('the gateway application', () => {
  let app: INestApplicationContext;
  let port: number;
  const stores = createInMemoryStores();

  beforeAll(async () => {
    const config = validateGatewayConfig({ COAP_PORT: '0', COAPS_PORT: '0', COAP_HOST: '127.0.0.1' });
    app = await Test.createTestingModule({
      imports: [GatewayModule.forRoot({ ports: stores, config })],
    }).compile();
    await app.init();
    port = app.get(CoapServerService).address().port;
  });

  afterAll(async () => {
    await app.close();
  });

  it('answers CoRE resource discovery from a CoAP client written by others (node-coap)', async () => {
    const res = await request(port, { pathname: '/.well-known/core' });
    expect(res.code).toBe('2.05');
    expect(res.headers['Content-Format']).toBe('application/link-format');
    expect(res.payload.toString()).toBe('</rd>;rt="core.rd"');
  });

  it('takes a registration from node-coap and keeps it in the shared store', async () => {
    const res = await request(port, {
      method: 'POST',
      pathname: '/rd',
      query: 'ep=node-coap-1&lt=120&lwm2m=1.1&b=U',
      payload: '</1/0>,</3/0>',
    });
    expect(res.code).toBe('2.01');
    const reg = await stores.registrations.getByEndpoint('node-coap-1');
    expect(reg).toMatchObject({ endpoint: 'node-coap-1', lifetime: 120, lwm2mVersion: '1.1' });
    const location = res.options.filter((o) => o.name === 'Location-Path').map((o) => o.value.toString());
    expect(location).toEqual(['rd', reg!.registrationId]);
  });

  it('answers 4.04 for a resource it does not have', async () => {
    expect((await request(port, { pathname: '/nothing' })).code).toBe('4.04');
  });

  it('refuses to boot on invalid settings with a clear message', () => {
    expect(() => validateGatewayConfig({ COAP_PORT: '70000' })).toThrow(
      /COAP_PORT must be an integer 0..65535/,
    );
    expect(() => validateGatewayConfig({ REDIS_URL: 'localhost' })).toThrow(/REDIS_URL must look like/);
    expect(validateGatewayConfig({})).toMatchObject({
      COAP_PORT: 5683,
      COAPS_PORT: 5684,
      COAP_HOST: '0.0.0.0',
    });
  });
});
