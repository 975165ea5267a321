// Issue 19 acceptance: "patch" notifications. A simulated device observed at /3 and /9/0 sends only the changed
// resource in each notification (SenML-ETCH, RFC 8790); the server merges them over the last full state in
// Redis. Checked on the wire (each datagram carries only the changed resource) and through the api (the merged
// state equals the device's state after every step); a null record removes a resource instance; a reordered
// late patch is ignored; a full notification resets the base; iPATCH writes only the changed resources.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoapType, encodeMessage, OptionNumber } from '@lwm2m/coap';
import { ContentFormat, encodeSenmlPatch, Lwm2mPath, singleResource } from '@lwm2m/lwm2m';
import { SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import {
  changeOne,
  contentFormatOf,
  deviceState,
  expectMergedToMatch,
  mergedState,
  patchOf,
  prepareDevice,
  RecordingTransport,
  softwareManagementModel,
} from '../support/patch-notifications';
import { openSse } from '../support/sse';
import { startTestServer, type TestServer } from '../support/single-node';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.stop();
});

async function startDevice(
  endpoint: string,
  patch: 'etch-json' | 'etch-cbor' | 'senml',
  extra: { ipatch?: boolean; declaredFormats?: number[] } = {},
): Promise<{ device: SimulatedDevice; wire: RecordingTransport; udp: UdpTransport }> {
  const udp = await UdpTransport.bind({ port: 0, address: '127.0.0.1' });
  const wire = new RecordingTransport(udp);
  const device = new SimulatedDevice({
    endpoint,
    transport: wire,
    server: { address: '127.0.0.1', port: server.coapPort },
    lifetime: 60,
    updateAt: 0,
    sensorIntervalMs: 0,
    observeTickMs: 10,
    contentFormat: ContentFormat.SENML_CBOR,
    models: [softwareManagementModel()],
    patchNotifications: patch,
    ...extra,
  });
  prepareDevice(device);
  await device.start();
  return { device, wire, udp };
}

async function observe(endpoint: string, path: string, notifications?: 'patch'): Promise<string> {
  const res = await server.api<{ id: string }>('POST', `/api/v1/devices/${endpoint}/observations`, {
    paths: [path],
    ...(notifications ? { notifications } : {}),
  });
  expect(res.status).toBe(201);
  return res.body.id;
}

