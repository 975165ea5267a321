// Issue 13 item 5: device-management defects, each through the whole product (gateway + api + scheduler on a
// real redis-server) with simulated devices over real UDP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContentFormat } from '@lwm2m/lwm2m';
import { SimulatedDevice, type SimulatedDeviceOptions } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { startTestServer, type TestServer } from '../support/single-node';

let server: TestServer;
const devices: SimulatedDevice[] = [];

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await Promise.all(devices.map((d) => d.close()));
  await server?.stop();
});

async function device(
  endpoint: string,
  opts: Partial<SimulatedDeviceOptions> = {},
): Promise<SimulatedDevice> {
  const transport = await UdpTransport.bind({ port: 0, address: '127.0.0.1' });
  const dev = new SimulatedDevice({
    endpoint,
    transport,
    server: { address: '127.0.0.1', port: server.coapPort },
    lifetime: 300,
    sensorIntervalMs: 0,
    observeTickMs: 50,
    updateAt: 0,
    ...opts,
  });
  devices.push(dev);
  await dev.register();
  return dev;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

type Problem = { type: string; title: string; status: number; detail: string; coapCode?: string };

describe('queue mode learns that a device sleeps', () => {
  async function sleeper(ep: string): Promise<SimulatedDevice> {
    // Asleep right after its Register, well inside the server's 93 s awake window (a real battery device).
    const dev = await device(ep, { lwm2mVersion: '1.1', queueMode: true, sleepMs: 3_600_000 });
    dev.sleep();
    return dev;
  }

  it('queues (202 at once) every request after one timed out, and delivers them on the next Update', async () => {
    const ep = 'dm-q-timeout';
    const dev = await sleeper(ep);
    const first = await server.api<Problem>('GET', `/api/v1/devices/${ep}/data/3/0/0?timeout=1s`);
    expect(first.status).toBe(504);
    const started = Date.now();
    const second = await server.api<{ requestId: string }>('GET', `/api/v1/devices/${ep}/data/3/0/0`);
    expect(second.status).toBe(202);
    expect(Date.now() - started).toBeLessThan(2000);
    await dev.wakeUp();
    const done = await waitFor('the queued read', async () => {
      const r = await server.api<{ state: string; result?: { values?: Array<{ value: unknown }> } }>(
        'GET',
        `/api/v1/requests/${second.body.requestId}`,
      );
      return r.body.state === 'succeeded' ? r.body : undefined;
    });
    expect(done.result?.values?.[0]?.value).toBeTypeOf('string');
  });

  it('takes a Send (/dp) from the sleeping device as the sign it is awake', async () => {
    const ep = 'dm-q-send';
    const dev = await sleeper(ep);
    expect((await server.api('GET', `/api/v1/devices/${ep}/data/3/0/0?timeout=1s`)).status).toBe(504);
    const queued = await server.api<{ requestId: string }>('GET', `/api/v1/devices/${ep}/data/3/0/1`);
    expect(queued.status).toBe(202);
    await dev.wakeUp({ update: false }); // radio on, no Update
    expect(await dev.send(['/3/0/0'])).toBeDefined();
    await waitFor('the queued read after a Send', async () => {
      const r = await server.api<{ state: string }>('GET', `/api/v1/requests/${queued.body.requestId}`);
      return r.body.state === 'succeeded' ? true : undefined;
    });
  });
});

describe('?timeout= is a duration', () => {
  it('reads a bare number as seconds, takes units and refuses less than 100 ms', async () => {
    const ep = 'dm-timeout';
    await device(ep);
    expect((await server.api('GET', `/api/v1/devices/${ep}/data/3/0/0?timeout=1`)).status).toBe(200);
    expect((await server.api('GET', `/api/v1/devices/${ep}/data/3/0/0?timeout=2s`)).status).toBe(200);
    expect((await server.api('GET', `/api/v1/devices/${ep}/data/3/0/0?timeout=1500ms`)).status).toBe(200);
    const tooShort = await server.api<Problem>('GET', `/api/v1/devices/${ep}/data/3/0/0?timeout=50ms`);
    expect(tooShort.status).toBe(400);
    expect(tooShort.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(tooShort.body.detail).toMatch(/500ms, 10s or 2m/);
  });
});

describe('observing the same target twice', () => {
  type Created = { id: string; existing: boolean; values: Array<{ path: string }> };

  it('reuses the observation of the same path and of the same composite path set', async () => {
    const ep = 'dm-observe-twice';
    await device(ep, { lwm2mVersion: '1.1', contentFormat: ContentFormat.SENML_CBOR });
    const obs = (body: unknown) => server.api<Created>('POST', `/api/v1/devices/${ep}/observations`, body);
    const first = await obs({ paths: ['/3303/0/5700'] });
    expect(first.status).toBe(201);
    const again = await obs({ paths: ['/3303/0/5700'] });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: first.body.id, existing: true });
    expect(again.body.values.map((v) => v.path)).toEqual(['/3303/0/5700']);

    const composite = await obs({ paths: ['/3/0/0', '/3303/0/5700'] });
    expect(composite.status).toBe(201);
    const sameSet = await obs({ paths: ['/3303/0/5700', '/3/0/0'] });
    expect(sameSet.status).toBe(200);
    expect(sameSet.body.id).toBe(composite.body.id);

    const list = await server.api<{ items: unknown[] }>('GET', `/api/v1/devices/${ep}/observations`);
    expect(list.body.items).toHaveLength(2);
  });
});

