// Interop of CoapEndpoint with the `coap` npm package (node-coap), a CoAP stack nobody here wrote,
// in both roles over real UDP on 127.0.0.1: RFC 7252 GET/POST, RFC 7641 Observe, RFC 7959 Block2.
import type { Socket } from 'node:dgram';
import coap from 'coap';
import { afterEach, describe, expect, it } from 'vitest';
import { CoapCode, CoapEndpoint, type CoapResponse, type Peer } from '@lwm2m/coap';
import { UdpTransport } from '@lwm2m/udp';

/** 3 KiB with distinct bytes so a misplaced block shows. */
const BODY = Buffer.from(Array.from({ length: 3 * 1024 }, (_, i) => (i * 13 + (i >> 8)) & 0xff));

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function ourEndpoint(handler?: ConstructorParameters<typeof CoapEndpoint>[0]['handler']) {
  const transport = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  const ep = new CoapEndpoint({ transport, handler });
  cleanups.push(() => ep.close());
  return { ep, address: transport.address() };
}

function nodeCoapAgent(): coap.Agent {
  const agent = new coap.Agent({ type: 'udp4' });
  // node-coap closes an idle agent's socket by itself and then never calls close()'s callback.
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        if ((agent as unknown as { _sock: unknown })._sock == null) return resolve();
        try {
          agent.close(() => resolve());
        } catch {
          resolve();
        }
        setTimeout(resolve, 200);
      }),
  );
  return agent;
}

function until(pred: () => boolean, ms = 5000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (pred()) return resolve();
      if (Date.now() - start > ms) return reject(new Error('timed out waiting'));
      setTimeout(tick, 5);
    };
    tick();
  });
}

/** One node-coap request; resolves with its (first) response. */
function nodeCoapRequest(
  params: coap.CoapRequestParams,
  payload?: Buffer | string,
): Promise<coap.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = coap.request(params);
    req.on('response', resolve);
    req.on('error', reject);
    req.end(payload);
  });
}

describe('node-coap client against a CoapEndpoint server', () => {
  it('GETs a resource', async () => {
    const { address } = await ourEndpoint((req) => ({
      code: CoapCode.CONTENT,
      payload: `got /${req.path.join('/')}`,
      contentFormat: 0,
    }));
    const res = await nodeCoapRequest({
      hostname: '127.0.0.1',
      port: address.port,
      pathname: '/a/b',
      agent: nodeCoapAgent(),
    });
    expect(res.code).toBe('2.05');
    expect(res.payload.toString()).toBe('got /a/b');
  });

  it('POSTs a payload', async () => {
    const seen: Buffer[] = [];
    const { address } = await ourEndpoint((req) => {
      seen.push(req.payload);
      return { code: CoapCode.CHANGED, payload: 'ok' };
    });
    const res = await nodeCoapRequest(
      { hostname: '127.0.0.1', port: address.port, pathname: '/dp', method: 'POST', agent: nodeCoapAgent() },
      'hello',
    );
    expect(res.code).toBe('2.04');
    expect(seen.map((b) => b.toString())).toEqual(['hello']);
  });

  it('observes a resource and gets 3 notifications after the first response', async () => {
    let value = 0;
    const { ep, address } = await ourEndpoint(() => ({ code: CoapCode.CONTENT, payload: `v${value}` }));
    const got: string[] = [];
    const res = await nodeCoapRequest({
      hostname: '127.0.0.1',
      port: address.port,
      pathname: '/temp',
      observe: true,
      agent: nodeCoapAgent(),
    });
    res.on('data', (chunk: Buffer) => got.push(chunk.toString()));
    await until(() => ep.listObservers('/temp').length === 1);
    for (let i = 1; i <= 3; i++) {
      value = i;
      await ep.notify('/temp', { confirmable: i === 3 });
      await until(() => got.includes(`v${i}`));
    }
    expect(got.filter((g) => g !== 'v0')).toEqual(['v1', 'v2', 'v3']);
    (res as unknown as { close(eager?: boolean): void }).close();
  });

  it('GETs a 3 KiB resource through Block2', async () => {
    const { address } = await ourEndpoint(() => ({ code: CoapCode.CONTENT, payload: BODY }));
    const res = await nodeCoapRequest({
      hostname: '127.0.0.1',
      port: address.port,
      pathname: '/big',
      agent: nodeCoapAgent(),
    });
    expect(res.code).toBe('2.05');
    expect(Buffer.from(res.payload).equals(BODY)).toBe(true);
  });
});

describe('CoapEndpoint client against a node-coap server', () => {
  async function nodeCoapServer(
    listener: (req: coap.IncomingMessage, res: coap.OutgoingMessage) => void,
  ): Promise<Peer> {
    const server = coap.createServer({ type: 'udp4' }, listener);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server._sock as Socket).address().port;
    return { address: '127.0.0.1', port };
  }

  it('GETs a resource', async () => {
    const peer = await nodeCoapServer((req, res) => res.end(`hello ${req.url}`));
    const { ep } = await ourEndpoint();
    const res = await ep.request(peer, { path: '/x/y' });
    expect(res.code).toBe(CoapCode.CONTENT);
    expect(res.payload.toString()).toBe('hello /x/y');
  });

  it('POSTs a payload', async () => {
    const peer = await nodeCoapServer((req, res) => {
      res.code = '2.01';
      res.end(`echo ${req.payload.toString()}`);
    });
    const { ep } = await ourEndpoint();
    const res = await ep.request(peer, { code: CoapCode.POST, path: '/rd', payload: 'body' });
    expect(res.code).toBe(CoapCode.CREATED);
    expect(res.payload.toString()).toBe('echo body');
  });

  it('observes a resource and gets 3 notifications', async () => {
    const peer = await nodeCoapServer((req, res) => {
      if (req.headers.Observe !== 0) return res.end('plain');
      res.write('n0');
      let n = 0;
      const timer = setInterval(() => {
        n++;
        res.write(`n${n}`);
        if (n === 3) {
          clearInterval(timer);
        }
      }, 20);
      res.on('finish', () => clearInterval(timer));
    });
    const { ep } = await ourEndpoint();
    const got: CoapResponse[] = [];
    const handle = await ep.observe(peer, { path: '/obs' }, (r) => got.push(r));
    expect(handle.established).toBe(true);
    expect(handle.response.payload.toString()).toBe('n0');
    await until(() => got.length >= 3);
    expect(got.map((r) => r.payload.toString())).toEqual(['n1', 'n2', 'n3']);
    await handle.cancel();
  });

  it('GETs a 3 KiB resource through Block2', async () => {
    const peer = await nodeCoapServer((_req, res) => res.end(BODY));
    const { ep } = await ourEndpoint();
    const res = await ep.request(peer, { path: '/big' });
    expect(res.code).toBe(CoapCode.CONTENT);
    expect(res.payload.equals(BODY)).toBe(true);
  });
});
