// Object models end to end (issue 16): the vendored OMNA registry listed through REST, a DDF uploaded by an
// admin (and refused to everyone else, and when malformed, oversized or an entity bomb), a simulated device
// playing the uploaded object, reads that carry resource names and units, writes and executes checked
// against the model before the device is asked, and the object version taken from the registration's "ver".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContentFormat, type ObjectModel, parseDdf, vendoredModelsDir } from '@lwm2m/lwm2m';
import { SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/single-node';
import { widgetDdf } from '../../libs/server/test/contracts/model-store.contract';

const ADMIN = 'adminkey0123456789';
const WRITE = 'writekey0123456789';
const READ = 'readkey01234567890';

let server: TestServer;
const devices: SimulatedDevice[] = [];

beforeAll(async () => {
  server = await startTestServer({ apiKeys: `${ADMIN}:admin,${WRITE}:write,${READ}:read` });
});

afterAll(async () => {
  for (const d of devices) await d.close();
  await server?.stop();
});

interface Answer<T> {
  status: number;
  type: string;
  body: T;
  location: string | null;
}

async function call<T = Record<string, unknown>>(
  method: string,
  path: string,
  opts: { key?: string; body?: string | Buffer; contentType?: string; json?: unknown } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { authorization: `Bearer ${opts.key ?? ADMIN}` };
  let body: string | Buffer | undefined = opts.body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['content-type'] = 'application/json';
  } else if (opts.contentType) headers['content-type'] = opts.contentType;
  const res = await fetch(`${server.http}${path}`, { method, headers, body });
  const text = await res.text();
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    body: (text ? JSON.parse(text) : undefined) as T,
    location: res.headers.get('location'),
  };
}

const upload = (xml: string | Buffer, opts: { key?: string; query?: string; contentType?: string } = {}) =>
  call('POST', `/api/v1/models${opts.query ?? ''}`, {
    body: xml,
    contentType: opts.contentType ?? 'application/xml',
    ...(opts.key ? { key: opts.key } : {}),
  });

async function device(endpoint: string, models: ObjectModel[]): Promise<SimulatedDevice> {
  const dev = new SimulatedDevice({
    endpoint,
    transport: await UdpTransport.bind({ port: 0, address: '127.0.0.1' }),
    server: { address: '127.0.0.1', port: server.coapPort },
    lifetime: 300,
    updateAt: 0,
    sensorIntervalMs: 0,
    // TLV carries no types: what a value is comes from the server's model of the device's object version.
    lwm2mVersion: '1.0',
    contentFormat: ContentFormat.TLV,
    models,
  });
  devices.push(dev);
  await dev.register();
  return dev;
}

type Values = { values: Array<{ path: string; value: unknown; type: string; name?: string; unit?: string }> };
type Problem = { type: string; title: string; status: number; detail: string; path?: string };

describe('GET /api/v1/models', () => {
  it('lists the vendored registry and the built-in tables by id and version, paged', async () => {
    const first = await call<{ items: Array<{ id: number; version: string }>; nextCursor: string }>(
      'GET',
      '/api/v1/models?limit=3',
      { key: READ },
    );
    expect(first.status).toBe(200);
    expect(first.body.items.map((m) => `${m.id}:${m.version}`)).toEqual(['0:1.1', '0:1.2', '1:1.2']);
    expect(first.body.nextCursor).toBe('1:1.2');
    const next = await call<{ items: Array<{ id: number }> }>('GET', '/api/v1/models?limit=1&cursor=1:1.2', {
      key: READ,
    });
    expect(next.body.items.map((m) => m.id)).toEqual([2]);
    let all = 0;
    let cursor: string | null = '';
    while (cursor !== null) {
      const page: Answer<{ items: unknown[]; nextCursor: string | null }> = await call(
        'GET',
        `/api/v1/models?limit=1000${cursor ? `&cursor=${cursor}` : ''}`,
        { key: READ },
      );
      all += page.body.items.length;
      cursor = page.body.nextCursor;
    }
    // 327 registry objects, plus the built-in versions the registry has not (0 1.1, 5 1.1, 6 1.1, 3303 1.0).
    expect(all).toBe(331);
    expect((await call('GET', '/api/v1/models?cursor=x', { key: READ })).status).toBe(400);
  });

  it('shows one model with its resources, any version, and 404 for an unknown one', async () => {
    const t = await call<{
      version: string;
      versions: string[];
      assumedVersion: string;
      resources: Array<{ id: number; name: string; type: string; operations: string }>;
    }>('GET', '/api/v1/models/3303', { key: READ });
    expect(t.status).toBe(200);
    expect(t.body).toMatchObject({ version: '1.1', versions: ['1.0', '1.1'], assumedVersion: '1.0' });
    expect(t.body.resources.find((r) => r.id === 5518)).toMatchObject({ name: 'Timestamp', type: 'time' });
    const old = await call<{ resources: unknown[] }>('GET', '/api/v1/models/3303?version=1.0', { key: READ });
    expect(old.body.resources).toHaveLength(8);
    const battery = await call<{
      resources: Array<{ id: number; units?: string; rangeEnumeration?: string }>;
    }>('GET', '/api/v1/models/3', { key: READ });
    expect(battery.body.resources.find((r) => r.id === 9)).toMatchObject({
      units: '/100',
      rangeEnumeration: '0..100',
    });
    expect((await call('GET', '/api/v1/models/65000', { key: READ })).status).toBe(404);
    expect((await call('GET', '/api/v1/models/3303?version=7.0', { key: READ })).status).toBe(404);
    expect((await call('GET', '/api/v1/models/abc', { key: READ })).status).toBe(400);
    expect((await call('GET', '/api/v1/models/3303?version=x', { key: READ })).status).toBe(400);
  });
});

