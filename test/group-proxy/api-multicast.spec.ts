// The api's multicast groups (README "Group operations"): POST /api/v1/groups/{name}/read|write|execute|
// observe on a group of kind multicast goes once to the group address through the in-process group proxy
// (libs/group-proxy: a NON request, the group request's deadline as T'), and every server that answers adds
// one result named by its address (Reply-From), in the same store, paging and SSE as device groups.
// Servers: the `coap` npm package, each in its own network namespace (group-net.ts), joined to one group.
// Answers in LwM2M Content-Formats (encoded here with libs/lwm2m) come back as values, others as payload;
// a multicast observation's later notifications update each server's result and stream as SSE events.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ContentFormat, defaultObjectModelRegistry, getNodeCodec, Lwm2mPath } from '@lwm2m/lwm2m';
import { nodeFromJsonValues } from '@lwm2m/server';
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
  values?: Array<{ path: string; type: string; value: unknown }>;
  observe?: number;
  notifications?: number;
  error?: string;
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
  // Each server answers /3/0/0 (Manufacturer "Acme s<i>") in its own LwM2M Content-Format.
  for (let i = 0; i < SERVERS; i++)
    await tell(i, `answer ${FORMATS[i]} ${manufacturer(FORMATS[i], `Acme s${i}`)}`);
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
const indexOf = (endpoint: string) => net.serverAddrs.findIndex((a) => endpoint === `coap://${a}:5683`);

const models = defaultObjectModelRegistry();
const P300 = Lwm2mPath.parse('/3/0/0');
/** /3/0/0 (Manufacturer) = `value`, in Content-Format `cf`, as a device would answer it. */
const manufacturer = (cf: number, value: string): string =>
  getNodeCodec(cf)!
    .encode(nodeFromJsonValues([{ path: '/3/0/0', type: 'string', value }], P300, models), P300, models)
    .toString('hex');

/** A line to server i (coap-npm-device.mjs), once it acknowledged it. */
async function tell(i: number, line: string): Promise<void> {
  const before = seen[i].length;
  servers[i].stdin!.write(`${line}\n`);
  await until(`server ${i} to take "${line.slice(0, 20)}"`, async () =>
    seen[i].slice(before).includes(`ack ${line}`) ? true : undefined,
  );
}

/** Server i's /3/0/0 answer format: SenML JSON, TLV, text/plain. */
const FORMATS = [ContentFormat.SENML_JSON, ContentFormat.TLV, ContentFormat.TEXT];

