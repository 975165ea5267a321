// Issue 15 item 3 acceptance: fleet group operations through REST against the whole product (private
// redis-server, gateway on real UDP, api, scheduler). 1,000 simulated devices (DeviceFleet, one UDP socket
// each, in this process) answer a group read of /3/0/0 with one result each, naming its endpoint; a group
// write to 100 devices, 10 of them asleep in queue mode, completes when they wake; a cancelled group
// request stops dispatching and cancels the queued requests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet, type SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { QueuedRequests, validateSchedulerConfig } from '@lwm2m/scheduler';
import { RedisGroupStore } from '@lwm2m/groups';
import { createApiApp } from '../../apps/api/src/create-api-app';
import { startTestServer, type TestServer } from '../support/single-node';
import { openSse } from '../support/sse';
import { QUEUE_ENV, queueDevice, sleep, waitUntil } from '../scheduler/support';

const FLEET = 1000;

interface Progress {
  pending: number;
  inFlight: number;
  queued: number;
  succeeded: number;
  failed: number;
  timedOut: number;
  cancelled: number;
}
interface Result {
  endpoint: string;
  state: string;
  values?: Array<{ path: string; value: unknown }>;
  requestId?: string;
  error?: string;
}
interface GroupRequest {
  id: string;
  state: string;
  total: number;
  progress: Progress;
  results: Result[];
  nextOffset: number;
}

let server: TestServer;
let fleet: DeviceFleet;
const sleepers: SimulatedDevice[] = [];

beforeAll(async () => {
  server = await startTestServer({ scheduler: validateSchedulerConfig(QUEUE_ENV) });
  fleet = new DeviceFleet({
    prefix: 'fleet',
    count: FLEET,
    ratePerSecond: 400,
    server: { address: '127.0.0.1', port: server.coapPort },
    lwm2mVersion: '1.1',
    lifetime: 600,
    sensorIntervalMs: 0,
    observeTickMs: 60_000,
    createTransport: () => UdpTransport.bind({ port: 0, address: '127.0.0.1' }),
  });
  const started = await fleet.start();
  expect(started.failed).toBe(0);
}, 60_000);

afterAll(async () => {
  await fleet?.stop();
  await Promise.all(sleepers.map((d) => d.close()));
  await server?.stop();
});

async function finished(id: string, timeoutMs = 30_000): Promise<GroupRequest> {
  return waitUntil(
    `group request ${id} to finish`,
    async () => {
      const r = (await server.api<GroupRequest>('GET', `/api/v1/group-requests/${id}?limit=1`)).body;
      return r.state === 'completed' || r.state === 'cancelled' ? r : undefined;
    },
    timeoutMs,
    100,
  );
}

async function allResults(id: string): Promise<Result[]> {
  const out: Result[] = [];
  for (let offset = 0; ;) {
    const page = (
      await server.api<GroupRequest>('GET', `/api/v1/group-requests/${id}?offset=${offset}&limit=1000`)
    ).body;
    out.push(...page.results);
    if (page.results.length === 0) return out;
    offset = page.nextOffset;
  }
}