const FORMATS = [
  { version: '1.0', format: ContentFormat.TLV, name: 'TLV' },
  { version: '1.1', format: ContentFormat.SENML_JSON, name: 'SenML JSON' },
  { version: '1.1', format: ContentFormat.SENML_CBOR, name: 'SenML CBOR' },
  { version: '1.2', format: ContentFormat.LWM2M_CBOR, name: 'LwM2M CBOR' },
] as const;

describe.each(FORMATS)('Replace of an instance on a $name device', ({ version, format }) => {
  it('keeps the instance readable, with the written values', async () => {
    const ep = `dm-replace-${format}`;
    await device(ep, { lwm2mVersion: version, contentFormat: format, declaredFormats: [format] });
    const put = await server.api<Problem>('PUT', `/api/v1/devices/${ep}/data/3303/0`, {
      values: [{ path: '5750', value: 'Kitchen' }],
    });
    expect(put.status, JSON.stringify(put.body)).toBe(204);
    const put3 = await server.api<Problem>('PUT', `/api/v1/devices/${ep}/data/3/0`, {
      values: [
        { path: '14', value: '+02:00' },
        { path: '15', value: 'Europe/Berlin' },
      ],
    });
    expect(put3.status, JSON.stringify(put3.body)).toBe(204);
    for (const path of ['3303/0', '3303/0/5750', '3/0']) {
      const read = await server.api<{ values: Array<{ path: string; value: unknown }> } & Problem>(
        'GET',
        `/api/v1/devices/${ep}/data/${path}`,
      );
      expect(read.status, `${path}: ${JSON.stringify(read.body)}`).toBe(200);
    }
    const inst = await server.api<{ values: Array<{ path: string; value: unknown }> }>(
      'GET',
      `/api/v1/devices/${ep}/data/3303/0`,
    );
    expect(inst.body.values).toContainEqual(
      expect.objectContaining({ path: '/3303/0/5750', value: 'Kitchen' }),
    );
  });
});

describe('error titles', () => {
  it('are the HTTP status title, with the CoAP code as its own member', async () => {
    const ep = 'dm-titles';
    await device(ep);
    const missing = await server.api<Problem>('GET', `/api/v1/devices/${ep}/data/3/0/999`);
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ title: 'Not Found', coapCode: '4.04' });
    // A Read of an executable resource: the device's 4.05 (the object model refuses writes of read-only
    // resources itself, before the device is asked: 400 without a CoAP code).
    const notAllowed = await server.api<Problem>('GET', `/api/v1/devices/${ep}/data/3/0/4`);
    expect(notAllowed.status).toBe(405);
    expect(notAllowed.body).toMatchObject({ title: 'Method Not Allowed', coapCode: '4.05' });
    const readOnly = await server.api<Problem>('PUT', `/api/v1/devices/${ep}/data/3/0/0`, { value: 'x' });
    expect(readOnly.status).toBe(400);
    expect(readOnly.body).not.toHaveProperty('coapCode');
  });
});

async function raw(method: string, path: string, body: string | Buffer, contentType?: string) {
  const res = await fetch(`${server.http}${path}`, {
    method,
    headers: contentType ? { 'content-type': contentType } : {},
    body,
  });
  const text = await res.text();
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    body: text ? JSON.parse(text) : undefined,
  };
}