describe('multicast groups through the api', () => {
  it('read: one result per server, named by its address, its LwM2M answer as values, paged and streamed', async () => {
    const r = await run('read', { path: '/3/0/0', deadline: '2s' });
    expect(r.total).toBe(SERVERS);
    expect(r.progress.succeeded).toBe(SERVERS);
    expect(r.results.map((x) => x.endpoint).sort()).toEqual([0, 1, 2].map(addressOf).sort());
    for (const x of r.results) {
      const i = indexOf(x.endpoint);
      // The manufacturer each server gave names it: the result is keyed by the server that answered, and
      // decoded from its Content-Format (SenML JSON, TLV, text/plain) as a device's Read is.
      expect(x).toMatchObject({
        state: 'succeeded',
        status: 200,
        coapCode: '2.05',
        contentFormat: FORMATS[i],
      });
      expect(x.values).toEqual([{ path: '/3/0/0', type: 'string', value: `Acme s${i}` }]);
      expect(x.payload).toBeUndefined();
      expect(x.error).toBeUndefined();
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
    expect(one.body.values).toEqual([{ path: '/3/0/0', type: 'string', value: 'Acme s1' }]);
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

  it('a non-LwM2M answer (link-format) stays a payload; an undecodable LwM2M one too, with an error', async () => {
    const r = await run('read', { path: '/3/0', deadline: '2s' });
    expect(r.total).toBe(SERVERS);
    for (const x of r.results) {
      expect(x).toMatchObject({ state: 'succeeded', contentFormat: 40, payload: '</3/0/0>,</3/0/15>' });
      expect(x.values).toBeUndefined();
      expect(x.error).toBeUndefined();
    }
    await tell(2, `answer ${ContentFormat.SENML_JSON} ${Buffer.from('[{"bn":').toString('hex')}`);
    try {
      const bad = await run('read', { path: '/3/0/0', deadline: '2s' });
      const x = bad.results.find((m) => indexOf(m.endpoint) === 2)!;
      expect(x).toMatchObject({ state: 'succeeded', contentFormat: 110, payload: '[{"bn":' });
      expect(x.error).toMatch(/undecodable/);
      expect(bad.results.filter((m) => m.values !== undefined)).toHaveLength(SERVERS - 1);
    } finally {
      await tell(2, `answer ${FORMATS[2]} ${manufacturer(FORMATS[2], 'Acme s2')}`);
    }
  }, 20_000);

  it('observe: each registration answer is a result, each later notification updates it and is an SSE event', async () => {
    const started = await server.api<GroupRequestBody>('POST', '/api/v1/groups/floor/observe', {
      path: '/3/0/0',
      deadline: '30s',
    });
    expect(started.status).toBe(202);
    const id = started.body.id;
    const first = await until('the registration answers', async () => {
      const r = await server.api<GroupRequestBody>('GET', `/api/v1/group-requests/${id}`);
      return r.body.total === SERVERS ? r.body : undefined;
    });
    expect(first.results.map((m) => m.values?.[0]?.value).sort()).toEqual(['Acme s0', 'Acme s1', 'Acme s2']);
    // Server 1 changes its value twice; a reordered (older) notification in between is ignored.
    const cf = ContentFormat.SENML_JSON;
    await tell(1, `notify ${cf} ${manufacturer(cf, 'Acme s1 v1')}`);
    await tell(1, `notify ${cf} ${manufacturer(cf, 'Acme s1 v2')}`);
    await tell(1, `stale ${cf} ${manufacturer(cf, 'Acme s1 stale')}`);
    await tell(1, `notify ${cf} ${manufacturer(cf, 'Acme s1 v3')}`);
    const member = `/api/v1/group-requests/${id}/members/${encodeURIComponent(addressOf(1))}`;
    const latest = await until('the third notification', async () => {
      const m = await server.api<Result>('GET', member);
      return m.body.notifications === 3 ? m.body : undefined;
    });
    expect(latest).toMatchObject({ state: 'succeeded', contentFormat: cf, notifications: 3 });
    expect(latest.values).toEqual([{ path: '/3/0/0', type: 'string', value: 'Acme s1 v3' }]);
    // The results page shows each server's result as of now; the others never notified.
    const now = await server.api<GroupRequestBody>('GET', `/api/v1/group-requests/${id}`);
    expect(now.body.total).toBe(SERVERS);
    expect(now.body.progress.succeeded).toBe(SERVERS);
    expect(
      now.body.results.map((m) => [indexOf(m.endpoint), m.values?.[0]?.value, m.notifications]).sort(),
    ).toEqual([
      [0, 'Acme s0', undefined],
      [1, 'Acme s1 v3', 3],
      [2, 'Acme s2', undefined],
    ]);
    // Counted on the api's /metrics: the notifications kept, the stale one ignored.
    const count = async (outcome: string) => {
      const metrics = await (await fetch(`${server.http}/metrics`)).text();
      const re = new RegExp(`^group_multicast_responses_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm');
      return Number(re.exec(metrics)?.[1] ?? 0);
    };
    expect(await count('notification')).toBeGreaterThanOrEqual(3);
    await until('the stale notification counted', async () =>
      (await count('ignored')) >= 1 ? true : undefined,
    );
    expect((await server.api('DELETE', `/api/v1/group-requests/${id}`)).status).toBe(200);
    const sse = await (await fetch(`${server.http}/api/v1/group-requests/${id}/events`)).text();
    expect(sse.match(/event: result/g)).toHaveLength(SERVERS);
    const notes = [...sse.matchAll(/id: (\S+)\nevent: notification\ndata: (.*)\n/g)].map((m) => ({
      id: m[1],
      ...(JSON.parse(m[2]) as Result),
    }));
    expect(notes.map((n) => [n.endpoint, n.values?.[0]?.value, n.notifications])).toEqual([
      [addressOf(1), 'Acme s1 v1', 1],
      [addressOf(1), 'Acme s1 v2', 2],
      [addressOf(1), 'Acme s1 v3', 3],
    ]);
    expect(sse).not.toContain('stale');
    expect(notes.map((n) => n.id)).toEqual([`${SERVERS - 1}.0`, `${SERVERS - 1}.1`, `${SERVERS - 1}.2`]);
    expect(sse).toContain('event: end');
    // Resumed after the first notification: the two after it, then the end.
    const resumed = await (
      await fetch(`${server.http}/api/v1/group-requests/${id}/events`, {
        headers: { 'last-event-id': `${SERVERS - 1}.0` },
      })
    ).text();
    expect(resumed).not.toContain('event: result');
    expect(resumed.match(/event: notification/g)).toHaveLength(2);
    expect(resumed).toContain('Acme s1 v3');
  }, 40_000);

  it('an error answer is a failed result', async () => {
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