describe('fleet group operations', () => {
  it('reads /3/0/0 across 1,000 devices: 1,000 results, each naming its endpoint, paged and streamed', async () => {
    expect(
      (await server.api('POST', '/api/v1/groups', { name: 'fleet', filter: { q: 'fleet-' } })).status,
    ).toBe(201);
    const started = await server.api<GroupRequest>('POST', '/api/v1/groups/fleet/read', {
      path: '/3/0/0',
      rate: 2000,
      maxInFlight: 200,
      deadline: '50s',
    });
    expect(started.status).toBe(202);
    expect(started.headers.get('location')).toBe(`/api/v1/group-requests/${started.body.id}`);
    expect(started.body.total).toBe(FLEET);
    const sse = await openSse(`${server.http}/api/v1/group-requests/${started.body.id}/events`);
    try {
      const done = await finished(started.body.id, 50_000);
      expect(done.progress).toMatchObject({
        succeeded: FLEET,
        failed: 0,
        timedOut: 0,
        pending: 0,
        inFlight: 0,
      });
      const results = await allResults(started.body.id);
      expect(results).toHaveLength(FLEET);
      const names = new Set(results.map((r) => r.endpoint));
      expect(names.size).toBe(FLEET);
      for (let i = 1; i <= FLEET; i++) expect(names.has(`fleet-${i}`)).toBe(true);
      expect(results.every((r) => r.state === 'succeeded' && r.values?.[0]?.path === '/3/0/0')).toBe(true);
      expect(results[0]!.values![0]!.value).toBe('Open Mobile Alliance');
      // The stream: one "result" event per device (ids are result indexes), then "end".
      const [end] = await sse.waitFor((e) => e.event === 'end', 1, 20_000);
      const streamed = sse.events.filter((e) => e.event === 'result');
      expect(streamed).toHaveLength(FLEET);
      expect(new Set(streamed.map((e) => (JSON.parse(e.data) as Result).endpoint)).size).toBe(FLEET);
      expect(streamed.at(-1)!.id).toBe(String(FLEET - 1));
      expect((JSON.parse(end!.data) as GroupRequest).state).toBe('completed');
      // The list of requests (on Redis): this one, by its group and state, with its progress.
      const listed = await server.api<{ items: GroupRequest[]; nextCursor: string | null }>(
        'GET',
        '/api/v1/group-requests?group=fleet&state=completed',
      );
      expect(listed.status).toBe(200);
      expect(listed.body.items.map((r) => r.id)).toEqual([started.body.id]);
      expect(listed.body.items[0]!.progress).toMatchObject({ succeeded: FLEET });
      expect(listed.body.nextCursor).toBeNull();
    } finally {
      sse.close();
    }
  }, 60_000);

  it('writes to a group of 100 with 10 queue-mode devices asleep: completes when they wake', async () => {
    const asleep: SimulatedDevice[] = [];
    for (let i = 1; i <= 10; i++) {
      const d = await queueDevice(server, `sleeper-${i}`);
      sleepers.push(d);
      await d.register();
      d.sleep();
      asleep.push(d);
    }
    await sleep(1100); // AWAKE_WINDOW_MS = 1000: silent longer than that, they are asleep
    const written: string[] = [];
    for (const d of asleep) d.on('write', (w) => written.push(`${d.endpointName} ${w.path}`));
    const endpoints = [
      ...Array.from({ length: 90 }, (_, i) => `fleet-${i + 1}`),
      ...asleep.map((d) => d.endpointName),
    ];
    expect((await server.api('POST', '/api/v1/groups', { name: 'hundred', endpoints })).status).toBe(201);
    const started = await server.api<GroupRequest>('POST', '/api/v1/groups/hundred/write', {
      path: '/3/0/15',
      value: 'Europe/Paris',
      deadline: '2m',
    });
    expect(started.status).toBe(202);
    const id = started.body.id;
    const parked = await waitUntil('90 answers and 10 queued', async () => {
      const r = (await server.api<GroupRequest>('GET', `/api/v1/group-requests/${id}`)).body;
      return r.progress.succeeded === 90 && r.progress.queued === 10 ? r : undefined;
    });
    expect(parked.state).toBe('running');
    expect(written).toEqual([]); // nothing reached a sleeping device
    const member = await server.api<Result>('GET', `/api/v1/group-requests/${id}/members/sleeper-3`);
    expect(member.body.state).toBe('queued');
    expect(
      (await server.api<{ state: string }>('GET', `/api/v1/requests/${member.body.requestId}`)).body.state,
    ).toBe('queued');

    await Promise.all(asleep.map((d) => d.wakeUp()));
    const done = await finished(id);
    expect(done.state).toBe('completed');
    expect(done.progress).toMatchObject({ succeeded: 100, queued: 0, failed: 0 });
    expect(written.sort()).toEqual(asleep.map((d) => `${d.endpointName} /3/0/15`).sort());
    const results = await allResults(id);
    expect(new Set(results.map((r) => r.endpoint))).toEqual(new Set(endpoints));
  }, 60_000);

  it('stops a cancelled group request: no more dispatch, queued requests cancelled', async () => {
    // Slowly (20 devices per second) across the 1,000, plus two sleeping devices.
    const two = sleepers.slice(0, 2);
    for (const d of two) d.sleep();
    await sleep(1100);
    const endpoints = [
      ...two.map((d) => d.endpointName),
      ...Array.from({ length: 600 }, (_, i) => `fleet-${i + 1}`),
    ];
    expect((await server.api('POST', '/api/v1/groups', { name: 'slow', endpoints })).status).toBe(201);
    const started = await server.api<GroupRequest>('POST', '/api/v1/groups/slow/read', {
      path: '/3/0/0',
      rate: 20,
      maxInFlight: 5,
    });
    const id = started.body.id;
    const queued = await waitUntil('the sleepers queued', async () => {
      const r = (await server.api<GroupRequest>('GET', `/api/v1/group-requests/${id}`)).body;
      return r.progress.queued === 2 && r.progress.succeeded >= 5 ? r : undefined;
    });
    expect(queued.state).toBe('running');
    const member = (
      await server.api<Result>('GET', `/api/v1/group-requests/${id}/members/${two[0]!.endpointName}`)
    ).body;

    const cancel = await server.api<GroupRequest>('DELETE', `/api/v1/group-requests/${id}`);
    expect(cancel.status).toBe(200);
    const done = await finished(id);
    expect(done.state).toBe('cancelled');
    const answered = done.progress.succeeded;
    expect(answered).toBeLessThan(100);
    expect(done.progress.cancelled).toBe(602 - answered - done.progress.failed);
    expect(done.progress.pending + done.progress.queued + done.progress.inFlight).toBe(0);
    // The sleeper's queued request is cancelled too: waking it delivers nothing.
    expect(
      (await server.api<{ state: string }>('GET', `/api/v1/requests/${member.requestId}`)).body.state,
    ).toBe('cancelled');
    // Nothing more is sent after the cancel.
    await sleep(500);
    const later = (await server.api<GroupRequest>('GET', `/api/v1/group-requests/${id}`)).body;
    expect(later.progress).toEqual(done.progress);
    expect((await server.api('DELETE', `/api/v1/group-requests/${id}`)).status).toBe(409);
  }, 60_000);

  it('times out, at the deadline, members that did not answer (Multicast-Timeout at fleet level)', async () => {
    const d = sleepers[2]!;
    d.sleep();
    await sleep(1100);
    await server.api('POST', '/api/v1/groups', { name: 'late', endpoints: [d.endpointName, 'fleet-1'] });
    const started = await server.api<GroupRequest>('POST', '/api/v1/groups/late/read', {
      path: '/3/0/0',
      deadline: '2s',
    });
    const done = await finished(started.body.id, 10_000);
    expect(done.progress).toMatchObject({ succeeded: 1, timedOut: 1 });
    const member = (
      await server.api<Result>('GET', `/api/v1/group-requests/${started.body.id}/members/${d.endpointName}`)
    ).body;
    expect(member.state).toBe('timed-out');
  }, 30_000);
  it('survives a restart of the api: another api takes the request over from Redis and finishes it', async () => {
    const endpoints = Array.from({ length: 100 }, (_, i) => `fleet-${i + 101}`);
    expect((await server.api('POST', '/api/v1/groups', { name: 'restart', endpoints })).status).toBe(201);
    const started = await server.api<GroupRequest>('POST', '/api/v1/groups/restart/read', {
      path: '/3/0/0',
      rate: 40,
      maxInFlight: 4,
    });
    const id = started.body.id;
    await waitUntil('some answers', async () => {
      const r = (await server.api<GroupRequest>('GET', `/api/v1/group-requests/${id}`)).body;
      return r.progress.succeeded >= 10 ? r : undefined;
    });
    await server.node.api.close(); // the api that accepted it stops (its runner releases the lease)
    const stores = server.node.stores;
    const second = await createApiApp(
      {
        ...stores,
        requests: new QueuedRequests({
          store: server.node.requests,
          events: stores.events,
          awakeWindowMs: 1000,
          defaultTtlMs: 60_000,
          maxTtlMs: 60_000,
        }),
        groups: new RedisGroupStore(stores.redis, { keyPrefix: stores.keys.prefix }),
      },
      { logger: false, shutdownHooks: false, docs: false },
    );
    await second.listen(0, '127.0.0.1');
    try {
      const base = `http://127.0.0.1:${(second.getHttpServer().address() as { port: number }).port}`;
      const get = async (): Promise<GroupRequest> =>
        (await fetch(`${base}/api/v1/group-requests/${id}?limit=1000`)).json() as Promise<GroupRequest>;
      const done = await waitUntil(
        'the second api to finish it',
        async () => {
          const r = await get();
          return r.state === 'completed' ? r : undefined;
        },
        30_000,
        100,
      );
      expect(done.total).toBe(100);
      // Answers lost with the first api (at most its maxInFlight) fail as "outcome unknown"; none is sent twice.
      expect(done.progress.failed).toBeLessThanOrEqual(4);
      expect(done.progress.succeeded + done.progress.failed).toBe(100);
      expect(new Set(done.results.map((r) => r.endpoint))).toEqual(new Set(endpoints));
    } finally {
      await second.close();
    }
  }, 60_000);
});
