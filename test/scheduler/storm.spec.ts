// Issue 5 acceptance: a registration storm. 5,000 simulated clients (a child process, one UDP socket each)
// register within 10 s; 200 of them come back from a new address (no CID) with an observation to re-establish,
// which the scheduler smooths at DELIVERY_RATE_PER_S. All must register, none dropped; the api's latency under
// the storm is printed (p50/p99 of GET /api/v1/devices/{endpoint}), not asserted.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, expect, it } from 'vitest';
import { SimulatedDevice } from '@lwm2m/simulator';
import { UdpTransport } from '@lwm2m/udp';
import { type QueueServer, sleep, startQueueServer, waitUntil } from './support';

const COUNT = 5000;
const RATE = 500; // per second: 5,000 in 10 s
const RETURNING = 200;
const DELIVERY_RATE = 50;

let server: QueueServer | undefined;
afterAll(async () => {
  await server?.stop();
});

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

it('registers 5,000 devices arriving in 10 s, drops none, and keeps the api responsive', async () => {
  server = await startQueueServer({ env: { DELIVERY_RATE_PER_S: String(DELIVERY_RATE) } });
  const s = server;

  // Before the outage: RETURNING devices, each observed by an operator.
  const before: SimulatedDevice[] = [];
  for (let i = 1; i <= RETURNING; i++) {
    const d = new SimulatedDevice({
      endpoint: `storm-${i}`,
      transport: await UdpTransport.bind({ port: 0, address: '127.0.0.1' }),
      server: { address: '127.0.0.1', port: s.coapPort },
      lifetime: 600,
      sensorIntervalMs: 0,
    });
    await d.register();
    before.push(d);
  }
  await Promise.all(
    before.map(async (d) => {
      const r = await s.api('POST', `/api/v1/devices/${d.endpointName}/observations`, {
        paths: ['/3303/0/5700'],
      });
      expect(r.status).toBe(201);
    }),
  );
  await Promise.all(before.map((d) => d.close())); // the outage: they vanish without de-registering

  // The storm, from another process.
  const fleet = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'test/scheduler/storm-fleet.ts',
      String(s.coapPort),
      String(COUNT),
      String(RATE),
      'storm',
    ],
    { cwd: resolve(__dirname, '../..'), stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const result = new Promise<{ started: number; failed: number; elapsedMs: number; failures: string[] }>(
    (ok, fail) => {
      createInterface({ input: fleet.stdout! }).once('line', (line) => ok(JSON.parse(line)));
      fleet.once('exit', (code) => fail(new Error(`fleet exited with ${code}`)));
    },
  );
  const began = Date.now();

  // An operator keeps reading devices during the storm.
  const latencies: number[] = [];
  let storming = true;
  const probes = Array.from({ length: 4 }, async () => {
    while (storming) {
      const ep = `storm-${1 + Math.floor(Math.random() * RETURNING)}`;
      const t = performance.now();
      const r = await fetch(`${s.http}/api/v1/devices/${ep}`);
      await r.arrayBuffer();
      latencies.push(performance.now() - t);
      expect(r.status).toBe(200);
      await sleep(20);
    }
  });

  const fleetResult = await result;
  const registeredAt = Date.now() - began;
  storming = false;
  await Promise.all(probes);

  // Every device registered: count them through the api.
  let listed = 0;
  let cursor: string | undefined;
  do {
    const page = await s.api<{ items: unknown[]; nextCursor: string | null }>(
      'GET',
      `/api/v1/devices?q=storm-&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    listed += page.body.items.length;
    cursor = page.body.nextCursor ?? undefined;
  } while (cursor);

  // The follow-up work: RETURNING re-observations, smoothed at DELIVERY_RATE per second.
  const reobserved = await waitUntil(
    'every observation re-established',
    async () => {
      const n = await s.node.stores.redis.hlen(s.node.stores.keys.obsIdIndex);
      return n >= RETURNING ? n : undefined;
    },
    40_000,
    250,
  );
  const followUpMs = Date.now() - began;
  fleet.stdin!.end();
  await new Promise((r) => fleet.once('exit', r));

  latencies.sort((a, b) => a - b);
  console.log(
    [
      `storm: ${fleetResult.started}/${COUNT} registered in ${fleetResult.elapsedMs} ms (fleet), ${registeredAt} ms (test), failed ${fleetResult.failed}`,
      `api under the storm: ${latencies.length} GET /api/v1/devices/{endpoint}, p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${latencies[latencies.length - 1]?.toFixed(1)} ms`,
      `follow-up: ${reobserved} observations re-established ${followUpMs} ms after the storm began (DELIVERY_RATE_PER_S=${DELIVERY_RATE})`,
    ].join('\n'),
  );
  expect(fleetResult.failures).toEqual([]);
  expect(fleetResult.started).toBe(COUNT);
  expect(listed).toBe(COUNT);
  expect(latencies.length).toBeGreaterThan(0);
}, 120_000);
