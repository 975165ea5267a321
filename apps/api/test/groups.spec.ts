// /api/v1/groups from an attacker's side: roles (a read key defines nothing and runs nothing), group names,
// filters that try to be patterns or carry more than a substring, member lists past the bound, multicast
// groups (501 when the api sends no multicast, GROUP_MULTICAST=off), bad paths and ids; every refusal is RFC 9457 problem+json.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fakePorts, registration } from './fakes';
import { startApi, type TestApi } from './harness';
import { validateApiConfig } from '../src/config';

const ADMIN = 'admin-key-0123456789';
const WRITER = 'write-key-0123456789';
const READER = 'read-key-01234567890';
const as = (key: string) => ({ authorization: `Bearer ${key}` });

describe('group operations: input and rights', () => {
  const ports = fakePorts();
  let api: TestApi;
  beforeAll(async () => {
    for (const ep of ['dev-1', 'dev-2', 'other-1']) await ports.registrations.register(registration(ep));
    ports.commands.handler = (cmd) => ({
      id: cmd.id,
      ok: true,
      status: cmd.op === 'read' ? 200 : cmd.op === 'observe' ? 201 : 204,
      ...(cmd.op === 'observe' ? { observationId: `obs-${cmd.endpoint}` } : {}),
      ...(cmd.op === 'read'
        ? { values: [{ path: cmd.path!, value: cmd.endpoint, type: 'string' as const }] }
        : {}),
    });
    api = await startApi(ports, {
      apiKeys: `ops=${ADMIN}:admin,ci=${WRITER}:write,viewer=${READER}:read`,
      groups: { limits: { maxEndpoints: 50, maxMembers: 2, maxGroups: 20 }, multicast: false },
    });
  });
  afterAll(() => api.close());

  const post = (path: string, body: unknown, key = WRITER) =>
    api.call('POST', path, { body, headers: as(key) });

  function isProblem(
    r: { status: number; headers: Headers; body: { status?: number; type?: string } },
    status: number,
  ) {
    expect(r.status).toBe(status);
    expect(r.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(r.body.status).toBe(status);
    expect(typeof r.body.type).toBe('string');
  }

  it('lets a read key list and look, but neither define a group nor run an operation on one', async () => {
    expect((await post('/api/v1/groups', { name: 'devs', filter: { q: 'dev-' } })).status).toBe(201);
    isProblem(await post('/api/v1/groups', { name: 'mine', filter: { q: '' } }, READER), 403);
    isProblem(await post('/api/v1/groups/devs/write', { path: '/3/0/15', value: 'x' }, READER), 403);
    isProblem(await post('/api/v1/groups/devs/read', { path: '/3/0/0' }, READER), 403);
    isProblem(await api.call('DELETE', '/api/v1/groups/devs', { headers: as(READER) }), 403);
    isProblem(await api.call('GET', '/api/v1/groups'), 401);
    const list = await api.call('GET', '/api/v1/groups', { headers: as(READER) });
    expect(list.status).toBe(200);
    expect(list.body.items).toEqual([
      expect.objectContaining({ name: 'devs', kind: 'filter', filter: { q: 'dev-' }, createdBy: 'ci' }),
    ]);
  });

  it('refuses group names that are not one plain segment', async () => {
    for (const name of ['', '../x', 'a b', 'a/b', '{x}', '-lead', 'x'.repeat(65), 'é', 'a\nb']) {
      isProblem(await post('/api/v1/groups', { name, filter: { q: 'dev' } }), 400);
    }
    isProblem(await post('/api/v1/groups', { name: 42, filter: { q: 'dev' } }), 400);
    isProblem(
      await api.call('GET', `/api/v1/groups/${encodeURIComponent('../etc')}`, { headers: as(READER) }),
      400,
    );
    isProblem(await post('/api/v1/groups', { name: 'devs', filter: { q: 'dev-' } }), 409);
  });

  it('takes exactly one kind, and a filter only as a literal substring of the endpoint', async () => {
    isProblem(await post('/api/v1/groups', { name: 'both', filter: { q: 'a' }, endpoints: ['a'] }), 400);
    isProblem(await post('/api/v1/groups', { name: 'none' }), 400);
    isProblem(await post('/api/v1/groups', { name: 'f1', filter: { q: 'dev', role: 'admin' } }), 400);
    isProblem(await post('/api/v1/groups', { name: 'f2', filter: { q: { $ne: '' } } }), 400);
    isProblem(await post('/api/v1/groups', { name: 'f3', filter: ['dev'] }), 400);
    isProblem(await post('/api/v1/groups', { name: 'f4', owner: 'someone-else', filter: { q: 'dev' } }), 400);
    // "*" and "?" are characters, not patterns: this group has no member.
    expect((await post('/api/v1/groups', { name: 'star', filter: { q: '*' } })).status).toBe(201);
    const r = await post('/api/v1/groups/star/read', { path: '/3/0/0' });
    expect(r.status).toBe(202);
    expect(r.body.total).toBe(0);
  });

  it('bounds member lists and the devices a filter may reach', async () => {
    const many = Array.from({ length: 51 }, (_, i) => `ep-${i}`);
    isProblem(await post('/api/v1/groups', { name: 'big', endpoints: many }), 413);
    isProblem(await post('/api/v1/groups', { name: 'bad-ep', endpoints: ['ok', 'has space'] }), 400);
    isProblem(await post('/api/v1/groups', { name: 'bad-ep2', endpoints: ['ok', 7] }), 400);
    isProblem(await post('/api/v1/groups', { name: 'empty', endpoints: [] }), 400);
    // The body limit stops a list long before it is parsed.
    const huge = await api.call('POST', '/api/v1/groups', {
      raw: JSON.stringify({
        name: 'huge',
        endpoints: Array.from({ length: 200_000 }, (_, i) => `endpoint-${i}`),
      }),
      headers: as(WRITER),
    });
    isProblem(huge, 413);
    // maxMembers 2: a filter matching three devices is refused before anything is sent.
    expect((await post('/api/v1/groups', { name: 'all', filter: { q: '' } })).status).toBe(201);
    const sent = ports.commands.commands.length;
    isProblem(await post('/api/v1/groups/all/read', { path: '/3/0/0' }), 413);
    expect(ports.commands.commands.length).toBe(sent);
  });

  it('validates multicast groups; with GROUP_MULTICAST=off their requests answer 501', async () => {
    isProblem(await post('/api/v1/groups', { name: 'mc0', multicast: { address: '10.0.0.1' } }), 400);
    isProblem(
      await post('/api/v1/groups', { name: 'mc1', multicast: { address: '239.255.0.1', port: 70000 } }),
      400,
    );
    isProblem(await post('/api/v1/groups', { name: 'mc2', multicast: { address: 'evil.example' } }), 400);
    const ok = await post('/api/v1/groups', { name: 'mc', multicast: { address: '239.255.0.1' } });
    expect(ok.status).toBe(201);
    expect(ok.body.multicast).toEqual({ address: '239.255.0.1', port: 5683 });
    expect(
      (await post('/api/v1/groups', { name: 'mc6', multicast: { address: 'ff05::fd', port: 5683 } })).status,
    ).toBe(201);
    isProblem(await post('/api/v1/groups/mc/read', { path: '/3/0/0' }), 501);
  });

  it('checks operations, paths, values, limits and ids', async () => {
    isProblem(await post('/api/v1/groups/devs/delete', { path: '/3/0' }), 404);
    isProblem(await post('/api/v1/groups/nope/read', { path: '/3/0/0' }), 404);
    isProblem(await post('/api/v1/groups/devs/read', { path: '/3/x' }), 400);
    isProblem(await post('/api/v1/groups/devs/read', {}), 400);
    isProblem(await post('/api/v1/groups/devs/read', { path: '/3/0/0', value: 1 }), 400);
    isProblem(await post('/api/v1/groups/devs/write', { path: '/3/0/15' }), 400);
    isProblem(await post('/api/v1/groups/devs/write', { path: '/3/0/0', value: 'x' }), 400); // read-only resource
    isProblem(await post('/api/v1/groups/devs/execute', { path: '/3/0/0' }), 400); // not executable
    isProblem(await post('/api/v1/groups/devs/read', { path: '/3/0/0', deadline: 'forever' }), 400);
    isProblem(await post('/api/v1/groups/devs/read', { path: '/3/0/0', rate: 0 }), 400);
    isProblem(await post('/api/v1/groups/devs/read', { path: '/3/0/0', rate: 50_000 }), 400);
    isProblem(await api.call('GET', '/api/v1/group-requests/not-a-uuid', { headers: as(READER) }), 400);
    isProblem(
      await api.call('GET', '/api/v1/group-requests/00000000-0000-0000-0000-000000000000', {
        headers: as(READER),
      }),
      404,
    );
    isProblem(
      await api.call('DELETE', '/api/v1/group-requests/00000000-0000-0000-0000-000000000000', {
        headers: as(WRITER),
      }),
      404,
    );
  });

  it('runs a group read for a write key: one result per member, each with its endpoint, audited', async () => {
    const r = await post('/api/v1/groups/devs/read', { path: '/3/0/0' });
    expect(r.status).toBe(202);
    expect(r.body.total).toBe(2);
    let done: { state: string; results: Array<{ endpoint: string; values: Array<{ value: unknown }> }> };
    for (;;) {
      done = (await api.call('GET', `/api/v1/group-requests/${r.body.id}`, { headers: as(READER) })).body;
      if (done.state === 'completed') break;
      await new Promise((ok) => setTimeout(ok, 20));
    }
    expect(done.results.map((m) => m.endpoint).sort()).toEqual(['dev-1', 'dev-2']);
    expect(done.results.every((m) => m.values[0]!.value === m.endpoint)).toBe(true);
    isProblem(await api.call('DELETE', `/api/v1/group-requests/${r.body.id}`, { headers: as(WRITER) }), 409);
    const audit = await api.call('GET', '/api/v1/audit?limit=100', { headers: as(ADMIN) });
    const actions = (
      audit.body.items as Array<{ action: string; actor: string; details?: Record<string, unknown> }>
    ).filter((e) => e.action.startsWith('group-'));
    expect(actions).toContainEqual(
      expect.objectContaining({
        action: 'group-operation',
        actor: 'ci',
        details: expect.objectContaining({ group: 'devs', op: 'read' }),
      }),
    );
  });

  it('resumes a group request\'s SSE after Last-Event-ID "<result>" or "<result>.<notification>", refuses others', async () => {
    const r = await post('/api/v1/groups/devs/read', { path: '/3/0/0' });
    expect(r.status).toBe(202);
    const url = `/api/v1/group-requests/${r.body.id}`;
    while ((await api.call('GET', url, { headers: as(READER) })).body.state !== 'completed') {
      await new Promise((ok) => setTimeout(ok, 20));
    }
    for (const id of ['x', '1.', '.1', '1.2.3', '-1', '1.x', '1 2', '1234567890', '0.1234567890']) {
      isProblem(
        await api.call('GET', `${url}/events`, { headers: { ...as(READER), 'Last-Event-ID': id } }),
        400,
      );
    }
    const all = await api.call('GET', `${url}/events`, { headers: as(READER) });
    expect([...all.text.matchAll(/^id: (.*)$/gm)].map((m) => m[1])).toEqual(['0', '1']);
    for (const id of ['0', '0.3']) {
      const rest = await api.call('GET', `${url}/events`, {
        headers: { ...as(READER), 'Last-Event-ID': id },
      });
      expect(rest.status).toBe(200);
      expect(rest.text.match(/event: result/g)).toHaveLength(1);
      expect(rest.text).toContain('event: end');
    }
  });

  it('observes across a group: each result carries the observation id of its device', async () => {
    const r = await post('/api/v1/groups/devs/observe', { path: '/3/0/9' });
    expect(r.status).toBe(202);
    let done: { state: string; results: Array<{ endpoint: string; observationId?: string }> };
    for (;;) {
      done = (await api.call('GET', `/api/v1/group-requests/${r.body.id}`, { headers: as(READER) })).body;
      if (done.state === 'completed') break;
      await new Promise((ok) => setTimeout(ok, 20));
    }
    expect(done.results.map((m) => [m.endpoint, m.observationId]).sort()).toEqual([
      ['dev-1', 'obs-dev-1'],
      ['dev-2', 'obs-dev-2'],
    ]);
    expect(ports.commands.last).toMatchObject({ op: 'observe', path: '/3/0/9' });
    const metrics = await api.call('GET', '/metrics');
    expect(metrics.text).toMatch(/^group_members_dispatched_total [1-9]\d*$/m);
    expect(metrics.text).toMatch(/^group_member_results_total\{state="succeeded"\} [1-9]\d*$/m);
  });
});

describe('the list of group requests', () => {
  const ports = fakePorts();
  let api: TestApi;
  const started: Record<'ga' | 'gb', string[]> = { ga: [], gb: [] };
  interface Listed {
    id: string;
    group: string;
    state: string;
    createdAt: string;
    total: number;
    progress: Record<string, number>;
  }
  beforeAll(async () => {
    for (const ep of ['dev-1', 'dev-2']) await ports.registrations.register(registration(ep));
    ports.commands.handler = (cmd) => ({ id: cmd.id, ok: true, status: 200, values: [] });
    api = await startApi(ports, { apiKeys: `ci=${WRITER}:write,viewer=${READER}:read` });
    const w = as(WRITER);
    for (const [name, endpoints] of [
      ['ga', ['dev-1', 'dev-2']],
      ['gb', ['dev-1']],
    ] as const) {
      expect(
        (await api.call('POST', '/api/v1/groups', { body: { name, endpoints }, headers: w })).status,
      ).toBe(201);
    }
    for (const g of ['ga', 'gb', 'ga', 'ga', 'gb', 'ga', 'ga'] as const) {
      const r = await api.call('POST', `/api/v1/groups/${g}/read`, { body: { path: '/3/0/0' }, headers: w });
      expect(r.status).toBe(202);
      started[g].push(r.body.id as string);
    }
    await vi.waitFor(
      async () => {
        const r = await api.call('GET', '/api/v1/group-requests?state=completed&limit=100', {
          headers: as(READER),
        });
        expect(r.body.items).toHaveLength(7);
      },
      { timeout: 20_000, interval: 50 },
    );
  });
  afterAll(() => api.close());

  async function pages(query: string, key = READER): Promise<{ items: Listed[]; pages: number }> {
    const items: Listed[] = [];
    let cursor: string | null = null;
    for (let n = 1; n <= 20; n++) {
      const url = `/api/v1/group-requests?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const r = await api.call('GET', url, { headers: as(key) });
      expect(r.status).toBe(200);
      items.push(...(r.body.items as Listed[]));
      cursor = r.body.nextCursor as string | null;
      if (cursor === null) return { items, pages: n };
    }
    throw new Error('the pages never end');
  }

  it('pages every request, newest first, each with its progress, for a read key', async () => {
    const { items, pages: n } = await pages('limit=3');
    expect(n).toBe(3);
    expect(items.map((r) => r.id).sort()).toEqual([...started.ga, ...started.gb].sort());
    const times = items.map((r) => Date.parse(r.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    const a = items.find((r) => r.group === 'ga')!;
    expect(a).toMatchObject({ state: 'completed', total: 2, progress: { succeeded: 2, pending: 0 } });
  });

  it('filters by group and by state', async () => {
    const ga = await pages('group=ga&limit=2');
    expect(ga.items.map((r) => r.id).sort()).toEqual([...started.ga].sort());
    expect(ga.pages).toBe(3);
    expect((await pages('group=gb')).items.map((r) => r.id).sort()).toEqual([...started.gb].sort());
    expect((await pages('group=nothing')).items).toEqual([]);
    expect((await pages('state=running')).items).toEqual([]);
    expect((await pages('group=gb&state=completed&limit=1')).items).toHaveLength(2);
  });

  it('needs a key, and answers bad paging and filter values with a 400 problem', async () => {
    isListProblem(await api.call('GET', '/api/v1/group-requests'), 401);
    for (const q of [
      'cursor=nope',
      'cursor=123',
      `cursor=${encodeURIComponent('(000000000000001:x')}`,
      `cursor=${encodeURIComponent('000000000000001:a b')}`,
      `cursor=${'1'.repeat(15)}:${'x'.repeat(65)}`,
      'cursor=',
      'limit=0',
      'limit=501',
      'limit=ten',
      'state=done',
      'state=',
      'group=../x',
      `group=${'g'.repeat(65)}`,
      'group=-x',
      'group=ga&group=gb',
      'owner=me',
      'offset=2',
    ]) {
      isListProblem(await api.call('GET', `/api/v1/group-requests?${q}`, { headers: as(READER) }), 400, q);
    }
  });

  function isListProblem(
    r: { status: number; headers: Headers; body: { status?: number } },
    status: number,
    q = '',
  ) {
    expect(r.status, q).toBe(status);
    expect(r.headers.get('content-type'), q).toMatch(/application\/problem\+json/);
    expect(r.body.status, q).toBe(status);
  }
});

describe('multicast settings', () => {
  const env = (extra: Record<string, string>) => validateApiConfig(extra, { requireRedis: false });
  it('are on by default, off with GROUP_MULTICAST=off, and refuse bad values at start', () => {
    expect(env({}).GROUPS.multicast).toEqual({ interface: '0.0.0.0', ttl: 1 });
    expect(env({ GROUP_MULTICAST: 'off' }).GROUPS.multicast).toBe(false);
    expect(env({ GROUP_MULTICAST: 'false' }).GROUPS.multicast).toBe(false);
    expect(env({ GROUP_MULTICAST_INTERFACE: '10.1.2.3', GROUP_MULTICAST_TTL: '4' }).GROUPS.multicast).toEqual(
      {
        interface: '10.1.2.3',
        ttl: 4,
      },
    );
    expect(() => env({ GROUP_MULTICAST_INTERFACE: 'eth0; rm -rf' })).toThrow(/GROUP_MULTICAST_INTERFACE/);
    expect(() => env({ GROUP_MULTICAST: 'maybe' })).toThrow(/GROUP_MULTICAST must be on or off/);
    expect(() => env({ GROUP_MULTICAST_TTL: '0' })).toThrow(/GROUP_MULTICAST_TTL/);
  });
});
