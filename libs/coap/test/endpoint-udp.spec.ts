// RFC 7252 / 7641 / 7959 behaviour of CoapEndpoint between two endpoints over real UDP on 127.0.0.1.
import { afterEach, describe, expect, it } from 'vitest';
import {
  CoapCode,
  CoapEndpoint,
  type CoapRequestHandler,
  type CoapResponse,
  OptionNumber,
  decodeBlock,
  encodeBlock,
  getOption,
  getUintOption,
  type IncomingRequest,
} from '@lwm2m/coap';
import { UdpTransport } from '@lwm2m/udp';

const open: CoapEndpoint[] = [];

async function endpoint(
  handler?: CoapRequestHandler,
  extra: Partial<ConstructorParameters<typeof CoapEndpoint>[0]> = {},
) {
  const transport = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  const ep = new CoapEndpoint({ transport, handler, ...extra });
  open.push(ep);
  return { ep, address: transport.address() };
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((e) => e.close()));
});

/** 3 KiB of distinct bytes, so a misplaced block shows. */
const BODY = Buffer.from(Array.from({ length: 3 * 1024 }, (_, i) => (i * 7 + (i >> 8)) & 0xff));

function waitFor<T>(items: T[], n: number, ms = 5000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (items.length >= n) return resolve();
      if (Date.now() - start > ms) return reject(new Error(`only ${items.length} of ${n} arrived`));
      setTimeout(tick, 5);
    };
    tick();
  });
}

