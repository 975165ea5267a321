// The simulated LwM2M client over real UDP on 127.0.0.1 against a test-side server (LwM2M TS 1.1/1.2
// Transport 6.2 registration, 6.4 DM operations, 6.5 queue mode), decoded with the @lwm2m/lwm2m codecs.
import { afterEach, describe, expect, it } from 'vitest';
import { CoapCode, CoapTimeoutError, decodeLinkFormat, formatCode, getLocationPath } from '@lwm2m/coap';
import {
  ContentFormat,
  decodeLwm2mLinks,
  flatten,
  Lwm2mCborCodec,
  Lwm2mPath,
  objectInstance,
  SenmlCborCodec,
  SenmlJsonCodec,
  singleResource,
  textCodec,
  tlvCodec,
} from '@lwm2m/lwm2m';
import { SimulatedDevice, type SimulatedDeviceOptions, simulatorObjectModelRegistry } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { TestLwm2mServer, until } from './test-server';

const model = simulatorObjectModelRegistry();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(opts: Partial<SimulatedDeviceOptions> = {}) {
  const server = await TestLwm2mServer.start();
  cleanups.push(() => server.close());
  const transport = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
  const device = new SimulatedDevice({
    endpoint: 'sim-1',
    transport,
    server: server.address,
    lifetime: 300,
    sensorIntervalMs: 50,
    observeTickMs: 20,
    requestTimeoutMs: 3000,
    ...opts,
  });
  cleanups.push(() => device.close());
  await device.start();
  return { server, device };
}

const valuesOf = (node: ReturnType<typeof tlvCodec.decode>, path: string) =>
  new Map(flatten(node, Lwm2mPath.parse(path)).map((v) => [v.path.toString(), v.value]));

describe('SimulatedDevice registration', () => {
  it('registers with ep, lt, lwm2m, b and its object links, without the Security object', async () => {
    const { server, device } = await setup({ contentFormat: ContentFormat.SENML_CBOR });
    const [reg] = server.of('register');
    expect(reg.query).toEqual(['ep=sim-1', 'lt=300', 'lwm2m=1.1', 'b=U']);
    expect(reg.contentFormat).toBe(ContentFormat.LINK);
    const text = reg.payload.toString();
    expect(text).toBe('</>;rt="oma.lwm2m";ct=112,</1>;ver=1.1,</1/0>,</3>;ver=1.1,</3/0>,</3303/0>');
    const links = decodeLwm2mLinks(reg.payload);
    expect(links[0].attributes).toEqual({ rt: 'oma.lwm2m', ct: [112] });
    expect(links.some((l) => l.path?.objectId === 0)).toBe(false);
    expect(device.location).toEqual(['rd', 'r1']);
  });

  it('registers as LwM2M 1.0 in queue mode with the UQ binding and TLV, no root link', async () => {
    const { server } = await setup({ lwm2mVersion: '1.0', queueMode: true });
    const [reg] = server.of('register');
    expect(reg.query).toEqual(['ep=sim-1', 'lt=300', 'lwm2m=1.0', 'b=UQ']);
    expect(reg.payload.toString()).toBe('</1/0>,</3/0>,</3303/0>');
  });

  it('registers as LwM2M 1.2 in queue mode with the Q parameter and LwM2M CBOR declared', async () => {
    const { server } = await setup({ lwm2mVersion: '1.2', queueMode: true });
    const [reg] = server.of('register');
    expect(reg.query).toEqual(['ep=sim-1', 'lt=300', 'lwm2m=1.2', 'b=U', 'Q']);
    expect(reg.payload.toString()).toMatch(/^<\/>;rt="oma.lwm2m";ct=11544,<\/1>;ver=1.2,/);
  });

  it('updates with a new lifetime, with its links when objects changed, then de-registers', async () => {
    const { server, device } = await setup();
    expect(await device.update({ lifetime: 120 })).toBe(CoapCode.CHANGED);
    expect(server.of('update')[0].query).toEqual(['lt=120']);
    expect(server.of('update')[0].payload.length).toBe(0);
    await device.update({ objectsChanged: true });
    expect(server.of('update')[1].payload.toString()).toContain('</3303/0>');
    expect(device.tree.getValue('/1/0/1')).toBe(120);
    await device.deregister();
    expect(server.of('deregister')).toHaveLength(1);
    expect(device.registered).toBe(false);
  });

  it('registers again when an Update gets 4.04', async () => {
    const { server, device } = await setup();
    server.forgetAll();
    await device.update();
    expect(server.of('register')).toHaveLength(2);
    expect(device.location).toEqual(['rd', 'r2']);
  });

  it('sends an Update on its own before the lifetime ends', async () => {
    const { server } = await setup({ lifetime: 1, updateAt: 0.3 });
    await until(() => server.of('update').length >= 2, 3000, 'two automatic updates');
  });

  it('de-registers on stop', async () => {
    const { server, device } = await setup();
    await device.stop();
    expect(server.of('deregister')).toHaveLength(1);
  });

  it('sends current values to /dp in its composite format', async () => {
    const { server, device } = await setup({ contentFormat: ContentFormat.SENML_JSON });
    expect(await device.send(['/3/0/0', '/3303/0/5700'])).toBe(CoapCode.CHANGED);
    const [send] = server.of('send');
    expect(send.contentFormat).toBe(ContentFormat.SENML_JSON);
    const nodes = SenmlJsonCodec.decodeComposite(send.payload, model);
    expect(nodes.map((n) => n.path.toString())).toEqual(['/3/0/0', '/3303/0/5700']);
  });
});

