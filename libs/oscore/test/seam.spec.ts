// The OSCORE seam (seam.ts) on network input: mutated protected requests and responses go through
// `inbound` and always end as a counted result (a verified message or a refusal), never a throw; every
// answer the seam sends is an encodable CoAP message. Then the seam between two real CoapEndpoints on an
// in-memory network: a GET protected both ways, an unprotected request refused 4.01 by an OSCORE-only peer,
// and a context looked up asynchronously (a store read) holding the request meanwhile.
import { afterEach, describe, expect, it } from 'vitest';
import {
  CoapCode,
  CoapEndpoint,
  type CoapMessage,
  CoapType,
  createMessage,
  decodeMessage,
  encodeMessage,
  OptionNumber as O,
  setUriPath,
} from '@lwm2m/coap';
import { MemoryNetwork } from '@lwm2m/transport';
import { OscoreSeam, protectRequest, protectResponse, SecurityContext, verifyRequest } from '@lwm2m/oscore';
import { mutate, prng } from '../../../test/support/fuzz';

const SECRET = Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex');
const server = () =>
  new SecurityContext({
    masterSecret: SECRET,
    senderId: Buffer.from('01', 'hex'),
    recipientId: Buffer.from('a1', 'hex'),
  });
const device = () =>
  new SecurityContext({
    masterSecret: SECRET,
    senderId: Buffer.from('a1', 'hex'),
    recipientId: Buffer.from('01', 'hex'),
  });
const FROM = { key: '10.0.0.2:5683', peer: { address: '10.0.0.2', port: 5683 } };

function request(mid: number): CoapMessage {
  const m = createMessage({ type: CoapType.CON, code: CoapCode.POST });
  m.messageId = mid;
  m.token = Buffer.from([1, 2, 3, mid & 0xff]);
  setUriPath(m, ['rd']);
  m.payload = Buffer.from('</3/0>');
  return m;
}

function sum(r: Partial<Record<string, number>>): number {
  return Object.values(r).reduce((a: number, b) => a + (b ?? 0), 0);
}

describe('OscoreSeam under mutated input', () => {
  it('counts every mutated request and response, never throws, answers only encodable messages', () => {
    const srv = server();
    const seam = new OscoreSeam({
      lookup: (kid) => (kid.equals(srv.recipientId) ? { context: srv, owner: 'dev' } : undefined),
      contextFor: () => srv,
      acceptUnprotected: false,
    });
    const dev = device();
    const seeds: Buffer[] = [];
    for (let i = 0; i < 8; i++) {
      const p = protectRequest(dev, request(i));
      if (!p.ok) throw new Error(p.reason);
      seeds.push(encodeMessage(p.message));
    }
    // Our own requests, so that mutated responses meet real bindings.
    const ours: CoapMessage[] = [];
    for (let i = 0; i < 8; i++) ours.push(seam.outbound(request(100 + i), FROM));
    const devSide = device();
    for (const req of ours) {
      const v = verifyRequest(req, () => devSide);
      if (!v.ok) continue;
      const r = protectResponse(v.binding, {
        type: CoapType.ACK,
        messageId: req.messageId,
        token: req.token,
        code: CoapCode.CONTENT,
        options: [],
        payload: Buffer.from('x'),
      });
      if (r.ok) seeds.push(encodeMessage(r.message));
    }
    const rand = prng(0x05c0);
    let delivered = 0;
    let replies = 0;
    for (let i = 0; i < 20_000; i++) {
      const bytes = mutate(rand, seeds[(rand() * seeds.length) | 0]!, seeds);
      let msg: CoapMessage;
      try {
        msg = decodeMessage(bytes);
      } catch {
        continue;
      }
      if (msg.code === CoapCode.EMPTY) continue;
      const before = sum(seam.counters.requests) + sum(seam.counters.responses);
      const out = seam.inbound(msg, { ...FROM }, (res) => {
        replies++;
        expect(() => decodeMessage(encodeMessage({ ...res, token: msg.token }))).not.toThrow();
      });
      expect(out instanceof Promise).toBe(false);
      const hasOscore = msg.options.some((o) => o.number === O.OSCORE);
      const after = sum(seam.counters.requests) + sum(seam.counters.responses);
      delivered++;
      // Every request is counted; a response is counted unless it is a plain one nobody awaits.
      if (msg.code < 32 || hasOscore) expect(after).toBe(before + 1);
    }
    expect(delivered).toBeGreaterThan(5000);
    expect(replies).toBeGreaterThan(100);
    expect(seam.counters.requests.decrypt ?? 0).toBeGreaterThan(0);
  });
});

describe('OscoreSeam between two endpoints', () => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close();
  });

  it('protects a GET both ways, looks the context up asynchronously, refuses an unprotected request', async () => {
    const net = new MemoryNetwork();
    const srvCtx = server();
    let lookups = 0;
    const serverSeam = new OscoreSeam({
      lookup: async (kid) => {
        lookups++;
        await new Promise((r) => setTimeout(r, 5));
        return kid.equals(srvCtx.recipientId) ? { context: srvCtx, owner: 'dev' } : undefined;
      },
      contextFor: () => undefined,
      authenticated: (from, kid, r) => ({ ...from, identity: { type: 'oscore', kid, endpoint: r.owner! } }),
      acceptUnprotected: true,
    });
    const seenIdentity: unknown[] = [];
    const srv = new CoapEndpoint({
      transport: net.transport('10.0.0.1', 5683),
      seam: serverSeam,
      handler: (req) => {
        seenIdentity.push(req.peer.identity);
        return { code: CoapCode.CONTENT, payload: Buffer.from(`hello ${req.path.join('/')}`) };
      },
    });
    const devCtx = device();
    const devSeam = new OscoreSeam({
      lookup: (kid) => (kid.equals(devCtx.recipientId) ? { context: devCtx } : undefined),
      contextFor: () => devCtx,
      acceptUnprotected: false,
    });
    const dev = new CoapEndpoint({
      transport: net.transport('10.0.0.2', 5683),
      seam: devSeam,
      handler: () => ({ code: CoapCode.CONTENT }),
    });
    open.push(srv, dev);
    const res = await dev.request(
      { address: '10.0.0.1', port: 5683 },
      { code: CoapCode.GET, path: ['a', 'b'] },
    );
    expect(res.code).toBe(CoapCode.CONTENT);
    expect(res.payload.toString()).toBe('hello a/b');
    expect(seenIdentity[0]).toMatchObject({ type: 'oscore', endpoint: 'dev' });
    expect(serverSeam.counters.requests.ok).toBe(1);
    expect(devSeam.counters.responses.ok).toBe(1);
    expect(lookups).toBe(1);
    // A plain request to the OSCORE-only device: 4.01, the handler never runs.
    const plain = new CoapEndpoint({ transport: net.transport('10.0.0.3', 5683) });
    open.push(plain);
    const refused = await plain.request(
      { address: '10.0.0.2', port: 5683 },
      { code: CoapCode.GET, path: ['3'] },
    );
    expect(refused.code).toBe(CoapCode.UNAUTHORIZED);
    expect(devSeam.counters.requests.unprotected).toBe(1);
  });
});