describe('POST /api/v1/models', () => {
  it('takes a DDF from an admin (201, Location), refuses it again (409) unless replace=true (200)', async () => {
    const made = await upload(widgetDdf('1.0'));
    expect(made.status).toBe(201);
    expect(made.location).toBe('/api/v1/models/32770?version=1.0');
    expect(made.body).toMatchObject({ id: 32770, version: '1.0', name: 'Widget', result: 'added' });
    const again = await upload(widgetDdf('1.0'));
    expect(again.status).toBe(409);
    expect(again.type).toContain('application/problem+json');
    expect(again.body).toMatchObject({ objectId: 32770, version: '1.0' });
    const replaced = await upload(widgetDdf('1.0', 'Level', extraItems), { query: '?replace=true' });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ result: 'replaced', resourceCount: 3 });
    const shown = await call<{ resources: Array<{ id: number }> }>('GET', '/api/v1/models/32770');
    expect(shown.body.resources.map((r) => r.id)).toEqual([1, 2, 3]);
    // Replacing a registry object version must be asked for too.
    const device3 = readFileSync(join(vendoredModelsDir(), '3.xml'));
    expect((await upload(device3, { contentType: 'text/xml' })).status).toBe(409);
  });

  it('refuses read and write keys (403) and no key (401)', async () => {
    for (const key of [READ, WRITE]) {
      const res = await upload(widgetDdf('2.0'), { key });
      expect(res.status).toBe(403);
      expect(res.type).toContain('application/problem+json');
    }
    const anonymous = await fetch(`${server.http}/api/v1/models`, {
      method: 'POST',
      headers: { 'content-type': 'application/xml' },
      body: widgetDdf('2.0'),
    });
    expect(anonymous.status).toBe(401);
    expect((await call('GET', '/api/v1/models/32770?version=2.0')).status).toBe(404);
  });

  it('refuses malformed documents (400), entity bombs (400), huge bodies (413) and other media (415)', async () => {
    const broken = await upload('<LWM2M><Object><Name>x</Name>');
    expect(broken.status).toBe(400);
    expect(broken.body.detail).toMatch(/uploaded DDF: not well-formed XML at line 1/);
    const wrong = await upload(widgetDdf('1.0').replace('<Type>Integer</Type>', '<Type>Decimal</Type>'));
    expect(wrong.status).toBe(400);
    expect(wrong.body.detail).toMatch(/resource 1: Type "Decimal"/);
    const lol = `<!DOCTYPE LWM2M [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>`;
    const bomb = await upload(
      lol + widgetDdf('3.0', '&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;').replace(/^<\?xml[^>]*>/, ''),
    );
    expect(bomb.status).toBe(400);
    expect(bomb.body.detail).toMatch(/DOCTYPE/);
    const huge = await upload(Buffer.alloc(1024 * 1024 + 10, 0x20));
    expect(huge.status).toBe(413);
    expect(huge.type).toContain('application/problem+json');
    const json = await call('POST', '/api/v1/models', { json: { xml: widgetDdf('4.0') } });
    expect(json.status).toBe(415);
    const text = await upload(widgetDdf('4.0'), { contentType: 'text/plain' });
    expect(text.status).toBe(415);
    expect((await call('GET', '/api/v1/models/32770?version=3.0')).status).toBe(404);
  });
});

// Resource 2: read-only, 0..255 bytes; 3: executable (after a replace=true upload above).
const extraItems = `<Item ID="2"><Name>Label</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances>
<Mandatory>Optional</Mandatory><Type>String</Type><RangeEnumeration>0..255 bytes</RangeEnumeration><Units></Units>
<Description>d</Description></Item><Item ID="3"><Name>Reset</Name><Operations>E</Operations>
<MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory><Type></Type><RangeEnumeration></RangeEnumeration>
<Units></Units><Description>d</Description></Item>`;