describe('SimulatedDevice Read', () => {
  const formats = [
    ['TLV', ContentFormat.TLV, tlvCodec],
    ['SenML JSON', ContentFormat.SENML_JSON, SenmlJsonCodec],
    ['SenML CBOR', ContentFormat.SENML_CBOR, SenmlCborCodec],
    ['LwM2M CBOR', ContentFormat.LWM2M_CBOR, Lwm2mCborCodec],
  ] as const;
  for (const [name, cf, codec] of formats) {
    it(`answers Read /3/0 with Accept ${name} with realistic Device values`, async () => {
      const { server } = await setup();
      const res = await server.request({ path: '/3/0', accept: cf });
      expect(formatCode(res.code)).toBe('2.05');
      expect(res.contentFormat).toBe(cf);
      const v = valuesOf(codec.decode(res.payload, Lwm2mPath.parse('/3/0'), model), '/3/0');
      expect(v.get('/3/0/0')).toBe('Open Mobile Alliance');
      expect(v.get('/3/0/6/0')).toBe(1);
      expect(v.get('/3/0/6/1')).toBe(5);
      expect(v.get('/3/0/11/0')).toBe(0);
      expect(v.get('/3/0/16')).toBe('UQ');
      expect(v.get('/3/0/13')).toBeInstanceOf(Date);
      expect(v.has('/3/0/4')).toBe(false);
    });

    it(`uses ${name} when it is the preferred format and the request has no Accept`, async () => {
      const { server } = await setup({ lwm2mVersion: '1.2', contentFormat: cf });
      const res = await server.request({ path: '/3303/0/5700' });
      expect(res.contentFormat).toBe(cf);
      const v = valuesOf(codec.decode(res.payload, Lwm2mPath.parse('/3303/0/5700'), model), '/3303/0/5700');
      expect(typeof v.get('/3303/0/5700')).toBe('number');
    });
  }

  it('reads an object, a resource instance and a single resource as text', async () => {
    const { server } = await setup();
    const obj = await server.request({ path: '/3303', accept: ContentFormat.SENML_JSON });
    const node = SenmlJsonCodec.decode(obj.payload, Lwm2mPath.parse('/3303'), model);
    expect(valuesOf(node, '/3303').get('/3303/0/5701')).toBe('Cel');
    const ri = await server.request({ path: '/3/0/7/1', accept: ContentFormat.TEXT });
    expect(ri.payload.toString()).toBe('5000');
    const txt = await server.request({ path: '/3/0/0', accept: ContentFormat.TEXT });
    expect(textCodec.decode(txt.payload, Lwm2mPath.parse('/3/0/0'), model)).toMatchObject({
      value: 'Open Mobile Alliance',
    });
  });

  it('answers 4.04 for unknown paths, 4.05 for Read of an executable, 4.06 for an Accept it cannot give', async () => {
    const { server } = await setup();
    expect(formatCode((await server.request({ path: '/9/0' })).code)).toBe('4.04');
    expect(formatCode((await server.request({ path: '/3/1' })).code)).toBe('4.04');
    expect(formatCode((await server.request({ path: '/3/0/99' })).code)).toBe('4.04');
    expect(formatCode((await server.request({ path: '/3/abc' })).code)).toBe('4.04');
    expect(formatCode((await server.request({ path: '/3/0/4' })).code)).toBe('4.05');
    expect(formatCode((await server.request({ path: '/3/0', accept: ContentFormat.TEXT })).code)).toBe(
      '4.06',
    );
    expect(formatCode((await server.request({ path: '/3/0', accept: 9999 })).code)).toBe('4.06');
    expect(formatCode((await server.request({ path: '/0/0' })).code)).toBe('4.01');
  });

  it('keeps the current time advancing', async () => {
    const { server } = await setup();
    const res = await server.request({ path: '/3/0/13', accept: ContentFormat.TEXT });
    const t = Number(res.payload.toString());
    expect(Math.abs(t - Date.now() / 1000)).toBeLessThan(5);
  });
});