describe('large values and request bodies', () => {
  it('writes a 100,000-character string (block-wise to the device) and reads it back', async () => {
    const ep = 'dm-large';
    await device(ep, { lwm2mVersion: '1.1', contentFormat: ContentFormat.SENML_CBOR });
    const long = 'x'.repeat(100_000);
    const put = await server.api<Problem>('PUT', `/api/v1/devices/${ep}/data/3/0/15`, { value: long });
    expect(put.status, JSON.stringify(put.body)).toBe(204);
    const read = await server.api<{ values: Array<{ value: string }> }>(
      'GET',
      `/api/v1/devices/${ep}/data/3/0/15`,
    );
    expect(read.body.values[0].value).toHaveLength(100_000);
  });

  it('takes an opaque value as raw bytes up to the body limit, 413 problem+json beyond', async () => {
    const ep = 'dm-opaque';
    await device(ep, { lwm2mVersion: '1.1', contentFormat: ContentFormat.SENML_CBOR });
    // /5/0/0 Firmware Package is opaque; the simulator has no object 5, so the device itself answers 4.04.
    const bytes = await raw(
      'PUT',
      `/api/v1/devices/${ep}/data/5/0/0`,
      Buffer.alloc(300_000, 7),
      'application/octet-stream',
    );
    expect(bytes.status, JSON.stringify(bytes.body)).toBe(404);
    expect(bytes.body).toMatchObject({ coapCode: '4.04' });
    const base64 = await server.api<Problem>('PUT', `/api/v1/devices/${ep}/data/5/0/0`, {
      value: Buffer.alloc(200_000, 1).toString('base64'),
    });
    expect(base64.status).toBe(404);
    const tooLarge = await raw(
      'PUT',
      `/api/v1/devices/${ep}/data/5/0/0`,
      Buffer.alloc(2_000_000),
      'application/octet-stream',
    );
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.type).toMatch(/application\/problem\+json/);
    expect(tooLarge.body).toMatchObject({ status: 413, title: 'Content Too Large' });
    const notOpaque = await raw(
      'PUT',
      `/api/v1/devices/${ep}/data/3/0/15`,
      Buffer.from('abc'),
      'application/octet-stream',
    );
    expect(notOpaque.status).toBe(400);
    expect(notOpaque.body.detail).toMatch(/contradicts the object model/);
  });

  it('answers 415 problem+json for a body without or with a wrong Content-Type, 400 for a type the model contradicts', async () => {
    const ep = 'dm-content-type';
    await device(ep);
    const json = JSON.stringify({ value: 'Europe/Rome' });
    const none = await raw('PUT', `/api/v1/devices/${ep}/data/3/0/15`, json);
    expect(none.status).toBe(415);
    expect(none.type).toMatch(/application\/problem\+json/);
    const text = await raw('PUT', `/api/v1/devices/${ep}/data/3/0/15`, json, 'text/plain');
    expect(text.status).toBe(415);
    expect(text.body.detail).toMatch(/application\/json/);
    const observe = await raw(
      'POST',
      `/api/v1/devices/${ep}/observations`,
      '{"paths":["/3/0/9"]}',
      'application/x-www-form-urlencoded',
    );
    expect(observe.status).toBe(415);
    const wrongType = await server.api<Problem>('PUT', `/api/v1/devices/${ep}/data/3/0/15`, {
      value: '5',
      type: 'integer',
    });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.detail).toMatch(/type "integer" contradicts the object model, which says string/);
    expect(
      (await server.api('PUT', `/api/v1/devices/${ep}/data/3/0/15`, { value: 'Europe/Rome', type: 'string' }))
        .status,
    ).toBe(204);
  });
});

describe('configuration of npm start', () => {
  it('names every bad variable of every app it runs, then exits non-zero', async () => {
    const { spawnSync } = await import('node:child_process');
    const bad = {
      COAP_PORT: 'abc', // gateway
      SSE_MAX_STREAMS: '0', // api
      RETRY_BACKOFF_MS: 'x', // scheduler
      MULTICAST_GROUP_ADDR: '10.0.0.1', // group-observer
      LOG_LEVEL: 'loud',
    };
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'apps/server/src/main.ts'], {
      cwd: `${__dirname}/../..`,
      env: { ...process.env, ...bad, REDIS_URL: '', DATA_DIR: '/nonexistent/never-used' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).not.toBe(0);
    for (const name of Object.keys(bad)) expect(run.stderr).toContain(name);
  });
});

