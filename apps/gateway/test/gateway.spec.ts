import { Test } from '@nestjs/testing';
import coap from 'coap';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoapServerService } from '../src/coap-server.service';
import { GatewayModule } from '../src/gateway.module';
import { validateGatewayConfig } from '../src/config';
import type { INestApplicationContext } from '@nestjs/common';

describe('the gateway application', () => {
  let app: INestApplicationContext;
  let port: number;

  beforeAll(async () => {
    process.env.COAP_PORT = '0';
    process.env.COAP_HOST = '127.0.0.1';
    const moduleRef = await Test.createTestingModule({ imports: [GatewayModule] }).compile();
    app = moduleRef;
    await app.init();
    port = app.get(CoapServerService).address().port;
  });

  afterAll(async () => {
    await app.close();
  });

  it('answers CoRE resource discovery from a CoAP client written by others (node-coap)', async () => {
    const res = await new Promise<{ code: string; payload: Buffer; format: unknown }>((resolve, reject) => {
      const req = coap.request({ hostname: '127.0.0.1', port, pathname: '/.well-known/core', agent: false });
      req.on('response', (r: { code: string; payload: Buffer; headers: Record<string, unknown> }) =>
        resolve({ code: r.code, payload: r.payload, format: r.headers['Content-Format'] }),
      );
      req.on('error', reject);
      req.end();
    });
    expect(res.code).toBe('2.05');
    expect(res.format).toBe('application/link-format');
    expect(res.payload.toString()).toBe('</rd>;rt="core.rd"');
  });

  it('answers 4.04 for a resource it does not have', async () => {
    const code = await new Promise<string>((resolve, reject) => {
      const req = coap.request({ hostname: '127.0.0.1', port, pathname: '/nothing', agent: false });
      req.on('response', (r: { code: string }) => resolve(r.code));
      req.on('error', reject);
      req.end();
    });
    expect(code).toBe('4.04');
  });

  it('refuses to boot on an invalid port with a clear message', () => {
    expect(() => validateGatewayConfig({ COAP_PORT: '70000' })).toThrow(/COAP_PORT must be 0..65535/);
    expect(validateGatewayConfig({})).toMatchObject({ COAP_PORT: 5683, COAP_HOST: '0.0.0.0' });
  });
});