describe('SimulatedDevice Write and Execute', () => {
  it('round-trips a Write (PUT, text) and a partial update (POST, SenML CBOR)', async () => {
    const { server, device } = await setup();
    const put = await server.request({
      code: CoapCode.PUT,
      path: '/3/0/14',
      contentFormat: ContentFormat.TEXT,
      payload: '+05:30',
    });
    expect(formatCode(put.code)).toBe('2.04');
    const read = await server.request({ path: '/3/0/14', accept: ContentFormat.TEXT });
    expect(read.payload.toString()).toBe('+05:30');
    const payload = SenmlCborCodec.encode(
      objectInstance(0, [singleResource(15, 'string', 'Asia/Kolkata')]),
      Lwm2mPath.parse('/3/0'),
      model,
    );
    const post = await server.request({
      code: CoapCode.POST,
      path: '/3/0',
      contentFormat: ContentFormat.SENML_CBOR,
      payload,
    });
    expect(formatCode(post.code)).toBe('2.04');
    const all = await server.request({ path: '/3/0', accept: ContentFormat.LWM2M_CBOR });
    const v = valuesOf(Lwm2mCborCodec.decode(all.payload, Lwm2mPath.parse('/3/0'), model), '/3/0');
    expect(v.get('/3/0/14')).toBe('+05:30');
    expect(v.get('/3/0/15')).toBe('Asia/Kolkata');
    expect(device.writes.map((w) => [w.path, w.replace])).toEqual([
      ['/3/0/14', true],
      ['/3/0', false],
    ]);
  });

  it('sends an Update with the new lifetime after a Write to /1/0/1 in TLV', async () => {
    const { server } = await setup();
    const payload = tlvCodec.encode(singleResource(1, 'unsigned', 600), Lwm2mPath.parse('/1/0/1'), model);
    const res = await server.request({
      code: CoapCode.PUT,
      path: '/1/0/1',
      contentFormat: ContentFormat.TLV,
      payload,
    });
    expect(formatCode(res.code)).toBe('2.04');
    await until(() => server.of('update').length === 1, 2000, 'update');
    expect(server.of('update')[0].query).toEqual(['lt=600']);
  });

  it('refuses writes to read-only resources (4.05), undecodable payloads (4.00) and unknown formats (4.15)', async () => {
    const { server } = await setup();
    const ro = await server.request({ code: CoapCode.PUT, path: '/3/0/0', contentFormat: 0, payload: 'x' });
    expect(formatCode(ro.code)).toBe('4.05');
    const bad = await server.request({
      code: CoapCode.PUT,
      path: '/3/0/14',
      contentFormat: ContentFormat.SENML_JSON,
      payload: '[{"n":',
    });
    expect(formatCode(bad.code)).toBe('4.00');
    const tlv = await server.request({
      code: CoapCode.PUT,
      path: '/3/0',
      contentFormat: ContentFormat.TLV,
      payload: Buffer.from([0xff, 0xff]),
    });
    expect(formatCode(tlv.code)).toBe('4.00');
    const unknown = await server.request({
      code: CoapCode.PUT,
      path: '/3/0/14',
      contentFormat: 1234,
      payload: 'x',
    });
    expect(formatCode(unknown.code)).toBe('4.15');
  });

  it('records an Execute of /3/0/4 with its arguments, and refuses Execute of a readable resource', async () => {
    const { server, device } = await setup();
    const seen: string[] = [];
    device.on('execute', (e) => seen.push(e.path));
    const res = await server.request({ code: CoapCode.POST, path: '/3/0/4', payload: "0='now'" });
    expect(formatCode(res.code)).toBe('2.04');
    expect(device.executions).toMatchObject([{ path: '/3/0/4', args: "0='now'" }]);
    expect(seen).toEqual(['/3/0/4']);
    const no = await server.request({ code: CoapCode.POST, path: '/3/0/0' });
    expect(formatCode(no.code)).toBe('4.05');
  });

  it('resets min and max measured temperature on Execute /3303/0/5605', async () => {
    const { server, device } = await setup({ sensorIntervalMs: 0 });
    for (let i = 0; i < 20; i++) device.stepSensors();
    await server.request({ code: CoapCode.POST, path: '/3303/0/5605' });
    const v = device.tree.getValue('/3303/0/5700');
    expect(device.tree.getValue('/3303/0/5601')).toBe(v);
    expect(device.tree.getValue('/3303/0/5602')).toBe(v);
  });
});