describe('patch notifications over CoAP (SenML-ETCH CBOR)', () => {
  const ep = 'patch-etch';
  let device: SimulatedDevice;
  let wire: RecordingTransport;
  let udp: UdpTransport;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    ({ device, wire, udp } = await startDevice(ep, 'etch-cbor'));
    ids['/3'] = await observe(ep, '/3');
    ids['/9/0'] = await observe(ep, '/9/0');
  });

  afterAll(async () => {
    await device?.stop();
  });

  it('declares SenML-ETCH in its registration, and the first 2.05 of each observation is the full state', async () => {
    const reg = await server.api<{ supportedContentFormats?: number[] }>('GET', `/api/v1/devices/${ep}`);
    expect(reg.body.supportedContentFormats).toContain(ContentFormat.SENML_ETCH_CBOR);
    expect(await mergedState(server.api, ep, ids['/3']!)).toEqual(deviceState(device, '/3'));
    expect(await mergedState(server.api, ep, ids['/9/0']!)).toEqual(deviceState(device, '/9/0'));
  });

  it('100 changes of single resources give 100 patches, each carrying only the changed resource, merged after every step', async () => {
    const fullSizes = wire.sent.filter((s) => s.msg.code === 0x45).map((s) => s.size);
    const fullSize = Math.min(...fullSizes.filter((n) => n > 100));
    const before = wire.notifications().length;
    const sizes: number[] = [];
    for (let i = 1; i <= 100; i++) {
      const path = changeOne(device, i);
      const observed = path.startsWith('/3/') ? '/3' : '/9/0';
      await expectMergedToMatch(server.api, device, ep, ids[observed]!, observed);
      const sent = wire.notifications().slice(before + i - 1);
      expect(sent).toHaveLength(1);
      expect(contentFormatOf(sent[0]!.msg)).toBe(ContentFormat.SENML_ETCH_CBOR);
      expect(patchOf(device, sent[0]!.msg)).toEqual({ set: [path], removed: [] });
      sizes.push(sent[0]!.size);
    }
    expect(wire.notifications().length - before).toBe(100);
    // A patch datagram is a small fraction of the full object's.
    expect(Math.max(...sizes)).toBeLessThan(fullSize / 3);
    expect(await mergedState(server.api, ep, ids['/3']!)).toEqual(deviceState(device, '/3'));
    expect(await mergedState(server.api, ep, ids['/9/0']!)).toEqual(deviceState(device, '/9/0'));
  });

  it('a null record removes a resource instance, and the event carries the patch (and on request the merged state)', async () => {
    const sse = await openSse(`${server.http}/api/v1/events?endpoint=${ep}&merged=true`);
    try {
      expect((await mergedState(server.api, ep, ids['/3']!))['/3/0/7/1']).toBe(5000);
      device.tree.setInstanceValue('/3/0/7/1', undefined);
      await expectMergedToMatch(server.api, device, ep, ids['/3']!, '/3');
      expect((await mergedState(server.api, ep, ids['/3']!))['/3/0/7/1']).toBeUndefined();
      const last = wire.notifications().at(-1)!;
      expect(patchOf(device, last.msg)).toEqual({ set: [], removed: ['/3/0/7/1'] });
      const [e] = await sse.waitFor((x) => x.event === 'notification', 1);
      const data = JSON.parse(e!.data) as {
        mode: string;
        removed: string[];
        changed: unknown[];
        merged: Array<{ path: string }>;
      };
      expect(data).toMatchObject({ mode: 'patch', removed: ['/3/0/7/1'], changed: [] });
      expect(data.merged.map((v) => v.path)).toEqual(Object.keys(deviceState(device, '/3')));
    } finally {
      sse.close();
    }
    // GET .../values: the merged state, each value with its last-changed time
    const values = await server.api<{
      items: Array<{ path: string; receivedAt: string; changedAt: string }>;
    }>('GET', `/api/v1/devices/${ep}/values`);
    const battery = values.body.items.find((v) => v.path === '/3/0/9')!;
    const serial = values.body.items.find((v) => v.path === '/3/0/2')!;
    expect(values.body.items.some((v) => v.path === '/3/0/7/1')).toBe(false);
    expect(Date.parse(battery.changedAt)).toBeGreaterThan(Date.parse(serial.changedAt));
  });

  it('a reordered late patch (an older Observe number) is ignored', async () => {
    const notes = wire
      .notifications()
      .filter((n) => contentFormatOf(n.msg) === ContentFormat.SENML_ETCH_CBOR);
    const old = notes.find((n) => patchOf(device, n.msg).set[0] === '/3/0/9')!;
    const latest = await mergedState(server.api, ep, ids['/3']!);
    // The same observation (token), an Observe number older than the last one, another value.
    const payload = encodeSenmlPatch(
      { set: [{ path: new Lwm2mPath(3, 0, 9), node: singleResource(9, 'integer', 1) }], removed: [] },
      ContentFormat.SENML_ETCH_CBOR,
    );
    const late = encodeMessage({
      ...old.msg,
      type: CoapType.NON,
      messageId: 4242,
      payload,
    });
    await udp.send(late, { address: '127.0.0.1', port: server.coapPort });
    // A newer change after it is applied, the late one never.
    device.tree.setValue('/3/0/10', 77);
    await expectMergedToMatch(server.api, device, ep, ids['/3']!, '/3');
    expect((await mergedState(server.api, ep, ids['/3']!))['/3/0/9']).toBe(latest['/3/0/9']);
    expect(old.msg.options.some((o) => o.number === OptionNumber.OBSERVE)).toBe(true);
  });

  it('a full notification resets the base: a resource the server held but the device no longer has is gone', async () => {
    // A stale resource in the base (as after a missed patch): only a full notification can clear it.
    await server.node.stores.values.put(ep, [{ path: '/3/0/99', type: 'integer', value: 1 }], Date.now());
    expect((await mergedState(server.api, ep, ids['/3']!))['/3/0/99']).toBe(1);
    await device.coap.notify('3'); // the handler's answer: the whole object in SenML CBOR
    await expect
      .poll(async () => (await mergedState(server.api, ep, ids['/3']!))['/3/0/99'], { timeout: 5_000 })
      .toBeUndefined();
    expect(await mergedState(server.api, ep, ids['/3']!)).toEqual(deviceState(device, '/3'));
    expect(contentFormatOf(wire.notifications().at(-1)!.msg)).toBe(ContentFormat.SENML_CBOR);
  });

  it('writes only the changed resources of an instance with iPATCH and SenML-ETCH', async () => {
    const res = await server.api('PUT', `/api/v1/devices/${ep}/data/3/0?replace=false`, {
      values: [{ path: '15', value: 'Europe/Berlin' }],
    });
    expect(res.status).toBe(204);
    expect(device.tree.getValue('/3/0/15')).toBe('Europe/Berlin');
    expect(device.ipatches).toBe(1);
  });
});

