// LwM2M TS 1.2 Core 6.3 operations from the server to a scripted device, in every data format, with the
// CoAP result codes mapped to HTTP-like statuses (DeviceCommandResult) and a silent device giving 504.
import { CoapCode, formatCode, getUriQuery } from '@lwm2m/coap';
import { ContentFormat, getCompositeCodec, getNodeCodec, Lwm2mPath } from '@lwm2m/lwm2m';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DecodedNotification, httpStatusOf, type Registration } from '../src';
import { answerComposite, answerRead, model } from './device';
import { createHarness, type Harness, locationOf } from './harness';

let h: Harness;
let reg: Registration;

async function registerAs(query: string[], links = '</1/0>,</3/0>'): Promise<Registration> {
  const res = await h.register(query, links);
  expect(formatCode(res.code)).toBe('2.01');
  return (await h.registrations.getById(locationOf(res)[1]))!;
}

beforeEach(async () => {
  h = createHarness();
  reg = await registerAs(['ep=dev', 'lwm2m=1.1'], '</>;rt="oma.lwm2m";ct="110 112 11542",</3/0>');
});
afterEach(async () => {
  await h.close();
});

const FORMATS: Array<[string, number]> = [
  ['TLV', ContentFormat.TLV],
  ['SenML JSON', ContentFormat.SENML_JSON],
  ['SenML CBOR', ContentFormat.SENML_CBOR],
  ['LwM2M CBOR', ContentFormat.LWM2M_CBOR],
];

describe('Read', () => {
  it.each(FORMATS)('reads an object instance in %s into JSON values', async (_n, cf) => {
    h.on((req) => answerRead(req));
    const r = await h.server.client.read(reg, '/3/0', { contentFormat: cf });
    expect(r).toMatchObject({ ok: true, status: 200, coapCode: '2.05', contentFormat: cf });
    expect(h.received[0].accept).toBe(cf);
    expect(r.values).toEqual([
      { path: '/3/0/0', type: 'string', value: 'ACME' },
      { path: '/3/0/6/0', type: 'integer', value: 1 },
      { path: '/3/0/6/1', type: 'integer', value: 5 },
      { path: '/3/0/9', type: 'integer', value: 87 },
      { path: '/3/0/13', type: 'time', value: 1_700_000_000 },
    ]);
  });

  it.each([...FORMATS, ['text/plain', ContentFormat.TEXT] as [string, number]])(
    'reads a single resource in %s',
    async (_n, cf) => {
      h.on((req) => answerRead(req));
      const r = await h.server.client.read(reg, '/3/0/0', { contentFormat: cf });
      expect(r.values).toEqual([{ path: '/3/0/0', type: 'string', value: 'ACME' }]);
    },
  );

  it('negotiates the format from the version and the declared ct: 1.0 TLV, 1.1 SenML CBOR, 1.2 LwM2M CBOR', async () => {
    h.on((req) => answerRead(req));
    const r10 = await registerAs(['ep=v10', 'lwm2m=1.0']);
    const r12 = await registerAs(['ep=v12', 'lwm2m=1.2'], '</>;rt="oma.lwm2m";ct="11544 112",</3/0>');
    await h.server.client.read(r10, '/3/0');
    await h.server.client.read(reg, '/3/0');
    await h.server.client.read(r12, '/3/0');
    expect(h.received.map((r) => r.accept)).toEqual([
      ContentFormat.TLV,
      ContentFormat.SENML_CBOR,
      ContentFormat.LWM2M_CBOR,
    ]);
  });

  it('sends requests under the alternate root path', async () => {
    const alt = await registerAs(['ep=alt', 'lwm2m=1.1'], '</lwm2m>;rt="oma.lwm2m",</lwm2m/3/0>');
    h.on(() => ({ code: CoapCode.NOT_FOUND }));
    await h.server.client.read(alt, '/3/0/9');
    expect(h.received[0].path).toEqual(['lwm2m', '3', '0', '9']);
  });

  it('reports an undecodable device payload as 502', async () => {
    h.on(() => ({ code: CoapCode.CONTENT, contentFormat: ContentFormat.SENML_JSON, payload: '{not json' }));
    const r = await h.server.client.read(reg, '/3/0');
    expect(r).toMatchObject({ ok: false, status: 502 });
    expect(r.error).toMatch(/undecodable/);
  });

  it('refuses a bad path with 400 before sending anything', async () => {
    const r = await h.server.client.read(reg, '/3/x');
    expect(r).toMatchObject({ ok: false, status: 400 });
    expect(h.received).toHaveLength(0);
  });
});

