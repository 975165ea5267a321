// The api's multicast groups (README "Group operations"): POST /api/v1/groups/{name}/read|write|execute|
// observe on a group of kind multicast goes once to the group address through the in-process group proxy
// (libs/group-proxy: a NON request, the group request's deadline as T'), and every server that answers adds
// one result named by its address (Reply-From), in the same store, paging and SSE as device groups.
// Servers: the `coap` npm package, each in its own network namespace (group-net.ts), joined to one group.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/single-node';
import { createGroupNet, type GroupNet } from './group-net';

const SERVERS = 3;
const SCRIPT = join(__dirname, 'coap-npm-device.mjs');

interface Result {
  endpoint: string;
  state: string;
  status?: number;
  coapCode?: string;
  contentFormat?: number;
  payload?: string;
  at: string;
}
interface GroupRequestBody {
  id: string;
  state: string;
  total: number;
  progress: Record<string, number>;
  results: Result[];
  nextOffset: number;
}

let net: GroupNet;
let servers: ChildProcess[] = [];
const seen: string[][] = [];
let server: TestServer;

const until = async <T>(what: string, fn: () => Promise<T | undefined>, ms = 10_000): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

beforeAll(async () => {
  net = createGroupNet(SERVERS);
  servers = net.serverAddrs.map((_, i) =>
    net.spawnIn(i, process.execPath, [SCRIPT, net.groupAddr, `s${i}`], { cwd: join(__dirname, '../..') }),
  );
  await Promise.all(
    servers.map(
      (s, i) =>
        new Promise<void>((resolve, reject) => {
          seen[i] = [];
          s.stdout!.on('data', (d: Buffer) => {
            for (const line of d.toString().split('\n').filter(Boolean)) {
              if (line === 'ready') resolve();
              else seen[i].push(line);
            }
          });
          s.once('exit', (code) => reject(new Error(`coap npm server exited ${code}`)));
        }),
    ),
  );
  // Requests leave from the bridge's address: the servers answer it unicast, each from its own address.
  server = await startTestServer({ groups: { multicast: { interface: net.hostAddr } } });
  const g = await server.api('POST', '/api/v1/groups', {
    name: 'floor',
    multicast: { address: net.groupAddr, port: 5683 },
  });
  expect(g.status).toBe(201);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  net?.destroy();
});

/** Starts a group operation and waits until the request finished (its deadline passed). */
async function run(op: string, body: Record<string, unknown>): Promise<GroupRequestBody> {
  const started = await server.api<GroupRequestBody>('POST', `/api/v1/groups/floor/${op}`, body);
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  expect(started.headers.get('location')).toBe(`/api/v1/group-requests/${started.body.id}`);
  return until(`${op} to finish`, async () => {
    const r = await server.api<GroupRequestBody>(
      'GET',
      `/api/v1/group-requests/${started.body.id}?limit=100`,
    );
    return r.body.state === 'completed' ? r.body : undefined;
  });
}

const addressOf = (i: number) => `coap://${net.serverAddrs[i]}:5683`;