describe('a device playing an uploaded object', () => {
  it('reads with names and units, and writes and executes only what the model allows', async () => {
    // The upload of the describe above (replace=true) is the model both sides use.
    const widget = parseDdf(widgetDdf('1.0', 'Level', extraItems))[0]!;
    const dev = await device('models-widget', [widget]);
    const read = await call<Values>('GET', '/api/v1/devices/models-widget/data/32770/0', { key: READ });
    expect(read.status).toBe(200);
    expect(read.body.values).toEqual([
      { path: '/32770/0/1', value: 0, type: 'integer', name: 'Level', unit: '%' },
      { path: '/32770/0/2', value: '', type: 'string', name: 'Label' },
    ]);
    const put = (path: string, body: unknown) =>
      call<Problem>('PUT', `/api/v1/devices/models-widget/data${path}`, { key: WRITE, json: body });
    const writesBefore = dev.writes.length;
    const outside = await put('/32770/0/1', { value: 101 });
    expect(outside.status).toBe(400);
    expect(outside.body).toMatchObject({ path: '/32770/0/1' });
    expect(outside.body.detail).toMatch(/101 is outside 0\.\.100/);
    const wrongType = await put('/32770/0/1', { value: 'high' });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.detail).toMatch(/integer/);
    const contradicting = await put('/32770/0/1', { value: 5, type: 'float' });
    expect(contradicting.status).toBe(400);
    const readOnly = await put('/32770/0/2', { value: 'x' });
    expect(readOnly.status).toBe(400);
    expect(readOnly.body).toMatchObject({ path: '/32770/0/2' });
    expect(readOnly.body.detail).toMatch(/not writable/);
    const inComposite = await call<Problem>('PUT', '/api/v1/devices/models-widget/composite', {
      key: WRITE,
      json: { values: [{ path: '/32770/0/1', value: -1 }] },
    });
    expect(inComposite.status).toBe(400);
    expect(dev.writes.length).toBe(writesBefore);

    expect((await put('/32770/0/1', { value: 100 })).status).toBe(204);
    const back = await call<Values>('GET', '/api/v1/devices/models-widget/data/32770/0/1', { key: READ });
    expect(back.body.values).toEqual([
      { path: '/32770/0/1', value: 100, type: 'integer', name: 'Level', unit: '%' },
    ]);

    const exec = (path: string) =>
      call<Problem>('POST', `/api/v1/devices/models-widget/data${path}/execute`, { key: WRITE, json: {} });
    const notExecutable = await exec('/32770/0/1');
    expect(notExecutable.status).toBe(400);
    expect(notExecutable.body.detail).toMatch(/not executable \(operations RW\)/);
    const executionsBefore = dev.executions.length;
    expect((await exec('/32770/0/3')).status).toBe(204);
    expect(dev.executions.slice(executionsBefore).map((e) => e.path)).toEqual(['/32770/0/3']);
  });
});

describe('the object version of the registration', () => {
  it('decodes /3303 as 1.1 for a device that registers </3303>;ver=1.1, as 1.0 for one that states none', async () => {
    const t11 = parseDdf(readFileSync(join(vendoredModelsDir(), '3303.xml')))[0]!;
    // The same resources announced without ver: the server must assume 1.0, which has no 5518.
    const unstated = { ...t11, version: '1.0' };
    const stated = await device('models-3303-v11', [t11]);
    expect(stated.objectLinks()).toContain('</3303>;ver=1.1');
    const plain = await device('models-3303-v10', [unstated]);
    expect(plain.objectLinks()).not.toContain('ver=1.1');

    const v11 = await call<Values>('GET', '/api/v1/devices/models-3303-v11/data/3303/0/5518', { key: READ });
    expect(v11.status).toBe(200);
    expect(v11.body.values[0]).toMatchObject({ type: 'time', name: 'Timestamp' });
    expect(typeof v11.body.values[0]!.value).toBe('number');
    const v10 = await call<Values>('GET', '/api/v1/devices/models-3303-v10/data/3303/0/5518', { key: READ });
    expect(v10.status).toBe(200);
    // Unknown to 3303 1.0: TLV bytes stay opaque, and the value has no name.
    expect(v10.body.values[0]).toMatchObject({ type: 'opaque' });
    expect(v10.body.values[0]).not.toHaveProperty('name');
    // Both know 5700 Sensor Value.
    const sensor = await call<Values>('GET', '/api/v1/devices/models-3303-v10/data/3303/0/5700', {
      key: READ,
    });
    expect(sensor.body.values[0]).toMatchObject({ type: 'float', name: 'Sensor Value' });
  });
});
