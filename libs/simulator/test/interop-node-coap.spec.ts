// Interop: the `coap` npm package (node-coap), a CoAP client nobody here wrote, GETs /3/0/0 from the
// simulator over UDP (RFC 7252 section 5.8.1) and reads it as text/plain (LwM2M TS 1.1 Core 7.4.1).
import coap from 'coap';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { TestLwm2mServer } from './test-server';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function get(port: number, pathname: string, accept?: number): Promise<coap.IncomingMessage> {
  const agent = new coap.Agent({ type: 'udp4' });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        try {
          agent.close(() => resolve());
        } catch {
          resolve();
        }
        setTimeout(resolve, 200);
      }),
  );
  return new Promise((resolve, reject) => {
    const req = coap.request({ hostname: '127.0.0.1', port, pathname, agent });
    if (accept !== undefined) req.setOption('Accept', accept);
    req.on('response', resolve);
    req.on('error', reject);
    req.end();
  });
}

describe('node-coap client against a SimulatedDevice', () => {
  it('GETs /3/0/0 as text/plain and gets the manufacturer', async () => {
    const server = await TestLwm2mServer.start();
    cleanups.push(() => server.close());
    const transport = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
    const device = new SimulatedDevice({
      endpoint: 'interop-1',
      transport,
      server: server.address,
      sensorIntervalMs: 0,
    });
    cleanups.push(() => device.close());
    await device.start();
    const res = await get(transport.address().port, '/3/0/0', 0);
    expect(res.code).toBe('2.05');
    expect(res.payload.toString()).toBe('Open Mobile Alliance');
    const missing = await get(transport.address().port, '/3/0/99');
    expect(missing.code).toBe('4.04');
  });
});
