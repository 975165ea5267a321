// The device routes of issue 3 against in-memory ports, with the device side scripted per test.
import type { DeviceCommand, DeviceCommandResult } from '@lwm2m/server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fakePorts, registration } from './fakes';

interface DeviceItem {
  endpoint: string;
}
import { startApi, type TestApi } from './harness';

const ports = fakePorts();
let api: TestApi;
const ok =
  (over: Partial<DeviceCommandResult> = {}) =>
  (cmd: DeviceCommand) => ({ id: cmd.id, ok: true, status: 200, ...over });

beforeAll(async () => {
  api = await startApi(ports);
  for (const ep of ['dev1', 'dev2', 'sensor-a', 'urn:imei:490154203237518']) {
    await ports.registrations.register(registration(ep));
  }
});
afterAll(() => api.close());
beforeEach(() => {
  ports.commands.commands.length = 0;
  ports.commands.handler = ok();
  ports.commands.fail = undefined;
});

function expectProblem(
  r: { status: number; headers: Headers; body: Record<string, unknown> },
  status: number,
  type?: string,
) {
  expect(r.status).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(r.body).toMatchObject({ status, title: expect.any(String), instance: expect.any(String) });
  if (type) expect(r.body.type).toBe(type);
}

describe('GET /api/v1/devices', () => {
  it('lists registrations with ISO timestamps and ip:port addresses', async () => {
    const r = await api.call('GET', '/api/v1/devices');
    expect(r.status).toBe(200);
    expect(r.body.nextCursor).toBeNull();
    expect(r.body.items).toHaveLength(4);
    expect(r.body.items[0]).toEqual({
      endpoint: 'dev1',
      registrationId: 'reg-dev1',
      lwm2mVersion: '1.1',
      binding: 'U',
      lifetime: 300,
      queueMode: false,
      address: '192.0.2.1:56830',
      registeredAt: '2025-01-01T12:00:00.000Z',
      lastSeen: '2025-01-01T12:00:01.000Z',
      objectLinks: [
        { path: '/1/0', attributes: {} },
        { path: '/3/0', attributes: {} },
        { path: '/3303', attributes: { ver: '1.1' } },
      ],
      expiresAt: '2025-01-01T12:05:00.000Z',
      security: 'nosec',
      // Its lifetime passed long ago (the fixture's clock is 2025): expiry is pending.
      state: 'offline',
    });
  });

  it('pages with limit and the returned cursor', async () => {
    const first = await api.call('GET', '/api/v1/devices?limit=3');
    expect(first.body.items.map((d: DeviceItem) => d.endpoint)).toEqual(['dev1', 'dev2', 'sensor-a']);
    expect(first.body.nextCursor).toBe('sensor-a');
    const second = await api.call('GET', `/api/v1/devices?limit=3&cursor=${first.body.nextCursor}`);
    expect(second.body.items.map((d: DeviceItem) => d.endpoint)).toEqual(['urn:imei:490154203237518']);
    expect(second.body.nextCursor).toBeNull();
  });

  it('filters by a substring of the endpoint with q', async () => {
    const r = await api.call('GET', '/api/v1/devices?q=dev');
    expect(r.body.items.map((d: DeviceItem) => d.endpoint)).toEqual(['dev1', 'dev2']);
  });

  it.each(['limit=0', 'limit=1001', 'limit=abc', 'limit=1.5', 'other=1'])(
    'refuses %s with a 400 problem',
    async (q) => {
      expectProblem(
        await api.call('GET', `/api/v1/devices?${q}`),
        400,
        'urn:lwm2m-cluster:problem:validation',
      );
    },
  );

  it('writes IPv6 addresses in brackets', async () => {
    await ports.registrations.register(
      registration('v6', { address: { address: '2001:db8::1', port: 5683 } }),
    );
    const r = await api.call('GET', '/api/v1/devices/v6');
    expect(r.body.address).toBe('[2001:db8::1]:5683');
    await ports.registrations.deregister('reg-v6');
  });
});