describe('admin de-register', () => {
  it('removes the registration, cancels its observations, emits deregistered (operator) and is audited; admin keys only', async () => {
    const ADMIN = 'admin-key-0123456789';
    const WRITER = 'writer-key-0123456789';
    const keyed = await startTestServer({ apiKeys: `boss=${ADMIN}:admin,bot=${WRITER}:write` });
    const transport = await UdpTransport.bind({ port: 0, address: '127.0.0.1' });
    const dev = new SimulatedDevice({
      endpoint: 'dm-kick',
      transport,
      server: { address: '127.0.0.1', port: keyed.coapPort },
      lifetime: 300,
      sensorIntervalMs: 0,
      observeTickMs: 50,
      updateAt: 0,
    });
    const call = async (method: string, path: string, key: string, body?: unknown) => {
      const res = await fetch(`${keyed.http}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    };
    try {
      await dev.register();
      const obs = await call('POST', '/api/v1/devices/dm-kick/observations', WRITER, { paths: ['/3/0/9'] });
      expect(obs.status).toBe(201);
      expect((await call('DELETE', '/api/v1/devices/dm-kick', WRITER)).status).toBe(403);
      expect((await call('DELETE', '/api/v1/devices/dm-kick', ADMIN)).status).toBe(204);
      expect((await call('GET', '/api/v1/devices/dm-kick', ADMIN)).status).toBe(404);
      expect((await call('DELETE', '/api/v1/devices/dm-kick', ADMIN)).status).toBe(404);
      const events = await keyed.node.stores.events.recent(20, 'dm-kick');
      expect(events.find((e) => e.type === 'deregistered')).toMatchObject({ reason: 'operator' });
      expect(await keyed.node.stores.observations.listByEndpoint('dm-kick')).toEqual([]);
      const audit = await call('GET', '/api/v1/audit?endpoint=dm-kick', ADMIN);
      const entries = audit.body.items as Array<{ action: string; actor: string }>;
      expect(entries).toContainEqual(expect.objectContaining({ action: 'deregister', actor: 'boss' }));
      // Its observation is gone with it: a registration of the same endpoint starts with none.
      await dev.register();
      const list = await call('GET', '/api/v1/devices/dm-kick/observations', ADMIN);
      expect(list.body.items).toEqual([]);
    } finally {
      await dev.close();
      await keyed.stop();
    }
  });
});

describe('the OpenAPI document of npm start', () => {
  it('validates as OpenAPI 3 and documents what the issue found missing', async () => {
    const { Validator } = await import('@seriousme/openapi-schema-validator');
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a JSON document walked by key
    const doc = (await server.api<Record<string, any>>('GET', '/api/docs-json')).body;
    const result = await new Validator().validate(doc);
    expect(result.errors ?? [], JSON.stringify(result.errors)).toEqual([]);
    expect(result.valid).toBe(true);
    // No dangling reference.
    for (const ref of JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) {
      expect(doc.components.schemas, ref[1]).toHaveProperty(ref[1]);
    }
    expect(doc.paths['/readyz'].get.responses).toHaveProperty('200');
    expect(doc.components.securitySchemes.bearer).toMatchObject({
      scheme: 'bearer',
      bearerFormat: 'API key',
    });
    expect(doc.paths['/api/v1/devices/{endpoint}/data/{path}/execute'].post.requestBody.required).toBe(false);
    expect(doc.paths['/metrics'].get.responses).toHaveProperty('200');
    expect(doc.paths).toHaveProperty(['/api/v1/topics/{name}']);
    expect(doc.paths['/api/v1/devices/{endpoint}'].delete).toBeDefined();
    expect(JSON.stringify(doc.paths['/api/v1/devices/{endpoint}/data/{path}'].get.parameters)).toMatch(
      /500ms, 10s, 2m/,
    );
  });

  it('takes an Execute without a body', async () => {
    const ep = 'dm-exec';
    await device(ep);
    const res = await fetch(`${server.http}/api/v1/devices/${ep}/data/3/0/4/execute`, { method: 'POST' });
    expect(res.status).toBe(204);
  });
});
