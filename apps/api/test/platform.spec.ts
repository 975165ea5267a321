// What surrounds the routes: the OpenAPI document, health probes, API keys and roles.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakePorts, registration } from './fakes';
import { startApi, type TestApi } from './harness';

describe('OpenAPI document', () => {
  const ports = fakePorts();
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(ports);
  });
  afterAll(() => api.close());

  it('lists every route of the api with its method', async () => {
    const r = await api.call('GET', '/api/docs-json');
    expect(r.status).toBe(200);
    const routes = Object.entries(r.body.paths as Record<string, object>).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(routes.sort()).toEqual(
      [
        'GET /api/v1/devices',
        'GET /api/v1/devices/{endpoint}',
        'GET /metrics',
        'DELETE /api/v1/devices/{endpoint}',
        'GET /api/v1/devices/{endpoint}/data/{path}',
        'PUT /api/v1/devices/{endpoint}/data/{path}',
        'DELETE /api/v1/devices/{endpoint}/data/{path}',
        'POST /api/v1/devices/{endpoint}/data/{path}/execute',
        'POST /api/v1/devices/{endpoint}/data/{objectId}',
        'GET /api/v1/devices/{endpoint}/discover/{path}',
        'PUT /api/v1/devices/{endpoint}/attributes/{path}',
        'POST /api/v1/devices/{endpoint}/observations',
        'POST /api/v1/events/token',
        'GET /api/v1/devices/{endpoint}/observations',
        'GET /api/v1/devices/{endpoint}/observations/{id}',
        'DELETE /api/v1/devices/{endpoint}/observations/{id}',
        'GET /api/v1/devices/{endpoint}/values',
        'PUT /api/v1/devices/{endpoint}/credentials',
        'GET /api/v1/devices/{endpoint}/credentials',
        'DELETE /api/v1/devices/{endpoint}/credentials',
        'PUT /api/v1/bootstrap/configs/{endpoint}',
        'GET /api/v1/bootstrap/configs/{endpoint}',
        'DELETE /api/v1/bootstrap/configs/{endpoint}',
        'POST /api/v1/devices/{endpoint}/bootstrap-trigger',
        'POST /api/v1/devices/{endpoint}/composite/read',
        'PUT /api/v1/devices/{endpoint}/composite',
        'GET /api/v1/devices/{endpoint}/requests',
        'DELETE /api/v1/devices/{endpoint}/requests',
        'DELETE /api/v1/devices/{endpoint}/requests/{id}',
        'GET /api/v1/requests/{id}',
        'DELETE /api/v1/requests/{id}',
        'GET /api/v1/events',
        'GET /api/v1/cluster/nodes',
        'GET /api/v1/audit',
        'POST /api/v1/groups',
        'GET /api/v1/groups',
        'GET /api/v1/groups/{name}',
        'DELETE /api/v1/groups/{name}',
        'POST /api/v1/groups/{name}/{op}',
        'GET /api/v1/group-requests',
        'GET /api/v1/group-requests/{id}',
        'GET /api/v1/group-requests/{id}/members/{endpoint}',
        'DELETE /api/v1/group-requests/{id}',
        'GET /api/v1/group-requests/{id}/events',
        'POST /api/v1/models',
        'GET /api/v1/models',
        'GET /api/v1/models/{id}',
        'POST /api/v1/firmware',
        'GET /api/v1/firmware',
        'GET /api/v1/firmware/{id}',
        'DELETE /api/v1/firmware/{id}',
        'GET /api/v1/firmware/{id}/content',
        'POST /api/v1/devices/{endpoint}/firmware',
        'GET /api/v1/devices/{endpoint}/firmware',
        'POST /api/v1/campaigns',
        'GET /api/v1/campaigns',
        'GET /api/v1/campaigns/{id}',
        'GET /api/v1/campaigns/{id}/devices',
        'GET /api/v1/campaigns/{id}/log',
        'POST /api/v1/campaigns/{id}/pause',
        'POST /api/v1/campaigns/{id}/resume',
        'POST /api/v1/campaigns/{id}/cancel',
        'GET /healthz',
        'GET /readyz',
      ].sort(),
    );
    const read = r.body.paths['/api/v1/devices/{endpoint}/data/{path}'].get;
    expect(read.parameters.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(['endpoint', 'path', 'format', 'timeout']),
    );
    expect(read.responses['504'].content['application/problem+json']).toBeDefined();
    expect(r.body.components.schemas).toHaveProperty('ProblemDto');
    // A model upload is XML; reads carry the resource's name and unit.
    const upload = r.body.paths['/api/v1/models'].post;
    expect(Object.keys(upload.requestBody.content).sort()).toEqual(['application/xml', 'text/xml']);
    expect(Object.keys(upload.responses)).toEqual(
      expect.arrayContaining(['201', '400', '403', '409', '413']),
    );
    expect(r.body.components.schemas.ReadValueDto.properties).toHaveProperty('unit');
    // A firmware upload is a raw stream.
    const fw = r.body.paths['/api/v1/firmware'].post;
    expect(Object.keys(fw.requestBody.content)).toEqual(['application/octet-stream']);
  });

  it('serves the interactive docs at /api/docs', async () => {
    const r = await api.call('GET', '/api/docs');
    expect(r.status).toBe(200);
    expect(r.text).toContain('swagger');
  });
});