describe('CoapEndpoint over UDP', () => {
  it('answers a confirmable GET with a piggybacked response', async () => {
    const { address } = await endpoint((req) => ({
      code: CoapCode.CONTENT,
      payload: `hello ${req.path.join('/')}?${req.query.join('&')}`,
      contentFormat: 0,
    }));
    const { ep: client } = await endpoint();
    const res = await client.request(address, { path: '/a/b', query: ['x=1'] });
    expect(res.code).toBe(CoapCode.CONTENT);
    expect(res.payload.toString()).toBe('hello a/b?x=1');
    expect(res.contentFormat).toBe(0);
    expect(res.message.type).toBe(2); // ACK: piggybacked (RFC 7252 section 5.2.1)
  });

  it('delivers a POST payload and answers a NON request with a NON response', async () => {
    const seen: IncomingRequest[] = [];
    const { address } = await endpoint((req) => {
      seen.push(req);
      return { code: CoapCode.CHANGED, payload: req.payload };
    });
    const { ep: client } = await endpoint();
    const res = await client.request(address, {
      code: CoapCode.POST,
      path: 'dp',
      payload: 'data',
      contentFormat: 110,
      confirmable: false,
    });
    expect(res.code).toBe(CoapCode.CHANGED);
    expect(res.payload.toString()).toBe('data');
    expect(res.message.type).toBe(1);
    expect(seen[0].confirmable).toBe(false);
    expect(seen[0].contentFormat).toBe(110);
  });

  it('sends an empty ACK then a separate CON response when the handler is slow, and the client matches it', async () => {
    const { ep: server, address } = await endpoint(
      async () => {
        await new Promise((r) => setTimeout(r, 120));
        return { code: CoapCode.CONTENT, payload: 'late' };
      },
      { separateResponseDelay: 20 },
    );
    const { ep: client } = await endpoint();
    const res = await client.request(address, { path: 'slow' });
    expect(res.payload.toString()).toBe('late');
    expect(res.message.type).toBe(0); // CON separate response (RFC 7252 section 5.2.2)
    await new Promise((r) => setTimeout(r, 20));
    expect(server.stats.retransmissions).toBe(0); // the client ACKed it
  });

  it('answers a handler that throws with 5.00 and counts it', async () => {
    const { ep: server, address } = await endpoint(() => {
      throw new Error('boom');
    });
    const { ep: client } = await endpoint();
    const res = await client.request(address, { path: 'x' });
    expect(res.code).toBe(CoapCode.INTERNAL_SERVER_ERROR);
    expect(server.stats.handlerErrors).toBe(1);
  });

  it('resolves a ping with the RST of the peer', async () => {
    const { address } = await endpoint();
    const { ep: client } = await endpoint();
    await expect(client.ping(address)).resolves.toBeGreaterThanOrEqual(0);
  });

  it('sends a 3 KiB response in Block2 blocks that the client reassembles, with Size2', async () => {
    const { address } = await endpoint(() => ({ code: CoapCode.CONTENT, payload: BODY }));
    const { ep: client } = await endpoint();
    const res = await client.request(address, { path: 'big' });
    expect(res.payload.equals(BODY)).toBe(true);
    expect(decodeBlock(getOption(res.message, OptionNumber.BLOCK2)!)).toEqual({ num: 0, more: true, szx: 6 });
    expect(getUintOption(res.message, OptionNumber.SIZE2)).toBe(BODY.length);
  });

  it('honours a smaller block size asked for by the client (early negotiation, RFC 7959 section 2.4)', async () => {
    let calls = 0;
    const { address } = await endpoint(() => {
      calls++;
      return { code: CoapCode.CONTENT, payload: BODY };
    });
    const { ep: client } = await endpoint();
    const res = await client.request(address, {
      path: 'big',
      options: [{ number: OptionNumber.BLOCK2, value: encodeBlock({ num: 0, more: false, szx: 4 }) }],
    });
    expect(res.payload.equals(BODY)).toBe(true);
    expect(decodeBlock(getOption(res.message, OptionNumber.BLOCK2)!).szx).toBe(4);
    expect(calls).toBe(1); // later blocks come from the cached representation
  });

  it('uploads a 3 KiB body with Block1 and the server hands the whole body to the handler once', async () => {
    const bodies: Buffer[] = [];
    const { address } = await endpoint((req) => {
      bodies.push(req.payload);
      return { code: CoapCode.CHANGED };
    });
    const { ep: client } = await endpoint();
    const res = await client.request(address, { code: CoapCode.PUT, path: 'fw', payload: BODY });
    expect(res.code).toBe(CoapCode.CHANGED);
    expect(bodies).toHaveLength(1);
    expect(bodies[0].equals(BODY)).toBe(true);
    expect(decodeBlock(getOption(res.message, OptionNumber.BLOCK1)!)).toEqual({
      num: 2,
      more: false,
      szx: 6,
    });
  });

  it('follows a server that asks for smaller Block1 blocks', async () => {
    const bodies: Buffer[] = [];
    const { address } = await endpoint(
      (req) => {
        bodies.push(req.payload);
        return { code: CoapCode.CHANGED };
      },
      { blockSize: 256 },
    );
    const { ep: client } = await endpoint();
    const res = await client.request(address, { code: CoapCode.POST, path: 'up', payload: BODY });
    expect(res.code).toBe(CoapCode.CHANGED);
    expect(bodies[0].equals(BODY)).toBe(true);
  });

  it('refuses a Block1 upload beyond the size limit with 4.13 and Size1', async () => {
    const { address } = await endpoint(() => ({ code: CoapCode.CHANGED }), {
      blockwise: { maxBodySize: 2048 },
    });
    const { ep: client } = await endpoint();
    const res = await client.request(address, { code: CoapCode.PUT, path: 'fw', payload: BODY });
    expect(res.code).toBe(CoapCode.REQUEST_ENTITY_TOO_LARGE);
    expect(getUintOption(res.message, OptionNumber.SIZE1)).toBe(2048);
  });

  it('answers a Block1 block out of sequence with 4.08', async () => {
    const { address } = await endpoint(() => ({ code: CoapCode.CHANGED }));
    const { ep: client } = await endpoint();
    const res = await client.request(address, {
      code: CoapCode.PUT,
      path: 'fw',
      payload: BODY.subarray(0, 1024),
      options: [{ number: OptionNumber.BLOCK1, value: encodeBlock({ num: 1, more: true, szx: 6 }) }],
    });
    expect(res.code).toBe(CoapCode.REQUEST_ENTITY_INCOMPLETE);
  });

  describe('Observe', () => {
    async function observed() {
      let value = 0;
      const server = await endpoint((req) =>
        req.path.join('/') === 'big'
          ? { code: CoapCode.CONTENT, payload: Buffer.concat([Buffer.from([value]), BODY]) }
          : { code: CoapCode.CONTENT, payload: `v${value}` },
      );
      const client = await endpoint();
      return { server, client, set: (v: number) => (value = v) };
    }

    it('registers, receives notifications in order and cancels proactively with Observe=1', async () => {
      const { server, client, set } = await observed();
      const got: CoapResponse[] = [];
      const handle = await client.ep.observe(server.address, { path: 'temp' }, (r) => got.push(r));
      expect(handle.established).toBe(true);
      expect(handle.response.payload.toString()).toBe('v0');
      expect(server.ep.listObservers('/temp')).toHaveLength(1);
      for (let i = 1; i <= 3; i++) {
        set(i);
        await server.ep.notify('temp', { confirmable: i === 2 });
      }
      await waitFor(got, 3);
      expect(got.map((r) => r.payload.toString())).toEqual(['v1', 'v2', 'v3']);
      await handle.cancel({ proactive: true });
      expect(server.ep.listObservers()).toHaveLength(0);
    });

    it('cancels reactively: the next notification gets RST and the server drops the observer', async () => {
      const { server, client } = await observed();
      const got: CoapResponse[] = [];
      const handle = await client.ep.observe(server.address, { path: 'temp' }, (r) => got.push(r));
      await handle.cancel();
      await server.ep.notify('/temp');
      const deadline = Date.now() + 2000;
      while (server.ep.listObservers().length > 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 5));
      expect(server.ep.listObservers()).toHaveLength(0);
      expect(got).toHaveLength(0);
      expect(client.ep.stats.resetsSent).toBe(1);
    });

    it('reassembles a 3 KiB notification from Block2 blocks (RFC 7959 section 2.3)', async () => {
      const { server, client, set } = await observed();
      const got: CoapResponse[] = [];
      const handle = await client.ep.observe(server.address, { path: 'big' }, (r) => got.push(r));
      expect(handle.response.payload.length).toBe(BODY.length + 1);
      set(9);
      await server.ep.notify('big');
      await waitFor(got, 1);
      expect(got[0].payload[0]).toBe(9);
      expect(got[0].payload.subarray(1).equals(BODY)).toBe(true);
    });

    it('does not register an observer when the response is an error', async () => {
      const server = await endpoint(() => ({ code: CoapCode.NOT_FOUND }));
      const { ep: client } = await endpoint();
      const handle = await client.observe(server.address, { path: 'nope' }, () => undefined);
      expect(handle.established).toBe(false);
      expect(server.ep.listObservers()).toHaveLength(0);
    });
  });
});
