// The composed server: commands from the bus, observations (RFC 7641) landing in values and events, Send
// (TS 1.2 Core 6.4.5, POST /dp), lifetime expiry (TS 1.2 Core 6.2.1) and robustness against random requests.
import { CoapCode, type CoapMessage, CoapType, formatCode, type IncomingRequest } from '@lwm2m/coap';
import { ContentFormat, getCompositeCodec, Lwm2mPath, singleResource } from '@lwm2m/lwm2m';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeviceCommand } from '../src';
import { answerRead, model } from './device';
import { createHarness, DEVICE, type Harness, locationOf } from './harness';

let h: Harness;
beforeEach(() => {
  h = createHarness();
});
afterEach(async () => {
  await h.close();
});

function cmd(partial: Partial<DeviceCommand>): DeviceCommand {
  return { id: 'c1', endpoint: 'dev', op: 'read', timeoutMs: 1000, createdAt: Date.now(), ...partial };
}

async function register(
  query = ['ep=dev', 'lwm2m=1.1', 'lt=300'],
  links = '</>;rt="oma.lwm2m";ct="110 112",</3/0>',
): Promise<string> {
  const res = await h.register(query, links);
  expect(formatCode(res.code)).toBe('2.01');
  return locationOf(res)[1];
}

describe('runCommand', () => {
  it('answers 404 for an endpoint that is not registered', async () => {
    const r = await h.server.runCommand(cmd({ endpoint: 'ghost', path: '/3/0' }));
    expect(r).toMatchObject({ id: 'c1', ok: false, status: 404 });
  });

  it('reads, stores the values as latest and publishes a response event', async () => {
    await register();
    h.on((req) => answerRead(req));
    const r = await h.server.runCommand(cmd({ path: '/3/0/0' }));
    expect(r).toMatchObject({ id: 'c1', ok: true, status: 200, values: [{ path: '/3/0/0', value: 'ACME' }] });
    expect(await h.values.get('dev')).toEqual([expect.objectContaining({ path: '/3/0/0', value: 'ACME' })]);
    expect(h.events.ofType('response')).toEqual([
      expect.objectContaining({ requestId: 'c1', result: { ok: true, status: 200, coapCode: '2.05' } }),
    ]);
  });

  it('refuses an operation without its path with 400', async () => {
    await register();
    expect((await h.server.runCommand(cmd({ op: 'write' }))).status).toBe(400);
    expect((await h.server.runCommand(cmd({ op: 'cancel-observation' }))).status).toBe(400);
    expect((await h.server.runCommand(cmd({ op: 'cancel-observation', observationId: 'x' }))).status).toBe(
      404,
    );
  });
});

describe('Observe', () => {
  it('stores the observation by token and puts each notification into values and events', async () => {
    await register();
    h.on((req) => answerRead(req, 50));
    const r = await h.server.runCommand(
      cmd({ op: 'observe', path: '/3/0/9', contentFormat: ContentFormat.SENML_JSON }),
    );
    expect(r).toMatchObject({ ok: true, status: 200, values: [{ path: '/3/0/9', value: 50 }] });
    const obs = [...h.observations.byId.values()];
    expect(obs).toHaveLength(1);
    expect(obs[0]).toMatchObject({
      id: r.observationId,
      endpoint: 'dev',
      paths: ['/3/0/9'],
      composite: false,
    });
    expect(obs[0].token).toMatch(/^[0-9a-f]{16}$/);
    for (const battery of [51, 52, 53]) {
      const codec = getCompositeCodec(ContentFormat.SENML_JSON)!;
      const payload = codec.encode(singleResource(9, 'integer', battery), Lwm2mPath.parse('/3/0/9'), model);
      await h.device.notify('/3/0/9', {
        response: { code: CoapCode.CONTENT, contentFormat: ContentFormat.SENML_JSON, payload },
      });
    }
    await h.events.waitFor((e) => e.filter((x) => x.type === 'notification').length === 3);
    const notes = h.events.ofType('notification');
    expect(notes.map((n) => n.values[0].value)).toEqual([51, 52, 53]);
    expect(notes[0]).toMatchObject({ endpoint: 'dev', observationId: r.observationId, paths: ['/3/0/9'] });
    expect((await h.values.get('dev')).find((v) => v.path === '/3/0/9')?.value).toBe(53);
  });

  it('cancels proactively with Observe=1 and the same token, then forgets the observation', async () => {
    await register();
    h.on((req) => answerRead(req));
    const r = await h.server.runCommand(cmd({ op: 'observe', path: '/3/0/9' }));
    const token = [...h.observations.byId.values()][0].token;
    const c = await h.server.runCommand(cmd({ op: 'cancel-observation', observationId: r.observationId }));
    expect(c).toMatchObject({ ok: true, status: 204 });
    const last = h.received[h.received.length - 1];
    expect(last.observe).toBe(1);
    expect(last.token.toString('hex')).toBe(token);
    expect(h.observations.byId.size).toBe(0);
    expect(h.server.client.hasObservation(token)).toBe(false);
  });

  it('observes several paths with FETCH (Observe-Composite)', async () => {
    await register();
    h.on((req) => {
      const codec = getCompositeCodec(req.contentFormat!)!;
      const nodes = codec
        .decodePaths(req.payload)
        .map((p) => ({ path: p, node: singleResource(p.resourceId!, 'integer', 1) }));
      return {
        code: CoapCode.CONTENT,
        contentFormat: codec.contentFormat,
        payload: codec.encodeComposite(nodes, model),
      };
    });
    const r = await h.server.runCommand(cmd({ op: 'observe-composite', paths: ['/3/0/9', '/3/0/10'] }));
    expect(r).toMatchObject({ ok: true, status: 200 });
    expect(h.received[0]).toMatchObject({ code: CoapCode.FETCH, observe: 0 });
    expect([...h.observations.byId.values()][0]).toMatchObject({
      composite: true,
      paths: ['/3/0/9', '/3/0/10'],
    });
  });

  it('drops the observations of a registration that is replaced by a new Register', async () => {
    await register();
    h.on((req) => answerRead(req));
    await h.server.runCommand(cmd({ op: 'observe', path: '/3/0/9' }));
    const token = [...h.observations.byId.values()][0].token;
    await register();
    expect(h.observations.byId.size).toBe(0);
    expect(h.server.client.hasObservation(token)).toBe(false);
  });
});

