// GATEWAY_WORKERS=2 (issue 12 item 4) on the compiled gateway, as an operator runs it: one process, two
// worker threads sharing its UDP ports, the api as its own process, one Redis. 20 NoSec devices and 10 DTLS
// PSK devices with Connection IDs register; then
//  - a REST read reaches every device, each on the worker that holds it (no worker takes a session of
//    another over), and observations deliver notifications;
//  - a DTLS device changing its source port (NAT rebinding) keeps its session: no new handshake;
//  - /metrics sums both workers' counters;
//  - one worker thread is killed: it is restarted, and its devices carry on (the DTLS sessions are taken back
//    from Redis with no handshake);
//  - POST /drain writes the sessions back and releases the lease; SIGTERM stops the workers cleanly.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workerOfCid } from '@lwm2m/cluster';
import { DtlsClient } from '@lwm2m/dtls';
import { createRedisStores, type RedisStores } from '@lwm2m/registry';
import { SimulatedDevice } from '@lwm2m/simulator';
import type { DatagramTransport } from '@lwm2m/transport';
import { addressWorker, UdpTransport } from '@lwm2m/udp';
import { type ApiProc, type GatewayProc, startApi, startGateway } from '../support/cluster';
import { stableUdpPort } from '../support/ports';
import { type RedisHandle, startRedis } from '../support/redis';

const NOSEC = 20;
const SECURE = 10;

interface Device {
  ep: string;
  sim: SimulatedDevice;
  udp: UdpTransport;
  dtls?: DtlsClient;
}

let redis: RedisHandle;
let stores: RedisStores;
let gateway: GatewayProc;
let api: ApiProc;
let coapPort: number;
const devices: Device[] = [];
const received = new Map<string, number>();
const abort = new AbortController();

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${gateway.metricsPort}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+(?:\\.\\d+)?)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

const secure = () => devices.filter((d) => d.dtls !== undefined);
const handshakes = () => secure().reduce((n, d) => n + d.dtls!.counters.handshakesCompleted, 0);
const server = () => ({ address: '127.0.0.1', port: gateway.coapsPort });

/** The worker a device's datagrams go to: its CID's for DTLS, its address's for NoSec. */
function workerOf(d: Device): number {
  if (d.dtls) return workerOfCid(d.dtls.session(server())!.peerCid!)!;
  return addressWorker('127.0.0.1', d.udp.address().port, 2);
}

async function readAll(list = devices): Promise<number[]> {
  return Promise.all(
    list.map(async (d) => (await api.api('GET', `/api/v1/devices/${d.ep}/data/3/0/0?timeout=8s`)).status),
  );
}