describe('SimulatedDevice Discover, Write-Attributes, Create and Delete', () => {
  it('discovers an instance with dim and the attributes written to it', async () => {
    const { server } = await setup();
    const wa = await server.request({
      code: CoapCode.PUT,
      path: '/3/0/9',
      query: ['pmin=10', 'pmax=60', 'gt=50'],
    });
    expect(formatCode(wa.code)).toBe('2.04');
    const res = await server.request({ path: '/3/0', accept: ContentFormat.LINK });
    expect(res.contentFormat).toBe(ContentFormat.LINK);
    const text = res.payload.toString();
    expect(text).toContain('</3/0>,</3/0/0>,</3/0/1>');
    expect(text).toContain('</3/0/4>,</3/0/5>,</3/0/6>;dim=2');
    expect(text).toContain('</3/0/9>;pmin=10;pmax=60;gt=50');
    expect(decodeLinkFormat(res.payload).length).toBeGreaterThan(20);
    const obj = await server.request({ path: '/3', accept: ContentFormat.LINK });
    expect(obj.payload.toString()).toMatch(/^<\/3>;ver=1.1,<\/3\/0>,/);
    // A bare attribute name removes it (Core 5.4.4).
    await server.request({ code: CoapCode.PUT, path: '/3/0/9', query: ['gt'] });
    const after = await server.request({ path: '/3/0/9', accept: ContentFormat.LINK });
    expect(after.payload.toString()).toBe('</3/0/9>;pmin=10;pmax=60');
  });

  it('refuses bad attributes with 4.00', async () => {
    const { server } = await setup();
    const cases = [['pmin=abc'], ['foo=1'], ['gt=5'], ['lt=10', 'gt=5']];
    const paths = ['/3/0/9', '/3/0/9', '/3/0', '/3/0/9'];
    for (let i = 0; i < cases.length; i++) {
      const res = await server.request({ code: CoapCode.PUT, path: paths[i], query: cases[i] });
      expect(formatCode(res.code), cases[i].join('&')).toBe('4.00');
    }
  });

  it('creates a 3303 instance from TLV with the id the server chose, then deletes it', async () => {
    const { server, device } = await setup();
    const payload = tlvCodec.encode(
      {
        kind: 'object',
        id: 3303,
        instances: new Map([[7, objectInstance(7, [singleResource(5750, 'string', 'Fridge')])]]),
      },
      Lwm2mPath.parse('/3303'),
      model,
    );
    // An Object Instance TLV (0x08: instance, 8-bit id, 8-bit length) names the id (Core 7.4.3).
    expect(payload.subarray(0, 2)).toEqual(Buffer.from([0x08, 0x07]));
    const res = await server.request({
      code: CoapCode.POST,
      path: '/3303',
      contentFormat: ContentFormat.TLV,
      payload,
    });
    expect(formatCode(res.code)).toBe('2.01');
    expect(getLocationPath(res.message)).toEqual(['3303', '7']);
    const read = await server.request({ path: '/3303/7/5750', accept: ContentFormat.TEXT });
    expect(read.payload.toString()).toBe('Fridge');
    await until(
      () => server.of('update').some((u) => u.payload.toString().includes('</3303/7>')),
      2000,
      'update',
    );
    const del = await server.request({ code: CoapCode.DELETE, path: '/3303/7' });
    expect(formatCode(del.code)).toBe('2.02');
    expect(formatCode((await server.request({ path: '/3303/7' })).code)).toBe('4.04');
    expect(device.tree.instanceIds(3303)).toEqual([0]);
  });

  it('creates a 3303 instance from SenML JSON and picks the next free id for empty payloads', async () => {
    const { server } = await setup();
    const res = await server.request({
      code: CoapCode.POST,
      path: '/3303',
      contentFormat: ContentFormat.SENML_JSON,
      payload: '[{"bn":"/3303/3/","n":"5750","vs":"Outdoor"}]',
    });
    expect(getLocationPath(res.message)).toEqual(['3303', '3']);
    const empty = await server.request({ code: CoapCode.POST, path: '/3303' });
    expect(getLocationPath(empty.message)).toEqual(['3303', '1']);
    const dup = await server.request({
      code: CoapCode.POST,
      path: '/3303',
      contentFormat: ContentFormat.SENML_JSON,
      payload: '[{"bn":"/3303/3/","n":"5750","vs":"Again"}]',
    });
    expect(formatCode(dup.code)).toBe('4.00');
  });

  it('lets the client pick the id of a TLV Create without an Object Instance wrapper', async () => {
    const { server } = await setup();
    const payload = tlvCodec.encode(
      objectInstance(0, [singleResource(5750, 'string', 'Attic')]),
      Lwm2mPath.parse('/3303'),
      model,
    );
    const res = await server.request({
      code: CoapCode.POST,
      path: '/3303',
      contentFormat: ContentFormat.TLV,
      payload,
    });
    expect(getLocationPath(res.message)).toEqual(['3303', '1']);
  });

  it('refuses Create on the Device object and Delete of /3/0 with 4.05', async () => {
    const { server } = await setup();
    expect(formatCode((await server.request({ code: CoapCode.POST, path: '/3' })).code)).toBe('4.05');
    expect(formatCode((await server.request({ code: CoapCode.DELETE, path: '/3/0' })).code)).toBe('4.05');
  });
});

