// The dashboard adds no way around the API's authorisation (issue 18): every route in the page's own route
// table (dashboard/src/routes.ts, the only routes its client can call) answers 401 without a key, and the page
// names no API route anywhere else.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakePorts, registration } from '../../apps/api/test/fakes';
import { startApi, type TestApi } from '../../apps/api/test/harness';
import { LWM2M_EVENT_TYPES } from '@lwm2m/server';
import { EVENT_TYPES } from '../../dashboard/src/event-types';
import { type RouteDef, ROUTES, routeUrl } from '../../dashboard/src/routes';

const SAMPLE = { endpoint: 'dev1', path: '3/0/15', objectId: 3, id: '1', name: 'g1', op: 'read' };
let api: TestApi;
let documented: Set<string>;

beforeAll(async () => {
  const ports = fakePorts();
  await ports.registrations.register(registration('dev1'));
  api = await startApi(ports, { apiKeys: 'ops=admin-key-0001:admin', dashboardDir: false });
  const doc = (await api.call('GET', '/api/docs-json')).body as {
    paths: Record<string, Record<string, unknown>>;
  };
  documented = new Set(
    Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    ),
  );
});
afterAll(() => api.close());

const routes = Object.entries(ROUTES) as Array<[string, RouteDef]>;

describe('every API route the dashboard uses', () => {
  it.each(routes.filter(([, r]) => !r.public))('%s answers 401 without a key', async (name, route) => {
    const url = routeUrl(name as keyof typeof ROUTES, SAMPLE);
    const hasBody = route.method === 'POST' || route.method === 'PUT';
    const r = await api.call(route.method, url, hasBody ? { body: {} } : {});
    const inThisBuild = documented.has(`${route.method} ${route.path}`);
    if (route.feature && !inThisBuild) {
      // A feature another branch builds is not mounted here: Nest's 404, never a 2xx.
      expect(r.status).toBe(404);
      return;
    }
    expect(inThisBuild, `${route.method} ${route.path} is in the OpenAPI document`).toBe(true);
    expect(r.status).toBe(401);
    expect(r.body.type).toBe('urn:lwm2m-cluster:problem:unauthorized');
  });

  it('the only public route is the one the api serves to Prometheus without a key', async () => {
    const open = routes.filter(([, r]) => r.public).map(([, r]) => `${r.method} ${r.path}`);
    expect(open).toEqual(['GET /metrics']);
    expect((await api.call('GET', '/metrics')).status).toBe(200);
  });

  it('the page names no API route outside its route table', () => {
    const src = resolve(__dirname, '../../dashboard/src');
    const files = readdirSync(src, { recursive: true })
      .map(String)
      .filter((f) => /\.tsx?$/.test(f) && f !== 'routes.ts');
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const text = readFileSync(join(src, f), 'utf8');
      expect(text, f).not.toMatch(/['"`]\/(api|metrics|healthz|readyz)\b/);
      // Only the client (api.ts) talks to the server, and only through the table.
      if (f !== 'api.ts') expect(text, f).not.toMatch(/\bfetch\(|new EventSource\(|XMLHttpRequest/);
    }
  });

  it('the page listens to every event type the api streams (no event silently missing from the live view)', () => {
    expect([...EVENT_TYPES].sort()).toEqual([...LWM2M_EVENT_TYPES].sort());
  });
});