describe('CoAP errors and timeouts', () => {
  it.each([
    [CoapCode.BAD_REQUEST, 400],
    [CoapCode.UNAUTHORIZED, 403],
    [CoapCode.FORBIDDEN, 403],
    [CoapCode.NOT_FOUND, 404],
    [CoapCode.METHOD_NOT_ALLOWED, 405],
    [CoapCode.NOT_ACCEPTABLE, 406],
    [CoapCode.UNSUPPORTED_CONTENT_FORMAT, 415],
    [CoapCode.INTERNAL_SERVER_ERROR, 502],
    [CoapCode.SERVICE_UNAVAILABLE, 502],
  ])('maps the device code 0x%s to HTTP %i with its meaning', async (code, status) => {
    h.on(() => ({ code, payload: 'why' }));
    const r = await h.server.client.read(reg, '/3/0/0');
    expect(r).toMatchObject({ ok: false, status, coapCode: formatCode(code) });
    expect(r.error).toContain(formatCode(code));
    expect(r.error).toContain('why');
    expect(httpStatusOf(code)).toBe(status);
  });

  it('gives 504 when the device does not answer within timeoutMs', async () => {
    h.net.drop = (_d, _from, to) => to.port === 40000;
    const start = Date.now();
    const r = await h.server.client.read(reg, '/3/0/0', { timeoutMs: 200 });
    expect(r).toMatchObject({ ok: false, status: 504 });
    expect(Date.now() - start).toBeLessThan(1500);
  });

  it('gives 504 when the device has gone away', async () => {
    // A device endpoint that is gone: the server's CON reaches a node that answers nothing; emulate RST.
    h.on(() => new Promise(() => undefined));
    await h.device.close();
    const r = await h.server.client.read(reg, '/3/0/0', { timeoutMs: 200 });
    expect(r.status).toBe(504);
  });
});

describe('Write, Execute, Create, Delete, Discover, Write-Attributes', () => {
  it.each(FORMATS)('writes (replace, PUT) an instance in %s', async (_n, cf) => {
    h.on(() => ({ code: CoapCode.CHANGED }));
    const r = await h.server.client.write(
      reg,
      '/3/0',
      [
        { path: '/3/0/14', type: 'string', value: '+02:00' },
        { path: '/3/0/15', type: 'string', value: 'Europe/Berlin' },
      ],
      { contentFormat: cf },
    );
    expect(r).toMatchObject({ ok: true, status: 204, coapCode: '2.04' });
    const req = h.received[0];
    expect(req.code).toBe(CoapCode.PUT);
    expect(req.contentFormat).toBe(cf);
    const node = getNodeCodec(cf)!.decode(req.payload, Lwm2mPath.parse('/3/0'), model);
    expect(node.kind).toBe('instance');
  });

  it('writes a partial update with POST and a single resource as text when asked', async () => {
    h.on(() => ({ code: CoapCode.CHANGED }));
    await h.server.client.write(reg, '/3/0', [{ path: '/3/0/14', type: 'string', value: 'x' }], {
      replace: false,
    });
    await h.server.client.write(reg, '/3/0/14', [{ path: '/3/0/14', type: 'string', value: 'y' }], {
      contentFormat: ContentFormat.TEXT,
    });
    expect(h.received[0].code).toBe(CoapCode.POST);
    expect(h.received[1].payload.toString()).toBe('y');
  });

  it('refuses values that do not fit the resource type with 400', async () => {
    const r = await h.server.client.write(reg, '/3/0/9', [
      { path: '/3/0/9', type: 'integer', value: 'many' },
    ]);
    expect(r).toMatchObject({ ok: false, status: 400 });
    expect(h.received).toHaveLength(0);
  });

  it('executes with TS 1.1 Core 5.4.5 arguments and refuses malformed ones', async () => {
    h.on(() => ({ code: CoapCode.CHANGED }));
    const r = await h.server.client.execute(reg, '/3/0/4', "0='x',1");
    expect(r).toMatchObject({ ok: true, status: 204 });
    expect(h.received[0]).toMatchObject({ code: CoapCode.POST, path: ['3', '0', '4'] });
    expect(h.received[0].payload.toString()).toBe("0='x',1");
    expect((await h.server.client.execute(reg, '/3/0/4', 'rm -rf')).status).toBe(400);
  });

  it('creates an instance and returns the Location-Path', async () => {
    h.on(() => ({
      code: CoapCode.CREATED,
      options: [
        { number: 8, value: Buffer.from('1') },
        { number: 8, value: Buffer.from('7') },
      ],
    }));
    const r = await h.server.client.create(
      reg,
      '/1',
      [
        { path: '/1/7/0', type: 'integer', value: 2 },
        { path: '/1/7/1', type: 'integer', value: 300 },
      ],
      { contentFormat: ContentFormat.TLV },
    );
    expect(r).toMatchObject({ ok: true, status: 201, location: '/1/7' });
    expect(h.received[0]).toMatchObject({
      code: CoapCode.POST,
      path: ['1'],
      contentFormat: ContentFormat.TLV,
    });
  });

  it('deletes an instance', async () => {
    h.on(() => ({ code: CoapCode.DELETED }));
    expect(await h.server.client.delete(reg, '/1/7')).toMatchObject({
      ok: true,
      status: 204,
      coapCode: '2.02',
    });
    expect(h.received[0].code).toBe(CoapCode.DELETE);
  });

  it('discovers with Accept application/link-format and returns the links', async () => {
    // TS 1.1 Core 5.4.2 example (Discover on Object 3 instance 0)
    const links =
      '</3/0>;pmin=10,</3/0/1>,</3/0/2>,</3/0/3>,</3/0/4>,</3/0/6>;dim=8,</3/0/7>;gt=50;lt=42.2;st=0.5';
    h.on(() => ({ code: CoapCode.CONTENT, contentFormat: 40, payload: links }));
    const r = await h.server.client.discover(reg, '/3/0');
    expect(r).toMatchObject({ ok: true, status: 200, links, contentFormat: 40 });
    expect(h.received[0].accept).toBe(40);
  });

  it('writes attributes as Uri-Query without payload and removes null ones', async () => {
    h.on(() => ({ code: CoapCode.CHANGED }));
    const r = await h.server.client.writeAttributes(reg, '/3/0/9', {
      pmin: 10,
      pmax: 60,
      gt: 50.5,
      st: null,
    });
    expect(r.status).toBe(204);
    expect(getUriQuery(h.received[0].message)).toEqual(['pmin=10', 'pmax=60', 'gt=50.5', 'st']);
    expect(h.received[0].payload.length).toBe(0);
    expect((await h.server.client.writeAttributes(reg, '/3/0/9', { bogus: 1 })).status).toBe(400);
  });
});