describe('health probes', () => {
  const ports = fakePorts();
  let up = true;
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi({
      ...ports,
      ping: async () => {
        if (!up) throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
        return 'PONG';
      },
    });
  });
  afterAll(() => api.close());

  it('answers /healthz while the process serves', async () => {
    up = false;
    const r = await api.call('GET', '/healthz');
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('ok');
  });

  it('answers /readyz 200 when every store answers ping', async () => {
    up = true;
    const r = await api.call('GET', '/readyz');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'ok', info: { backend: { status: 'up' } } });
  });

  it('answers /readyz 503 problem+json naming the store that does not answer', async () => {
    up = false;
    const r = await api.call('GET', '/readyz');
    expect(r.status).toBe(503);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(r.body).toMatchObject({
      type: 'urn:lwm2m-cluster:problem:not-ready',
      status: 503,
      checks: { backend: { status: 'down', message: 'connect ECONNREFUSED 127.0.0.1:6379' } },
    });
  });
});

describe('API keys', () => {
  const ports = fakePorts();
  let api: TestApi;
  const ADMIN = 'admin-key-0123456789';
  const READER = 'reader-key-0123456789';
  beforeAll(async () => {
    await ports.registrations.register(registration('dev1'));
    api = await startApi(ports, { apiKeys: `${ADMIN}:admin, ${READER}:read` });
  });
  afterAll(() => api.close());
  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

  it('answers 401 problem+json with WWW-Authenticate without a key', async () => {
    const r = await api.call('GET', '/api/v1/devices');
    expect(r.status).toBe(401);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(r.headers.get('www-authenticate')).toBe('Bearer');
    expect(r.body.type).toBe('urn:lwm2m-cluster:problem:unauthorized');
  });

  it('answers 401 for an unknown key and never echoes it', async () => {
    const r = await api.call('GET', '/api/v1/devices', { headers: bearer('not-a-key-at-all') });
    expect(r.status).toBe(401);
    expect(r.text).not.toContain('not-a-key-at-all');
  });

  it('lets the read role GET but not change anything', async () => {
    expect((await api.call('GET', '/api/v1/devices', { headers: bearer(READER) })).status).toBe(200);
    const r = await api.call('PUT', '/api/v1/devices/dev1/data/1/0/1', {
      headers: bearer(READER),
      body: { value: 60 },
    });
    expect(r.status).toBe(403);
    expect(r.body.type).toBe('urn:lwm2m-cluster:problem:forbidden');
    expect(ports.commands.commands).toHaveLength(0);
  });

  it('lets the admin role write', async () => {
    ports.commands.handler = (cmd) => ({ id: cmd.id, ok: true, status: 204 });
    const r = await api.call('PUT', '/api/v1/devices/dev1/data/1/0/1', {
      headers: bearer(ADMIN),
      body: { value: 60 },
    });
    expect(r.status).toBe(204);
  });

  it('guards the event stream too', async () => {
    expect((await api.call('GET', '/api/v1/events')).status).toBe(401);
  });

  it('keeps the health probes and the docs open', async () => {
    expect((await api.call('GET', '/healthz')).status).toBe(200);
    expect((await api.call('GET', '/readyz')).status).toBe(200);
    expect((await api.call('GET', '/api/docs-json')).status).toBe(200);
  });

  it('refuses a malformed API_KEYS at start without printing the key', async () => {
    await expect(startApi(fakePorts(), { apiKeys: 'short:admin' })).rejects.toThrow(
      /entry 1: a key needs at least 8/,
    );
    await expect(startApi(fakePorts(), { apiKeys: 'long-enough-key:root' })).rejects.toThrow(
      /^(?!.*long-enough-key).*role must be/,
    );
  });
});