/** Steps every sensor and waits until each device's notifications reached the event stream. */
async function notificationsArrive(list = devices): Promise<number> {
  const want = new Map(list.map((d) => [d.ep, (received.get(d.ep) ?? 0) + 1]));
  for (const d of list) d.sim.stepSensors();
  const missing = () => [...want].filter(([ep, n]) => (received.get(ep) ?? 0) < n).length;
  const deadline = Date.now() + 10_000;
  while (missing() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return missing();
}

beforeAll(async () => {
  redis = await startRedis();
  stores = createRedisStores(redis.url);
  coapPort = await stableUdpPort();
  gateway = await startGateway({
    redisUrl: redis.url,
    name: 'gw-1',
    env: {
      GATEWAY_WORKERS: '2',
      COAP_NOSEC: 'true',
      COAP_PORT: String(coapPort),
      GATEWAY_TEST_HOOKS: '1',
    },
  });
  api = await startApi(redis.url);
  void (async () => {
    try {
      for await (const e of stores.events.subscribe({ afterId: '0-0', signal: abort.signal }))
        if (e.type === 'notification') received.set(e.endpoint, (received.get(e.endpoint) ?? 0) + 1);
    } catch {
      // aborted
    }
  })();
  const sim = (ep: string, transport: DatagramTransport, port: number) =>
    new SimulatedDevice({
      endpoint: ep,
      transport,
      server: { address: '127.0.0.1', port },
      lifetime: 600,
      lwm2mVersion: '1.1',
      updateAt: 0,
      sensorIntervalMs: 0,
      observeTickMs: 100,
      requestTimeoutMs: 20_000,
    });
  await Promise.all(
    Array.from({ length: NOSEC }, async (_, i) => {
      const ep = `wk-nosec-${i}`;
      const udp = await UdpTransport.bind({ port: 0, address: '127.0.0.1' });
      const d = { ep, udp, sim: sim(ep, udp, coapPort) };
      await d.sim.start();
      devices.push(d);
    }),
  );
  await Promise.all(
    Array.from({ length: SECURE }, async (_, i) => {
      const ep = `wk-dtls-${i}`;
      const key = randomBytes(16);
      const put = await api.api('PUT', `/api/v1/devices/${ep}/credentials`, {
        psk: { identity: ep, key: key.toString('hex') },
      });
      if (put.status >= 300) throw new Error(`credentials of ${ep}: ${put.status}`);
      const udp = await UdpTransport.bind({ port: 0, address: '127.0.0.1' });
      const dtls = new DtlsClient({ transport: udp, psk: { identity: ep, key }, connectionId: true });
      const d = { ep, udp, dtls, sim: sim(ep, dtls, gateway.coapsPort) };
      await d.sim.start();
      devices.push(d);
    }),
  );
  for (const d of devices) {
    const r = await api.api('POST', `/api/v1/devices/${d.ep}/observations`, { paths: ['/3303/0/5700'] });
    if (r.status !== 201) throw new Error(`observe ${d.ep}: ${r.status} ${JSON.stringify(r.body)}`);
  }
}, 120_000);

afterAll(async () => {
  abort.abort();
  await Promise.all(devices.map((d) => d.sim.close().catch(() => undefined)));
  await api?.kill();
  await gateway?.kill('SIGKILL');
  await stores?.close();
  await redis?.stop();
}, 30_000);

describe('a gateway process with GATEWAY_WORKERS=2', () => {
  it('announces its worker threads and spreads the devices over both', () => {
    expect(gateway.output()).toMatch(/gateway ready: .*2 worker threads/);
    const perWorker = [0, 0];
    for (const d of devices) perWorker[workerOf(d)]!++;
    expect(perWorker[0]).toBeGreaterThan(0);
    expect(perWorker[1]).toBeGreaterThan(0);
    // every DTLS CID names this node's worker that did the handshake (layout version 2)
    for (const d of secure()) expect(d.dtls!.session(server())!.peerCid![0]).toBe(2);
    expect(handshakes()).toBe(SECURE);
  });

  it('runs a REST read on the worker holding each device, and observations notify', async () => {
    expect(await readAll()).toEqual(devices.map(() => 200));
    expect(await notificationsArrive()).toBe(0);
    // No command made a worker take over a session another worker holds.
    expect(await metric('dtls_session_takeovers_total')).toBe(0);
    expect(handshakes()).toBe(SECURE);
  });

  it('sums both workers in /metrics', async () => {
    // Each worker holds only some of the sessions; the process reports them all (counters posted every second).
    await expect.poll(() => metric('dtls_sessions'), { timeout: 5000 }).toBe(SECURE);
    await expect
      .poll(() => metric('coap_notifications_total'), { timeout: 5000 })
      .toBeGreaterThanOrEqual(devices.length);
    await expect.poll(() => metric('dtls_handshakes_total'), { timeout: 5000 }).toBe(SECURE);
  });

  it('keeps a DTLS session through a NAT rebinding, on its worker, with no new handshake', async () => {
    for (const d of secure().slice(0, 4)) {
      const before = workerOf(d);
      const old = d.udp;
      d.udp = await UdpTransport.bind({ port: 0, address: '127.0.0.1' });
      // RFC 9146 section 6: the next record from the new port authenticates and moves the session's peer.
      d.dtls!.setTransport(d.udp);
      await old.close();
      expect(await notificationsArrive([d])).toBe(0);
      expect(await readAll([d])).toEqual([200]);
      expect(workerOf(d)).toBe(before);
    }
    expect(handshakes()).toBe(SECURE);
    expect(await metric('dtls_session_takeovers_total')).toBe(0);
  });

  it('survives a worker thread killed: it restarts and its devices carry on, sessions back from Redis', async () => {
    const victims = devices.filter((d) => workerOf(d) === 0);
    expect(victims.length).toBeGreaterThan(0);
    // A session's latest address reaches Redis within a second (SessionKeeper flush); a crash inside that
    // second leaves the old one there until the device's next record, as after a node's SIGKILL.
    await new Promise((r) => setTimeout(r, 1500));
    const res = await fetch(`http://127.0.0.1:${gateway.metricsPort}/test/workers/0/crash`, {
      method: 'POST',
    });
    expect(res.status).toBe(200);
    // The restarted worker answers again (a read of one of its devices), then every device is served.
    await expect
      .poll(async () => (await readAll([victims[0]!]))[0], { timeout: 15_000, interval: 500 })
      .toBe(200);
    expect(await readAll()).toEqual(devices.map(() => 200));
    expect(await notificationsArrive()).toBe(0);
    // No DTLS device shook hands again: the dead worker's sessions came back from Redis.
    expect(handshakes()).toBe(SECURE);
    const securedVictims = victims.filter((d) => d.dtls).length;
    if (securedVictims > 0)
      await expect.poll(() => metric('dtls_session_takeovers_total'), { timeout: 5000 }).toBe(securedVictims);
    expect(gateway.child.exitCode).toBeNull();
    const ready = await fetch(`http://127.0.0.1:${gateway.metricsPort}/readyz`);
    expect(ready.status).toBe(200);
  }, 60_000);

  it('drains on POST /drain: the sessions written back, the lease released, readiness off', async () => {
    const res = await fetch(`http://127.0.0.1:${gateway.metricsPort}/drain`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${gateway.metricsPort}/readyz`)).status).toBe(503);
    expect((await stores.membership.live()).map((n) => n.id)).not.toContain(1);
    for (const d of secure()) {
      const cid = d.dtls!.session(server())!.peerCid!.toString('hex');
      expect(await stores.sessions.owner(cid)).toBe(1);
    }
    // A drained node still serves what it holds until it stops (nothing in flight is lost).
    expect(await readAll(secure().slice(0, 2))).toEqual([200, 200]);
  });

  it('stops cleanly on SIGTERM with every DTLS session written back to Redis', async () => {
    const t0 = Date.now();
    await gateway.kill('SIGTERM');
    // Nest's shutdown hooks re-raise the signal once everything is closed: no worker left hanging.
    expect(gateway.child.exitCode === 0 || gateway.child.signalCode === 'SIGTERM').toBe(true);
    expect(Date.now() - t0).toBeLessThan(10_000);
    for (const d of secure()) {
      const cid = d.dtls!.session(server())!.peerCid!.toString('hex');
      expect(await stores.sessions.owner(cid)).toBe(1);
    }
  }, 30_000);
});

describe('GATEWAY_WORKERS=2 without a cluster (Redis, no CLUSTER_KEY)', () => {
  it('issues CIDs naming the worker, and runs every read on the worker holding the device', async () => {
    const port = await stableUdpPort();
    const gw = await startGateway({
      redisUrl: redis.url,
      name: 'solo-7',
      env: { GATEWAY_WORKERS: '2', CLUSTER_KEY: '', COAP_NOSEC: 'true', COAP_PORT: String(port) },
    });
    const mine: Device[] = [];
    try {
      expect(gw.output()).not.toContain('cluster link');
      for (let i = 0; i < 6; i++) {
        const ep = `wk-solo-${i}`;
        const udp = await UdpTransport.bind({ port: 0, address: '127.0.0.1' });
        let dtls: DtlsClient | undefined;
        if (i % 2 === 1) {
          const key = randomBytes(16);
          const put = await api.api('PUT', `/api/v1/devices/${ep}/credentials`, {
            psk: { identity: ep, key: key.toString('hex') },
          });
          expect(put.status).toBeLessThan(300);
          dtls = new DtlsClient({ transport: udp, psk: { identity: ep, key }, connectionId: true });
        }
        const sim = new SimulatedDevice({
          endpoint: ep,
          transport: dtls ?? udp,
          server: { address: '127.0.0.1', port: dtls ? gw.coapsPort : port },
          lifetime: 600,
          updateAt: 0,
          requestTimeoutMs: 20_000,
        });
        await sim.start();
        mine.push({ ep, sim, udp, ...(dtls ? { dtls } : {}) });
      }
      for (const d of mine.filter((x) => x.dtls)) {
        const cid = d.dtls!.session({ address: '127.0.0.1', port: gw.coapsPort })!.peerCid!;
        expect(cid[0]).toBe(2); // layout version 2: node, worker
        expect(cid.readUInt16BE(1)).toBe(7); // the node id from NODE_ID's number
        expect(cid[3]).toBeLessThan(2);
      }
      const statuses = await Promise.all(
        mine.map(async (d) => (await api.api('GET', `/api/v1/devices/${d.ep}/data/3/0/0?timeout=8s`)).status),
      );
      expect(statuses).toEqual(mine.map(() => 200));
    } finally {
      await Promise.all(mine.map((d) => d.sim.close().catch(() => undefined)));
      await gw.kill('SIGTERM');
    }
  }, 60_000);
});