describe('partial SenML notifications on an observation declared "patch"', () => {
  const ep = 'patch-senml';
  let device: SimulatedDevice;
  let wire: RecordingTransport;
  let id: string;

  beforeAll(async () => {
    // It declares SenML-ETCH but refuses iPATCH (4.05): the server falls back to POST.
    ({ device, wire } = await startDevice(ep, 'senml', {
      ipatch: false,
      declaredFormats: [ContentFormat.SENML_CBOR, ContentFormat.SENML_ETCH_JSON],
    }));
    id = await observe(ep, '/9/0', 'patch');
  });

  afterAll(async () => {
    await device?.stop();
  });

  it('merges partial SenML CBOR instead of dropping the resources a notification leaves out', async () => {
    const obs = await server.api<{ notifications: string }>(
      'GET',
      `/api/v1/devices/${ep}/observations/${id}`,
    );
    expect(obs.body.notifications).toBe('patch');
    for (let i = 1; i <= 10; i++) {
      device.tree.setValue('/9/0/1', `p${i}`);
      await expectMergedToMatch(server.api, device, ep, id, '/9/0');
    }
    const last = wire.notifications().at(-1)!;
    expect(contentFormatOf(last.msg)).toBe(ContentFormat.SENML_CBOR);
    expect(last.msg.payload.length).toBeLessThan(40);
  });

  it('a device that answers iPATCH with 4.05 gets the partial-update Write (POST)', async () => {
    const res = await server.api('PUT', `/api/v1/devices/${ep}/data/3/0?replace=false`, {
      values: [{ path: '15', value: 'Asia/Tokyo' }],
    });
    expect(res.status).toBe(204);
    expect(device.tree.getValue('/3/0/15')).toBe('Asia/Tokyo');
    expect(device.ipatches).toBe(0);
  });
});

describe('patch notifications of a composite observation', () => {
  const ep = 'patch-composite';
  let device: SimulatedDevice;
  let wire: RecordingTransport;

  beforeAll(async () => {
    ({ device, wire } = await startDevice(ep, 'etch-json'));
  });

  afterAll(async () => {
    await device?.stop();
  });

  it('merges the patches of an Observe-Composite over /3/0 and /9/0', async () => {
    const res = await server.api<{ id: string }>('POST', `/api/v1/devices/${ep}/observations`, {
      paths: ['/3/0', '/9/0'],
    });
    expect(res.status).toBe(201);
    const both = (): Record<string, unknown> => ({
      ...deviceState(device, '/3/0'),
      ...deviceState(device, '/9/0'),
    });
    expect(await mergedState(server.api, ep, res.body.id)).toEqual(both());
    for (let i = 1; i <= 6; i++) {
      const path = changeOne(device, i);
      await expect
        .poll(async () => mergedState(server.api, ep, res.body.id), { timeout: 10_000 })
        .toEqual(both());
      expect(patchOf(device, wire.notifications().at(-1)!.msg)).toEqual({ set: [path], removed: [] });
    }
  });
});