describe('Composite operations', () => {
  const COMPOSITE = FORMATS.filter(([, cf]) => getCompositeCodec(cf) !== undefined);

  it.each(COMPOSITE)('reads several paths at once with FETCH in %s', async (_n, cf) => {
    h.on((req) => answerComposite(req));
    const r = await h.server.client.readComposite(reg, ['/3/0/0', '/3/0/9'], { contentFormat: cf });
    expect(h.received[0]).toMatchObject({ code: CoapCode.FETCH, contentFormat: cf, accept: cf });
    expect(r).toMatchObject({ ok: true, status: 200 });
    expect(r.values).toEqual([
      { path: '/3/0/0', type: 'string', value: 'ACME' },
      { path: '/3/0/9', type: 'integer', value: 87 },
    ]);
  });

  it.each(COMPOSITE)('writes several paths at once with iPATCH in %s', async (_n, cf) => {
    h.on(() => ({ code: CoapCode.CHANGED }));
    const r = await h.server.client.writeComposite(
      reg,
      [
        { path: '/3/0/14', type: 'string', value: 'z' },
        { path: '/1/0/1', type: 'integer', value: 60 },
      ],
      { contentFormat: cf },
    );
    expect(r.status).toBe(204);
    expect(h.received[0].code).toBe(CoapCode.IPATCH);
    const nodes = getCompositeCodec(cf)!.decodeComposite(h.received[0].payload, model);
    expect(nodes.map((n) => n.path.toString()).sort()).toEqual(['/1/0/1', '/3/0/14']);
  });

  it('refuses a composite operation in TLV with 400', async () => {
    const r = await h.server.client.readComposite(reg, ['/3/0/0'], { contentFormat: ContentFormat.TLV });
    expect(r.status).toBe(400);
  });
});

describe('resumeObservation', () => {
  it('rebuilds an Observe-Composite from its stored record: same decoding, cancel with the same FETCH', async () => {
    h.on((req) => answerComposite(req));
    const paths = ['/3/0/9', '/3/0/0'];
    const cf = ContentFormat.SENML_JSON;
    const started = await h.server.client.observeComposite(reg, paths, () => undefined, {
      contentFormat: cf,
    });
    const token = started.token!;
    const register = h.received[0];
    // This client forgets it (as a crashed node would); the device keeps its observer.
    h.server.client.forgetObservation(token);
    expect(h.server.client.hasObservation(token)).toBe(false);

    const got: DecodedNotification[] = [];
    expect(
      h.server.client.resumeObservation(reg, { token, paths, composite: true, contentFormat: cf }, (n) =>
        got.push(n),
      ),
    ).toBe(true);
    expect(h.received).toHaveLength(1); // nothing sent
    expect(h.server.client.hasObservation(token)).toBe(true);
    await h.device.notify(h.device.listObservers()[0].resource);
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toEqual([
      expect.objectContaining({
        ok: true,
        contentFormat: cf,
        values: [
          { path: '/3/0/9', type: 'integer', value: 87 },
          { path: '/3/0/0', type: 'string', value: 'ACME' },
        ],
      }),
    ]);

    expect(await h.server.client.cancelObservation(token)).toBe(true);
    const dereg = h.received[h.received.length - 1];
    expect(dereg).toMatchObject({ code: CoapCode.FETCH, observe: 1, contentFormat: cf, accept: cf });
    expect(dereg.token.equals(register.token)).toBe(true);
    expect(dereg.payload.equals(register.payload)).toBe(true);
    expect(dereg.path).toEqual(register.path);
    expect(h.device.listObservers()).toHaveLength(0);
  });

  it('refuses a stored record it cannot rebuild', () => {
    const bad = { token: '00', paths: ['/3/0'], composite: true, contentFormat: ContentFormat.TLV };
    expect(h.server.client.resumeObservation(reg, bad, () => undefined)).toBe(false);
    expect(
      h.server.client.resumeObservation(reg, { ...bad, composite: false, paths: ['nope'] }, () => undefined),
    ).toBe(false);
    expect(h.server.client.hasObservation('00')).toBe(false);
  });
});