describe('multicast groups through the api', () => {
  it('read: one result per server, named by its address, paged and streamed', async () => {
    const r = await run('read', { path: '/3/0/0', deadline: '2s' });
    expect(r.total).toBe(SERVERS);
    expect(r.progress.succeeded).toBe(SERVERS);
    expect(r.results.map((x) => x.endpoint).sort()).toEqual([0, 1, 2].map(addressOf).sort());
    for (const x of r.results) {
      const i = net.serverAddrs.findIndex((a) => x.endpoint === `coap://${a}:5683`);
      // The payload each server gave names it: the result is keyed by the server that answered.
      expect(x).toMatchObject({ state: 'succeeded', status: 200, coapCode: '2.05', contentFormat: 0 });
      expect(x.payload).toBe(`s${i}`);
    }
    // Sent once to the group: each server saw exactly one GET.
    for (let i = 0; i < SERVERS; i++)
      expect(seen[i].filter((l) => l.startsWith('GET /3/0/0'))).toHaveLength(1);
    const page = await server.api<GroupRequestBody>('GET', `/api/v1/group-requests/${r.id}?offset=1&limit=1`);
    expect(page.body.results).toHaveLength(1);
    expect(page.body.results[0].endpoint).toBe(r.results[1].endpoint);
    expect(page.body.nextOffset).toBe(2);
    const one = await server.api<Result>(
      'GET',
      `/api/v1/group-requests/${r.id}/members/${encodeURIComponent(addressOf(1))}`,
    );
    expect(one.body.payload).toBe('s1');
    const sse = await (await fetch(`${server.http}/api/v1/group-requests/${r.id}/events`)).text();
    expect(sse.match(/event: result/g)).toHaveLength(SERVERS);
    expect(sse).toContain('event: end');
  }, 20_000);

  it('write and execute go to every server as one NON request each (PUT with SenML JSON, POST)', async () => {
    const w = await run('write', { path: '/3/0/15', value: 'Europe/Paris', deadline: '2s' });
    expect(w.total).toBe(SERVERS);
    expect(w.results.every((x) => x.state === 'succeeded' && x.coapCode === '2.04')).toBe(true);
    for (let i = 0; i < SERVERS; i++) {
      const puts = seen[i].filter((l) => l.startsWith('PUT /3/0/15 '));
      expect(puts).toHaveLength(1);
      expect(JSON.parse(puts[0].slice('PUT /3/0/15 '.length))).toEqual([
        expect.objectContaining({ vs: 'Europe/Paris' }),
      ]);
    }
    const x = await run('execute', { path: '/3/0/4', deadline: '2s' });
    expect(x.results.map((m) => [m.state, m.coapCode])).toEqual(Array(SERVERS).fill(['succeeded', '2.04']));
    for (let i = 0; i < SERVERS; i++)
      expect(seen[i].filter((l) => l.startsWith('POST /3/0/4'))).toHaveLength(1);
  }, 20_000);

  it('observe: each server registration answers one result; an error answer is a failed result', async () => {
    const o = await run('observe', { path: '/3/0/0', deadline: '2s' });
    expect(o.total).toBe(SERVERS);
    expect(o.results.map((m) => m.payload).sort()).toEqual(['s0', 's1', 's2']);
    const missing = await run('read', { path: '/3/0/9', deadline: '1s' });
    expect(missing.total).toBe(SERVERS);
    expect(missing.progress.failed).toBe(SERVERS);
    expect(missing.results.every((m) => m.coapCode === '4.04' && m.status === 404)).toBe(true);
  }, 20_000);

  it('cancel ends the collection early: the request is cancelled with what came', async () => {
    const started = await server.api<GroupRequestBody>('POST', '/api/v1/groups/floor/read', {
      path: '/3/0/0',
      deadline: '60s',
    });
    expect(started.status).toBe(202);
    await until('the answers', async () => {
      const r = await server.api<GroupRequestBody>('GET', `/api/v1/group-requests/${started.body.id}`);
      return r.body.total === SERVERS ? r : undefined;
    });
    expect((await server.api('DELETE', `/api/v1/group-requests/${started.body.id}`)).status).toBe(200);
    const done = await until('cancelled', async () => {
      const r = await server.api<GroupRequestBody>('GET', `/api/v1/group-requests/${started.body.id}`);
      return r.body.state === 'cancelled' ? r.body : undefined;
    });
    expect(done.progress.succeeded).toBe(SERVERS);
  }, 20_000);

  it('keeps at most GROUP_MAX_MEMBERS results per request (memory mode: the in-memory store)', async () => {
    const small = await startTestServer({
      memory: true,
      groups: { multicast: { interface: net.hostAddr }, limits: { maxMembers: 2 } },
    });
    try {
      await small.api('POST', '/api/v1/groups', { name: 'floor', multicast: { address: net.groupAddr } });
      const started = await small.api<GroupRequestBody>('POST', '/api/v1/groups/floor/read', {
        path: '/3/0/0',
        deadline: '2s',
      });
      expect(started.status).toBe(202);
      const done = await until('the capped read', async () => {
        const r = await small.api<GroupRequestBody>('GET', `/api/v1/group-requests/${started.body.id}`);
        return r.body.state === 'completed' ? r.body : undefined;
      });
      expect(done.total).toBe(2);
      expect(done.results).toHaveLength(2);
    } finally {
      await small.stop();
    }
  }, 20_000);
});