describe('SimulatedDevice Observe', () => {
  it('notifies /3303/0/5700 honouring pmin and pmax, and stops on cancel', async () => {
    const { server, device } = await setup({ sensorIntervalMs: 0 });
    await server.request({ code: CoapCode.PUT, path: '/3303/0/5700', query: ['pmin=0', 'pmax=1'] });
    const seen: number[] = [];
    const obs = await server.coap.observe(
      server.devicePeer!,
      { path: '/3303/0/5700', accept: ContentFormat.SENML_CBOR },
      (res) => {
        const node = SenmlCborCodec.decode(res.payload, Lwm2mPath.parse('/3303/0/5700'), model);
        seen.push(Number(valuesOf(node, '/3303/0/5700').get('/3303/0/5700')));
      },
      { timeout: 3000 },
    );
    expect(obs.established).toBe(true);
    // No change: pmax (1 s) alone forces a notification.
    await until(() => seen.length >= 1, 2500, 'pmax notification');
    device.stepSensors();
    await until(() => seen.length >= 2, 2000, 'change notification');
    expect(seen[1]).toBe(device.tree.getValue('/3303/0/5700'));
    device.stepSensors();
    await until(() => seen.length >= 3, 2000, 'third notification');
    expect(device.notificationsSent).toBeGreaterThanOrEqual(3);
    await obs.cancel({ proactive: true });
    const n = seen.length;
    device.stepSensors();
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.length).toBe(n);
    expect(device.coap.listObservers()).toHaveLength(0);
  });

  it('holds notifications back until pmin has passed and sends only steps of st', async () => {
    const { server, device } = await setup({ sensorIntervalMs: 0 });
    await server.request({ code: CoapCode.PUT, path: '/3303/0/5700', query: ['pmin=1', 'st=1000'] });
    const seen: number[] = [];
    const obs = await server.coap.observe(server.devicePeer!, { path: '/3303/0/5700' }, () =>
      seen.push(Date.now()),
    );
    device.stepSensors();
    await new Promise((r) => setTimeout(r, 1300));
    expect(seen).toHaveLength(0);
    device.tree.setValue('/3303/0/5700', 2000);
    await until(() => seen.length === 1, 1000, 'a notification for a big step');
    await obs.cancel();
  });

  it('observes a composite of paths with FETCH and notifies on a change', async () => {
    const { server, device } = await setup({ sensorIntervalMs: 0 });
    const seen: string[][] = [];
    const obs = await server.coap.observe(
      server.devicePeer!,
      {
        code: CoapCode.FETCH,
        path: '/',
        contentFormat: ContentFormat.SENML_JSON,
        accept: ContentFormat.SENML_JSON,
        payload: SenmlJsonCodec.encodePaths([Lwm2mPath.parse('/3303/0/5700'), Lwm2mPath.parse('/3/0/9')]),
      },
      (res) => seen.push(SenmlJsonCodec.decodeComposite(res.payload, model).map((n) => n.path.toString())),
    );
    expect(obs.established).toBe(true);
    expect(SenmlJsonCodec.decodeComposite(obs.response.payload, model).map((n) => n.path.toString())).toEqual(
      ['/3303/0/5700', '/3/0/9'],
    );
    device.stepSensors();
    await until(() => seen.length >= 1, 2000, 'composite notification');
    expect(seen[0]).toEqual(['/3303/0/5700', '/3/0/9']);
    await obs.cancel({ proactive: true });
  });
});