describe('Send (POST /dp)', () => {
  it('stores SenML values from a registered 1.1 client and publishes a send event', async () => {
    await register();
    // TS 1.1 Core 6.4.7 style Send: SenML JSON with a base name and a timestamp
    const payload = '[{"bn":"/3/0/","n":"9","v":42,"t":1700000000},{"n":"0","vs":"ACME"}]';
    const res = await h.request(CoapCode.POST, '/dp', [], payload, ContentFormat.SENML_JSON);
    expect(formatCode(res.code)).toBe('2.04');
    const ev = h.events.ofType('send');
    expect(ev).toHaveLength(1);
    expect(ev[0].values).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: '/3/0/9', value: 42, time: 1700000000 })]),
    );
    expect((await h.values.get('dev')).map((v) => v.path).sort()).toEqual(['/3/0/0', '/3/0/9']);
  });

  it('refuses Send from an unregistered peer with 4.03', async () => {
    const res = await h.request(CoapCode.POST, '/dp', [], '[{"n":"/3/0/9","v":1}]', ContentFormat.SENML_JSON);
    expect(formatCode(res.code)).toBe('4.03');
    expect(res.payload.toString()).toMatch(/not registered/);
  });

  it('refuses a TLV payload with 4.15, a broken one with 4.00 and GET with 4.05', async () => {
    await register();
    expect(
      formatCode(
        (await h.request(CoapCode.POST, '/dp', [], Buffer.from([0xc1, 0x00, 0x01]), ContentFormat.TLV)).code,
      ),
    ).toBe('4.15');
    expect(formatCode((await h.request(CoapCode.POST, '/dp', [], '[{', ContentFormat.SENML_JSON)).code)).toBe(
      '4.00',
    );
    expect(formatCode((await h.request(CoapCode.GET, '/dp')).code)).toBe('4.05');
  });
});

describe('Lifetime expiry', () => {
  it('removes a registration within 1 s of its deadline and emits expired once', async () => {
    h.server.start();
    await register(['ep=short', 'lt=1']);
    const reg = (await h.registrations.getByEndpoint('short'))!;
    await h.events.waitFor((e) => e.some((x) => x.type === 'expired'), 3000);
    const lateBy = Date.now() - reg.expiresAt;
    expect(lateBy).toBeGreaterThanOrEqual(0);
    expect(lateBy).toBeLessThan(1000);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.events.ofType('expired')).toEqual([
      expect.objectContaining({ endpoint: 'short', registrationId: reg.registrationId }),
    ]);
    expect(h.registrations.byEndpoint.size).toBe(0);
  });

  it('keeps a registration alive that is updated before its deadline', async () => {
    h.server.start();
    const id = await register(['ep=kept', 'lt=1']);
    await new Promise((r) => setTimeout(r, 600));
    await h.request(CoapCode.POST, `/rd/${id}`, ['lt=60']);
    await new Promise((r) => setTimeout(r, 700));
    expect(h.events.ofType('expired')).toHaveLength(0);
  });
});

describe('robustness', () => {
  it('answers any random request with a CoAP response code and never throws', async () => {
    await register();
    const methods = [
      CoapCode.GET,
      CoapCode.POST,
      CoapCode.PUT,
      CoapCode.DELETE,
      CoapCode.FETCH,
      CoapCode.IPATCH,
    ];
    const segment = fc.oneof(fc.constantFrom('rd', 'dp', '', 'x'), fc.string({ maxLength: 12 }));
    const query = fc.oneof(
      fc.constantFrom('ep=a', 'lt=1', 'lt=-1', 'lwm2m=1.1', 'lwm2m=9.9', 'b=UQ', 'b=', 'Q', 'sms=1', 'ep'),
      fc.string({ maxLength: 20 }),
    );
    const payload = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
      fc
        .constantFrom('</3/0>', '</>;rt="oma.lwm2m";ct=110', '[{"n":"/3/0/9","v":1}]', '<', '</3/0>;ct="')
        .map((s) => Buffer.from(s)),
    );
    const cf = fc.option(fc.constantFrom(0, 40, 42, 60, 110, 112, 11542, 11543, 11544, 65535), {
      nil: undefined,
    });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...methods),
        fc.array(segment, { maxLength: 4 }),
        fc.array(query, { maxLength: 6 }),
        payload,
        cf,
        fc.boolean(),
        async (code, path, q, body, contentFormat, fromDevice) => {
          const message = {
            type: CoapType.CON,
            code,
            messageId: 1,
            token: Buffer.alloc(0),
            options: [],
            payload: body,
          } as CoapMessage;
          const req: IncomingRequest = {
            peer: fromDevice ? DEVICE : { address: '10.9.9.9', port: 1 },
            peerKey: fromDevice ? `${DEVICE.address}:${DEVICE.port}` : '10.9.9.9:1',
            code,
            confirmable: true,
            token: Buffer.alloc(0),
            path,
            query: q,
            options: [],
            payload: body,
            contentFormat,
            message,
          };
          const res = await h.server.handleRequest(req);
          expect([2, 4]).toContain(res.code >> 5);
        },
      ),
      { numRuns: 1500, seed: 4242 },
    );
  });
});