describe('GET /api/v1/devices: fleet-wide counts by state', () => {
  it('counts the whole fleet by state on every page, whatever q', async () => {
    const own = fakePorts();
    const now = Date.now();
    const add = (ep: string, over: Parameters<typeof registration>[1]) =>
      own.registrations.register(registration(ep, over));
    for (let i = 0; i < 4; i++) await add(`on-${i}`, { lastSeen: now, expiresAt: now + 600_000 });
    for (let i = 0; i < 3; i++)
      await add(`zz-${i}`, { queueMode: true, lastSeen: now - 600_000, expiresAt: now + 600_000 });
    for (let i = 0; i < 2; i++) await add(`off-${i}`, { lastSeen: now - 900_000, expiresAt: now - 1000 });
    const ownApi = await startApi(own);
    try {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const r = await ownApi.call(
          'GET',
          `/api/v1/devices?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        expect(r.status).toBe(200);
        expect(r.body.items.length).toBeLessThanOrEqual(2);
        expect(r.body.states).toEqual({ online: 4, asleep: 3, offline: 2 });
        expect(Date.parse(r.body.statesAt)).toBeGreaterThan(0);
        seen.push(...(r.body.items as DeviceItem[]).map((d) => d.endpoint));
        cursor = r.body.nextCursor;
      } while (cursor);
      expect(seen).toHaveLength(9);
      const filtered = await ownApi.call('GET', '/api/v1/devices?q=zz-&limit=1');
      expect(filtered.body.items).toHaveLength(1);
      expect(filtered.body.states).toEqual({ online: 4, asleep: 3, offline: 2 });
    } finally {
      await ownApi.close();
    }
  });
});

describe('GET /api/v1/devices/{endpoint}', () => {
  it('returns the registration with its details', async () => {
    const r = await api.call('GET', '/api/v1/devices/urn:imei:490154203237518');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      endpoint: 'urn:imei:490154203237518',
      expiresAt: '2025-01-01T12:05:00.000Z',
      supportedContentFormats: [110, 112],
      security: 'nosec',
      rootPath: '/',
    });
    expect(r.body).not.toHaveProperty('peerKey');
  });

  it('answers 404 problem+json for an endpoint that is not registered', async () => {
    const r = await api.call('GET', '/api/v1/devices/ghost');
    expectProblem(r, 404, 'urn:lwm2m-cluster:problem:unknown-device');
    expect(r.body.instance).toBe('/api/v1/devices/ghost');
  });
});

describe('Read: GET .../data/{path}', () => {
  it('puts a read command on the bus and returns the values the device sent', async () => {
    ports.commands.handler = ok({
      contentFormat: 110,
      coapCode: '2.05',
      values: [{ path: '/3/0/0', value: 'Open Mobile Alliance', type: 'string' }],
    });
    const r = await api.call('GET', '/api/v1/devices/dev1/data/3/0');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      path: '/3/0',
      // The resource's name from the object model (Device 1.2 has no unit for it).
      values: [{ path: '/3/0/0', value: 'Open Mobile Alliance', type: 'string', name: 'Manufacturer' }],
      contentFormat: 110,
    });
    const cmd = ports.commands.last;
    expect(cmd).toMatchObject({ op: 'read', endpoint: 'dev1', path: '/3/0', timeoutMs: 10000 });
    expect(cmd.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(cmd.contentFormat).toBeUndefined();
  });

  it.each([
    ['tlv', 11542],
    ['senml-json', 110],
    ['senml-cbor', 112],
    ['lwm2m-cbor', 11544],
    ['text', 0],
    ['11543', 11543],
  ])('passes ?format=%s as Content-Format %d', async (format, number) => {
    await api.call('GET', `/api/v1/devices/dev1/data/3/0/1?format=${format}&timeout=2500ms`);
    expect(ports.commands.last).toMatchObject({ contentFormat: number, timeoutMs: 2500 });
  });

  it.each(['3/x', '3/0/1/2/3', '70000', '3/0/', '-1'])(
    'refuses the path %s with a 400 problem',
    async (path) => {
      const r = await api.call('GET', `/api/v1/devices/dev1/data/${path}`);
      expectProblem(r, 400, 'urn:lwm2m-cluster:problem:invalid-path');
      expect(ports.commands.commands).toHaveLength(0);
    },
  );

  it.each([
    ['2', 2000],
    ['0.5', 500],
    ['100ms', 100],
    ['10s', 10_000],
    ['2m', 120_000],
  ])('reads ?timeout=%s as %d ms (a bare number is seconds)', async (timeout, ms) => {
    await api.call('GET', `/api/v1/devices/dev1/data/3/0/1?timeout=${timeout}`);
    expect(ports.commands.last).toMatchObject({ timeoutMs: ms });
  });

  it.each([
    'format=xml',
    'format=70000',
    'timeout=0',
    'timeout=1ms',
    'timeout=99ms',
    'timeout=301',
    'timeout=10h',
    'timeout=soon',
  ])('refuses ?%s with a 400 problem', async (q) => {
    expectProblem(await api.call('GET', `/api/v1/devices/dev1/data/3/0?${q}`), 400);
  });

  it('answers 404 for an unknown device without asking the bus', async () => {
    expectProblem(
      await api.call('GET', '/api/v1/devices/ghost/data/3/0'),
      404,
      'urn:lwm2m-cluster:problem:unknown-device',
    );
    expect(ports.commands.commands).toHaveLength(0);
  });

  it('answers 504 when the device does not answer in time', async () => {
    ports.commands.handler = (cmd) => ({
      id: cmd.id,
      ok: false,
      status: 504,
      error: 'no response within 100 ms',
    });
    const r = await api.call('GET', '/api/v1/devices/dev1/data/3/0?timeout=100ms');
    expectProblem(r, 504, 'urn:lwm2m-cluster:problem:device-timeout');
    expect(r.body).toMatchObject({
      detail: 'no response within 100 ms',
      endpoint: 'dev1',
      requestId: ports.commands.last.id,
    });
  });

  it('answers 404 with the CoAP code when the device answers 4.04', async () => {
    ports.commands.handler = (cmd) => ({ id: cmd.id, ok: false, status: 404, coapCode: '4.04' });
    const r = await api.call('GET', '/api/v1/devices/dev1/data/3/0/99');
    expectProblem(r, 404, 'urn:lwm2m-cluster:problem:device-error');
    expect(r.body.coapCode).toBe('4.04');
    expect(r.body.title).toBe('Not Found');
  });

  it('answers 404 unknown-device when the bus reports the endpoint gone', async () => {
    ports.commands.handler = (cmd) => ({ id: cmd.id, ok: false, status: 404, error: 'not registered' });
    expectProblem(
      await api.call('GET', '/api/v1/devices/dev1/data/3/0'),
      404,
      'urn:lwm2m-cluster:problem:unknown-device',
    );
  });

  it.each([
    ['4.05', 405],
    ['4.06', 406],
    ['4.01', 403],
    ['5.00', 502],
  ])('maps the device answer %s to HTTP %d', async (coapCode, status) => {
    ports.commands.handler = (cmd) => ({ id: cmd.id, ok: false, status, coapCode });
    expectProblem(await api.call('GET', '/api/v1/devices/dev1/data/3/0'), status);
  });

  it('answers 503 when the command bus itself fails', async () => {
    ports.commands.fail = new Error('redis down');
    const r = await api.call('GET', '/api/v1/devices/dev1/data/3/0');
    expectProblem(r, 503);
    expect(r.text).not.toContain('redis down');
  });

  it('answers 202 with the request id when the command is only queued', async () => {
    ports.commands.handler = ok({ status: 202 });
    const r = await api.call('PUT', '/api/v1/devices/dev1/data/1/0/1', { body: { value: 600 } });
    expect(r.status).toBe(202);
    expect(r.body).toEqual({ requestId: ports.commands.last.id });
  });
});

describe('Write: PUT .../data/{path}', () => {
  it('writes one value, typed from the object model, as a replace', async () => {
    ports.commands.handler = ok({ status: 204, coapCode: '2.04' });
    const r = await api.call('PUT', '/api/v1/devices/dev1/data/1/0/1', { body: { value: 600 } });
    expect(r.status).toBe(204);
    expect(r.text).toBe('');
    expect(ports.commands.last).toMatchObject({
      op: 'write',
      path: '/1/0/1',
      replace: true,
      values: [{ path: '/1/0/1', value: 600, type: 'unsigned' }],
    });
  });

  it('writes several values with relative and absolute paths, partially with ?replace=false', async () => {
    const r = await api.call('PUT', '/api/v1/devices/dev1/data/3/0?replace=false', {
      body: {
        values: [
          { path: '14', value: '+02:00' },
          { path: '/3/0/15', value: 'Europe/Paris', type: 'string' },
        ],
      },
    });
    expect(r.status).toBe(204);
    expect(ports.commands.last).toMatchObject({
      op: 'write',
      path: '/3/0',
      replace: false,
      values: [
        { path: '/3/0/14', value: '+02:00', type: 'string' },
        { path: '/3/0/15', value: 'Europe/Paris', type: 'string' },
      ],
    });
  });

  it('takes the type of an unknown resource from the request', async () => {
    await api.call('PUT', '/api/v1/devices/dev1/data/33000/0/1', { body: { value: 'AQI=', type: 'opaque' } });
    expect(ports.commands.last.values).toEqual([{ path: '/33000/0/1', value: 'AQI=', type: 'opaque' }]);
  });

  it.each([
    ['neither value nor values', {}],
    ['both value and values', { value: 1, values: [{ value: 2 }] }],
    ['an unknown field', { value: 1, colour: 'red' }],
    ['an object as value', { value: { a: 1 } }],
    ['a string for an integer resource', { value: 'six hundred' }],
    ['an unknown type', { value: 1, type: 'decimal' }],
    ['an empty list', { values: [] }],
    ['a path outside the target', { values: [{ path: '/3/0/1', value: 'x' }] }],
    ['a bad item path', { values: [{ path: 'x/y', value: 'x' }] }],
  ])('refuses %s with a 400 problem', async (_what, body) => {
    const r = await api.call('PUT', '/api/v1/devices/dev1/data/1/0/1', { body });
    expectProblem(r, 400);
    expect(ports.commands.commands).toHaveLength(0);
  });

  it('refuses a body that is not JSON with a 400 problem', async () => {
    expectProblem(await api.call('PUT', '/api/v1/devices/dev1/data/1/0/1', { raw: '{"value":' }), 400);
  });

  it('passes 4.05 Method Not Allowed from the device as 405', async () => {
    ports.commands.handler = (cmd) => ({ id: cmd.id, ok: false, status: 405, coapCode: '4.05' });
    // Timezone is writable in the model; the device refuses it anyway.
    expectProblem(await api.call('PUT', '/api/v1/devices/dev1/data/3/0/15', { body: { value: 'x' } }), 405);
  });

  it('refuses what the object model refuses before the device is asked (400 with the path)', async () => {
    const before = ports.commands.last;
    const cases: Array<[string, unknown, RegExp]> = [
      ['/3/0/0', { value: 'x' }, /"Manufacturer" is not writable \(operations R\)/],
      ['/3/0/13', { value: 'yesterday' }, /time value must be/],
      ['/1/0/2', { value: 1.5 }, /integer value must be an integer/],
      ['/1/0/26', { value: 2 }, /2 is outside 0\.\.1/],
      ['/1/0/27', { value: 256 }, /256 is outside 0\.\.255/],
    ];
    for (const [path, body, detail] of cases) {
      const r = await api.call('PUT', `/api/v1/devices/dev1/data${path}`, { body });
      expectProblem(r, 400);
      expect(r.body.detail, path).toMatch(detail);
    }
    const exec = await api.call('POST', '/api/v1/devices/dev1/data/3/0/13/execute', { body: {} });
    expectProblem(exec, 400);
    expect(exec.body).toMatchObject({ path: '/3/0/13' });
    expect(ports.commands.last).toBe(before);
  });
});

describe('Execute: POST .../data/{path}/execute', () => {
  it('executes a resource with arguments', async () => {
    const r = await api.call('POST', '/api/v1/devices/dev1/data/3/0/4/execute', {
      body: { args: "0='now',1" },
    });
    expect(r.status).toBe(204);
    expect(ports.commands.last).toMatchObject({ op: 'execute', path: '/3/0/4', args: "0='now',1" });
  });

  it('executes without a body', async () => {
    const r = await api.call('POST', '/api/v1/devices/dev1/data/3/0/4/execute');
    expect(r.status).toBe(204);
    expect(ports.commands.last.args).toBeUndefined();
  });

  it.each([
    ['malformed arguments', '3/0/4', { args: 'reboot now' }],
    ['a non-resource path', '3/0', {}],
    ['a resource instance path', '3/0/4/1', {}],
  ])('refuses %s with a 400 problem', async (_what, path, body) => {
    expectProblem(await api.call('POST', `/api/v1/devices/dev1/data/${path}/execute`, { body }), 400);
  });
});

describe('Create: POST .../data/{objectId}', () => {
  it('creates an instance with a given id and answers 201 with its location', async () => {
    ports.commands.handler = ok({ status: 201, coapCode: '2.01', location: '/3303/1' });
    const r = await api.call('POST', '/api/v1/devices/dev1/data/3303', {
      body: { instanceId: 1, values: [{ path: '5700', value: 21.5 }] },
    });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({ path: '/3303/1' });
    expect(r.headers.get('location')).toBe('/api/v1/devices/dev1/data/3303/1');
    expect(ports.commands.last).toMatchObject({
      op: 'create',
      path: '/3303/1',
      values: [{ path: '/3303/1/5700', value: 21.5, type: 'float' }],
    });
  });

  it('lets the device pick the instance id when none is given', async () => {
    ports.commands.handler = ok({ status: 201, location: '/3303/7' });
    const r = await api.call('POST', '/api/v1/devices/dev1/data/3303', {
      body: { values: [{ path: '5700', value: 1 }] },
    });
    expect(r.status).toBe(201);
    expect(r.headers.get('location')).toBe('/api/v1/devices/dev1/data/3303/7');
    expect(ports.commands.last.path).toBe('/3303');
  });

  it.each([
    ['a bad object id', 'abc', { values: [] }],
    ['an instance id out of range', '3303', { values: [], instanceId: 65535 }],
    ['missing values', '3303', {}],
  ])('refuses %s with a 400 problem', async (_what, object, body) => {
    expectProblem(await api.call('POST', `/api/v1/devices/dev1/data/${object}`, { body }), 400);
  });
});

describe('Delete, Discover and Write-Attributes', () => {
  it('deletes an instance', async () => {
    ports.commands.handler = ok({ status: 204, coapCode: '2.02' });
    const r = await api.call('DELETE', '/api/v1/devices/dev1/data/3303/1');
    expect(r.status).toBe(204);
    expect(ports.commands.last).toMatchObject({ op: 'delete', path: '/3303/1' });
  });

  it('discovers and returns the link list raw and parsed', async () => {
    ports.commands.handler = ok({ links: '</3/0>,</3/0/1>,</3/0/7>;dim=8;pmin=10', contentFormat: 40 });
    const r = await api.call('GET', '/api/v1/devices/dev1/discover/3/0');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      path: '/3/0',
      links: '</3/0>,</3/0/1>,</3/0/7>;dim=8;pmin=10',
      items: [
        { path: '/3/0', attributes: {} },
        { path: '/3/0/1', attributes: {} },
        { path: '/3/0/7', attributes: { dim: '8', pmin: '10' } },
      ],
    });
    expect(ports.commands.last).toMatchObject({ op: 'discover', path: '/3/0' });
  });

  it('writes notification attributes, null removing one', async () => {
    const r = await api.call('PUT', '/api/v1/devices/dev1/attributes/3303/0/5700', {
      body: { pmin: 10, pmax: 60, st: 0.5, gt: null },
    });
    expect(r.status).toBe(204);
    expect(ports.commands.last).toMatchObject({
      op: 'write-attributes',
      path: '/3303/0/5700',
      attributes: { pmin: 10, pmax: 60, st: 0.5, gt: null },
    });
  });

  it.each([
    ['no attribute', {}],
    ['an unknown attribute', { pmin: 1, foo: 2 }],
    ['a negative period', { pmin: -1 }],
    ['a text period', { pmax: '60' }],
  ])('refuses %s with a 400 problem', async (_what, body) => {
    expectProblem(await api.call('PUT', '/api/v1/devices/dev1/attributes/3/0/9', { body }), 400);
  });
});

describe('Observations', () => {
  it('starts an Observe for one path and answers 201 with the id', async () => {
    ports.commands.handler = ok({
      observationId: 'obs-1',
      contentFormat: 110,
      values: [{ path: '/3303/0/5700', value: 21, type: 'float' }],
    });
    const r = await api.call('POST', '/api/v1/devices/dev1/observations', {
      body: { paths: ['3303/0/5700'] },
    });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({
      id: 'obs-1',
      paths: ['/3303/0/5700'],
      values: [{ path: '/3303/0/5700', value: 21, type: 'float', name: 'Sensor Value' }],
      contentFormat: 110,
      existing: false,
    });
    expect(r.headers.get('location')).toBe('/api/v1/devices/dev1/observations/obs-1');
    expect(ports.commands.last).toMatchObject({ op: 'observe', path: '/3303/0/5700' });
  });

  it('starts an Observe-Composite for several paths', async () => {
    ports.commands.handler = ok({ observationId: 'obs-2' });
    const r = await api.call('POST', '/api/v1/devices/dev1/observations', {
      body: { paths: ['/3303/0/5700', '/3/0/9'] },
    });
    expect(r.status).toBe(201);
    expect(ports.commands.last).toMatchObject({ op: 'observe-composite', paths: ['/3303/0/5700', '/3/0/9'] });
  });

  it.each([
    ['no paths', {}],
    ['an empty list', { paths: [] }],
    ['a bad path', { paths: ['/3/a'] }],
    ['an unknown notifications mode', { paths: ['/3/0'], notifications: 'diff' }],
  ])('refuses %s with a 400 problem', async (_what, body) => {
    expectProblem(await api.call('POST', '/api/v1/devices/dev1/observations', { body }), 400);
  });

  it('passes notifications "patch" on to the Observe command (issue 19)', async () => {
    ports.commands.handler = ok({ observationId: 'obs-p' });
    const r = await api.call('POST', '/api/v1/devices/dev1/observations', {
      body: { paths: ['/3/0'], notifications: 'patch' },
    });
    expect(r.status).toBe(201);
    expect(ports.commands.last).toMatchObject({ op: 'observe', path: '/3/0', notifications: 'patch' });
  });

  it('shows one observation, with its merged state on request', async () => {
    await ports.observations.add({
      id: 'obs-m',
      endpoint: 'dev2',
      registrationId: 'reg-dev2',
      token: '0c0d',
      paths: ['/3/0'],
      composite: false,
      createdAt: Date.UTC(2025, 0, 2),
      notifications: 'patch',
    });
    await ports.values.put(
      'dev2',
      [
        { path: '/3/0/9', value: 80, type: 'integer' },
        { path: '/3303/0/5700', value: 22.5, type: 'float' },
      ],
      Date.UTC(2025, 0, 1),
    );
    const plain = await api.call('GET', '/api/v1/devices/dev2/observations/obs-m');
    expect(plain.status).toBe(200);
    expect(plain.body).toMatchObject({ id: 'obs-m', notifications: 'patch' });
    expect(plain.body).not.toHaveProperty('merged');
    const merged = await api.call('GET', '/api/v1/devices/dev2/observations/obs-m?merged=true');
    expect(merged.body.merged).toEqual([
      {
        path: '/3/0/9',
        value: 80,
        type: 'integer',
        receivedAt: '2025-01-01T00:00:00.000Z',
        changedAt: '2025-01-01T00:00:00.000Z',
      },
    ]);
    expectProblem(await api.call('GET', '/api/v1/devices/dev2/observations/obs-m?merged=maybe'), 400);
    expectProblem(await api.call('GET', '/api/v1/devices/dev2/observations/nope'), 404);
    expectProblem(await api.call('GET', '/api/v1/devices/dev1/observations/obs-m'), 404);
    await ports.observations.remove('obs-m');
    await ports.values.clear('dev2');
  });

  it('lists the observations of a device from the store', async () => {
    await ports.observations.add({
      id: 'obs-9',
      endpoint: 'dev2',
      registrationId: 'reg-dev2',
      token: '0a0b',
      paths: ['/3303/0/5700'],
      composite: false,
      contentFormat: 112,
      createdAt: Date.UTC(2025, 0, 2),
    });
    const r = await api.call('GET', '/api/v1/devices/dev2/observations');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      items: [
        {
          id: 'obs-9',
          paths: ['/3303/0/5700'],
          composite: false,
          contentFormat: 112,
          createdAt: '2025-01-02T00:00:00.000Z',
          notifications: 'full',
        },
      ],
    });
    expectProblem(await api.call('GET', '/api/v1/devices/ghost/observations'), 404);
  });

  it('cancels an observation by id', async () => {
    const r = await api.call('DELETE', '/api/v1/devices/dev2/observations/obs-9');
    expect(r.status).toBe(204);
    expect(ports.commands.last).toMatchObject({
      op: 'cancel-observation',
      endpoint: 'dev2',
      observationId: 'obs-9',
      path: '/3303/0/5700',
    });
  });

  it('answers 404 for an observation it does not know or of another device', async () => {
    const r = await api.call('DELETE', '/api/v1/devices/dev1/observations/obs-9');
    expectProblem(r, 404, 'urn:lwm2m-cluster:problem:unknown-observation');
    expectProblem(await api.call('DELETE', '/api/v1/devices/dev1/observations/nope'), 404);
    expect(ports.commands.commands).toHaveLength(0);
  });
});

describe('GET .../values', () => {
  it('returns the latest values in path order with when they arrived', async () => {
    await ports.values.put(
      'dev1',
      [
        { path: '/3303/0/5700', value: 22.5, type: 'float', time: 1735732800 },
        { path: '/3/0/9', value: 80, type: 'integer' },
      ],
      Date.UTC(2025, 0, 1, 12, 0, 0),
    );
    const r = await api.call('GET', '/api/v1/devices/dev1/values');
    expect(r.status).toBe(200);
    expect(r.body.items).toEqual([
      {
        path: '/3/0/9',
        value: 80,
        type: 'integer',
        receivedAt: '2025-01-01T12:00:00.000Z',
        changedAt: '2025-01-01T12:00:00.000Z',
      },
      {
        path: '/3303/0/5700',
        value: 22.5,
        type: 'float',
        time: 1735732800,
        receivedAt: '2025-01-01T12:00:00.000Z',
        changedAt: '2025-01-01T12:00:00.000Z',
      },
    ]);
    expectProblem(await api.call('GET', '/api/v1/devices/ghost/values'), 404);
  });
});

describe('Composite operations', () => {
  it('reads several paths at once', async () => {
    ports.commands.handler = ok({
      contentFormat: 112,
      values: [{ path: '/3/0/9', value: 80, type: 'integer' }],
    });
    const r = await api.call('POST', '/api/v1/devices/dev1/composite/read', {
      body: { paths: ['/3/0/9', '3303/0'] },
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      paths: ['/3/0/9', '/3303/0'],
      values: [{ path: '/3/0/9', value: 80, type: 'integer', name: 'Battery Level', unit: '/100' }],
      contentFormat: 112,
    });
    expect(ports.commands.last).toMatchObject({ op: 'read-composite', paths: ['/3/0/9', '/3303/0'] });
  });

  it('writes several resources at once', async () => {
    const r = await api.call('PUT', '/api/v1/devices/dev1/composite?format=senml-cbor', {
      body: {
        values: [
          { path: '/1/0/1', value: 120 },
          { path: '/3/0/14', value: '+01' },
        ],
      },
    });
    expect(r.status).toBe(204);
    expect(ports.commands.last).toMatchObject({
      op: 'write-composite',
      contentFormat: 112,
      values: [
        { path: '/1/0/1', value: 120, type: 'unsigned' },
        { path: '/3/0/14', value: '+01', type: 'string' },
      ],
    });
  });

  it('refuses composite values without a path', async () => {
    expectProblem(
      await api.call('PUT', '/api/v1/devices/dev1/composite', { body: { values: [{ value: 1 }] } }),
      400,
    );
  });
});

describe('Errors outside the routes', () => {
  it('answers an unknown route with a 404 problem', async () => {
    expectProblem(await api.call('GET', '/api/v1/nothing-here'), 404);
    expectProblem(await api.call('POST', '/api/v1/devices/dev1/data/3/0/1'), 404);
  });
});
