// STYLE.md "Bad network input": whatever arrives, CoapEndpoint never throws out of its datagram handler,
// and answers only with well-formed messages (RFC 7252 sections 4.2/4.3: RST for what it rejects).
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CoapCode,
  CoapEndpoint,
  CoapType,
  createMessage,
  decodeMessage,
  encodeMessage,
  MemoryNetwork,
  OptionNumber,
  setOption,
  setUriPath,
} from '@lwm2m/coap';

const open: CoapEndpoint[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((e) => e.close()));
});

/** Valid messages of every type, to be mutated. */
function seeds(): Buffer[] {
  const get = createMessage({
    type: CoapType.CON,
    code: CoapCode.GET,
    messageId: 1,
    token: Buffer.from('tok'),
  });
  setUriPath(get, '/rd/x');
  setOption(get, OptionNumber.OBSERVE, 0);
  const put = createMessage({
    type: CoapType.CON,
    code: CoapCode.PUT,
    messageId: 2,
    payload: Buffer.alloc(64, 1),
  });
  setOption(put, OptionNumber.BLOCK1, Buffer.from([0x0a]));
  const res = createMessage({
    type: CoapType.NON,
    code: CoapCode.CONTENT,
    messageId: 3,
    token: Buffer.from('t'),
  });
  return [
    encodeMessage(get),
    encodeMessage(put),
    encodeMessage(res),
    encodeMessage(createMessage({ type: CoapType.RST, code: 0, messageId: 4 })),
    encodeMessage(createMessage({ type: CoapType.ACK, code: 0, messageId: 5 })),
  ];
}

describe('CoapEndpoint under arbitrary datagrams', () => {
  it('never throws, counts no internal error and only sends decodable messages', async () => {
    const net = new MemoryNetwork();
    const server = new CoapEndpoint({
      transport: net.transport('10.0.0.1', 5683),
      handler: (req) => ({ code: CoapCode.CONTENT, payload: req.payload }),
      separateResponseDelay: 10_000,
    });
    open.push(server);
    const raw = net.transport('10.0.0.2', 1000);
    const replies: Buffer[] = [];
    raw.onDatagram((d) => replies.push(d));
    const base = seeds();
    const datagram = fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
      fc
        .tuple(
          fc.constantFrom(...base),
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        )
        .map(([b, muts]) => {
          const c = Buffer.from(b);
          for (const [i, v] of muts) c[i % c.length] = v;
          return c;
        }),
    );
    await fc.assert(
      fc.asyncProperty(datagram, async (d) => {
        await raw.send(d, { address: '10.0.0.1', port: 5683 });
        await new Promise((r) => setImmediate(r));
      }),
      { numRuns: 2000, seed: 7 },
    );
    expect(server.stats.internalErrors).toBe(0);
    expect(server.stats.datagramsIn).toBe(2000);
    for (const r of replies) expect(() => decodeMessage(r)).not.toThrow();
  });
});