describe('SimulatedDevice composite operations', () => {
  it('answers Read-Composite in the requested format and skips paths it lacks', async () => {
    const { server } = await setup();
    const res = await server.request({
      code: CoapCode.FETCH,
      path: '/',
      contentFormat: ContentFormat.SENML_CBOR,
      accept: ContentFormat.LWM2M_CBOR,
      payload: SenmlCborCodec.encodePaths([
        Lwm2mPath.parse('/3/0/0'),
        Lwm2mPath.parse('/1/0'),
        Lwm2mPath.parse('/42'),
      ]),
    });
    expect(formatCode(res.code)).toBe('2.05');
    expect(res.contentFormat).toBe(ContentFormat.LWM2M_CBOR);
    const nodes = Lwm2mCborCodec.decodeComposite(res.payload, model);
    const values = new Map(
      nodes.flatMap((n) => flatten(n.node, n.path)).map((v) => [v.path.toString(), v.value]),
    );
    expect(values.get('/3/0/0')).toBe('Open Mobile Alliance');
    expect(values.get('/1/0/1')).toBe(300);
  });

  it('applies a Write-Composite (iPATCH) and refuses one touching a read-only resource as a whole', async () => {
    const { server, device } = await setup();
    const ok = await server.request({
      code: CoapCode.IPATCH,
      path: '/',
      contentFormat: ContentFormat.SENML_JSON,
      payload: '[{"n":"/3/0/14","vs":"-03:00"},{"n":"/3303/0/5750","vs":"Cellar"}]',
    });
    expect(formatCode(ok.code)).toBe('2.04');
    expect(device.tree.getValue('/3/0/14')).toBe('-03:00');
    expect(device.tree.getValue('/3303/0/5750')).toBe('Cellar');
    const bad = await server.request({
      code: CoapCode.IPATCH,
      path: '/',
      contentFormat: ContentFormat.SENML_JSON,
      payload: '[{"n":"/3/0/15","vs":"UTC"},{"n":"/3/0/0","vs":"Evil"}]',
    });
    expect(formatCode(bad.code)).toBe('4.05');
    expect(device.tree.getValue('/3/0/15')).toBe('Europe/Paris');
  });

  it('refuses composite operations from a 1.0 client with 4.05', async () => {
    const { server } = await setup({ lwm2mVersion: '1.0' });
    const res = await server.request({
      code: CoapCode.FETCH,
      path: '/',
      contentFormat: ContentFormat.SENML_JSON,
      payload: '[{"n":"/3/0/0"}]',
    });
    expect(formatCode(res.code)).toBe('4.05');
  });
});

describe('SimulatedDevice queue mode', () => {
  it('drops requests while asleep and answers them after it wakes with an Update', async () => {
    const { server, device } = await setup({ queueMode: true, awakeWindowMs: 300, sleepMs: 800 });
    const awake = await server.request({ path: '/3/0/0', accept: ContentFormat.TEXT });
    expect(formatCode(awake.code)).toBe('2.05');
    await until(() => device.sleeping, 2000, 'sleep');
    await expect(
      server.request({ path: '/3/0/0', accept: ContentFormat.TEXT }, { timeout: 300 }),
    ).rejects.toBeInstanceOf(CoapTimeoutError);
    expect(device.droppedWhileAsleep).toBeGreaterThan(0);
    await until(() => server.of('update').length === 1, 2000, 'wake-up update');
    expect(device.sleeping).toBe(false);
    const after = await server.request({ path: '/3/0/0', accept: ContentFormat.TEXT });
    expect(after.payload.toString()).toBe('Open Mobile Alliance');
  });
});
