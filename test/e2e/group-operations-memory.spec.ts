// Group operations in memory mode (npm start without Redis): the same routes, group requests kept in the
// api's memory, queued members delivered by the in-process scheduler.
import { afterAll, expect, it } from 'vitest';
import type { SimulatedDevice } from '@lwm2m/simulator';
import { validateSchedulerConfig } from '@lwm2m/scheduler';
import { startTestServer, type TestServer } from '../support/single-node';
import type { MemoryNodeStores } from '../../apps/server/src/memory-node';
import { QUEUE_ENV, queueDevice, sleep, waitUntil } from '../scheduler/support';

let server: TestServer<MemoryNodeStores> | undefined;
const devices: SimulatedDevice[] = [];

afterAll(async () => {
  await Promise.all(devices.map((d) => d.close()));
  await server?.stop();
});

it('reads across a group in memory mode, a sleeping queue-mode member included once it wakes', async () => {
  server = await startTestServer({ memory: true, scheduler: validateSchedulerConfig(QUEUE_ENV) });
  const s = server;
  for (let i = 1; i <= 5; i++) {
    const d = await queueDevice(s, `mem-${i}`, { queueMode: i === 5 });
    devices.push(d);
    await d.register();
  }
  devices[4]!.sleep();
  await sleep(1100); // AWAKE_WINDOW_MS = 1000
  expect((await s.api('POST', '/api/v1/groups', { name: 'mem', filter: { q: 'mem-' } })).status).toBe(201);
  const started = await s.api<{ id: string; total: number }>('POST', '/api/v1/groups/mem/read', {
    path: '/3/0/0',
  });
  expect(started.status).toBe(202);
  expect(started.body.total).toBe(5);
  type Req = { state: string; progress: Record<string, number>; results: Array<{ endpoint: string }> };
  await waitUntil('four answers and one queued', async () => {
    const r = (await s.api<Req>('GET', `/api/v1/group-requests/${started.body.id}`)).body;
    return r.progress.succeeded === 4 && r.progress.queued === 1 ? r : undefined;
  });
  await devices[4]!.wakeUp();
  const done = await waitUntil('the request to complete', async () => {
    const r = (await s.api<Req>('GET', `/api/v1/group-requests/${started.body.id}`)).body;
    return r.state === 'completed' ? r : undefined;
  });
  expect(done.progress.succeeded).toBe(5);
  expect(done.results.map((r) => r.endpoint).sort()).toEqual(['mem-1', 'mem-2', 'mem-3', 'mem-4', 'mem-5']);
}, 30_000);
